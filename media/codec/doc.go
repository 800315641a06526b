// Package codec decodes the payloads the ingest protocols carry into 16-bit
// PCM: G.711 mu-law (PCMU) and A-law (PCMA) by table, linear 16-bit (L16 in
// network order, S16LE in little-endian) and Opus through the pure-Go
// github.com/pion/opus decoder. It also encodes G.711, which tests and the
// telephone-quality evaluation use.
package codec
