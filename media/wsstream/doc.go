// Package wsstream ingests call audio from WebSocket media streams, in the
// two formats telephony platforms already speak:
//
//   - Twilio Media Streams: JSON text messages "connected", "start" (stream
//     and call ids, tracks, custom parameters, media format), "media"
//     (base64 8 kHz mu-law with a track, chunk number and millisecond
//     timestamp), "mark", "dtmf" and "stop". Track inbound is the customer,
//     outbound the agent.
//   - Raw 16-bit little-endian linear PCM in binary messages, optionally
//     after one JSON metadata text message, as FreeSWITCH mod_audio_fork
//     and jambonz "listen" send: 8 or 16 kHz (up to 48 kHz), mono or two
//     interleaved channels (channel 0 the customer, 1 the agent).
//
// The format is detected from the first message (a JSON text message with
// an "event" member is Twilio; any other text message is metadata; a binary
// message is PCM) or forced with the query parameter format=twilio|pcm.
// Audio goes to the Engagement that the consumer's Opener returns, one Party
// per track or channel; the media pipeline decodes it, fills timestamp gaps
// and transcribes it.
//
// Bad input never ends the engagement's audio so far: an invalid message is
// counted and skipped, and a stream that sends too many, sends an oversized
// message or stalls is closed with a WebSocket close status saying why. A
// frame whose announced length takes its message over max_message_bytes is
// refused as soon as its header arrives (1009), before any payload. Only
// media (and the message that starts it) holds off the idle timeout:
// marks, DTMF and metadata do not. A stream also ends when its engagement
// ends on its own side (ingest.Ender, the daemon's hub: 1000) or when its
// request's context ends (the daemon ending it: 1008). The package does
// not authenticate: the daemon checks the ingest token first.
package wsstream
