// Package sip ingests call audio over SIP: it is a SIPREC recording server
// (SRS, RFC 7865/7866) and a plain SIP user agent server for single-stream
// forks.
//
// A session recording client (a PBX or a session border controller) sends
// an INVITE with Require: siprec (or a Contact with +sip.src) whose
// multipart/mixed body carries an SDP offer, usually with two sendonly audio
// streams labelled a=label:, and application/rs-metadata+xml naming the
// participants and the streams each one sends. The server maps every
// participant to customer or agent with configurable rules on its address
// of record and name, answers with recvonly streams on UDP ports of a
// configured range, and feeds each stream's RTP to a Party of the
// engagement opened through an Opener. A plain INVITE with one audio stream
// is recorded as one party (mixed by default).
//
// RTP: PCMU and PCMA with any packet time; RTCP on the next port, or
// multiplexed, is counted and ignored; RFC 4733 telephone events become
// DTMF events (never transcript text); a small reorder buffer puts packets
// back in sequence; a change of SSRC (a new source after a failover) is
// rebased onto the previous stream's sequence and timestamps. A stream
// takes RTP only from the address and port its offer names (or, with
// rtp_source "latch", from the offer's address on the port of the first
// valid packet, latched once per offer); a failover to another media
// server comes with a re-INVITE naming it. Packets from anywhere else are
// dropped and counted. Port pairs are chosen at random in the range and
// return to it on every path, refusals included.
//
// Calls end with BYE, when their streams get no RTP for the configured
// timeout, when all their streams have been on hold for longer than the
// hold timeout (while on hold within it, the call keeps its engagement
// alive through ingest.Keeper), or when their engagement ends on its own
// side (ingest.Ender: the daemon's hub), the server then sending BYE.
//
// Access control: every request from outside the allowed source networks
// gets 403 (an ACK is dropped); with digest users configured, INVITEs must
// authenticate (401 challenge; one 403 for every wrong credential; each
// nonce count is good once, and the digest's uri must be the
// Request-URI). In-dialog requests (BYE, re-INVITE, UPDATE) must match the
// whole dialog: Call-ID, the server's To tag and the client's From tag.
// An INVITE may offer at most max_streams audio streams. SIP over TCP and
// TLS: connections from outside the allowed sources are closed on arrival,
// each source and all sources together hold a bounded number, a
// connection without traffic (and without a call in progress) is closed
// after tcp_idle_timeout, and a message larger than max_message_bytes is
// answered with 513 and its connection closed. Every refusal is logged
// with the Call-ID (never message contents) and counted by reason.
package sip
