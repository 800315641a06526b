// Package media turns call audio into transcripts: ingest protocols (WHIP,
// SIP/RTP with SIPREC, WebSocket streams, uploads), codecs, resampling to
// 16 kHz, voice activity detection and speech-to-text engines.
package media
