// Package pool re-recognises utterances on a pool of Whisper-class
// servers (the whisper.cpp server's /inference, the OpenAI-compatible
// /v1/audio/transcriptions of faster-whisper and speaches), and combines
// it with a local streaming recogniser into the two-pass engine.
//
// Two-pass: the local recogniser (PocketSphinx) gives live partials and
// an immediate final for every utterance; when the voice activity
// detector closes the utterance, its audio goes to a server of the pool,
// and the final is replaced by the server's transcript when it comes
// (stt.Reviser). Live audio never waits on the pool: an utterance that
// finds no free server, a server that is slow, down or answers nonsense
// leaves the local final standing, and the reason is counted.
//
// The pool holds several servers, each with its own limit of requests in
// flight, a timeout, an active health check and a circuit breaker that
// stops sending to a failing server for a while; every decision is in
// the metrics (earshot_stt_pool_*). The servers are the site's own: they
// count as local models for the feature controls unless marked
// third_party.
package pool
