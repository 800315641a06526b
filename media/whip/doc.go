// Package whip ingests call audio over WebRTC with the WebRTC-HTTP Ingestion
// Protocol (WHIP, RFC 9725).
//
// A client POSTs an SDP offer (Content-Type application/sdp) carrying one or
// two audio m-sections; the server answers 201 Created with the SDP answer and
// a Location naming the session. DELETE on the Location ends the session and
// the engagement's audio; PATCH with application/trickle-ice-sdpfrag adds
// remote ICE candidates. Only Opus, PCMU and PCMA are negotiated; video and
// data m-sections are rejected in the answer.
//
// Each audio track is mapped to a party (customer, agent, or mixed for a
// single-track call) and its RTP is decoded to 16-bit mono PCM: Opus straight
// to 16 kHz with github.com/pion/opus, G.711 at 8 kHz. Lost packets and DTX
// pauses are replaced by silence, so that the PCM timeline follows the RTP
// clock. The decoded audio goes to a Sink that the consumer (the engagement
// hub) supplies through an Opener; see Opener for the party-mapping rules.
//
// The package does not authenticate: the daemon checks the ingest bearer
// token before it hands a request to the Handler.
package whip
