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
// latches to the first allowed source that sends to it; packets from other
// sources are dropped and counted. BYE, or no RTP for the configured
// timeout, ends the engagement.
//
// Access control: INVITEs from outside the allowed source networks get 403;
// with digest users configured, INVITEs must authenticate (401 challenge,
// 403 on a wrong password). Re-INVITEs (hold, stream changes, metadata
// updates) are answered within the dialog. Every refusal is logged with the
// Call-ID and counted by reason.
package sip
