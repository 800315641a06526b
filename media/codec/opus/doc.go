// Package opus encodes 16-bit mono PCM as Opus (RFC 6716) through libopus
// (cgo, Debian libopus-dev at build time, libopus0 at run time). It is the
// sending half of Opus in Earshot: a voice bot's speech to a browser over
// WebRTC. Decoding stays with the pure-Go pion/opus decoder behind
// media/codec.
//
// An Encoder takes 20 ms frames at its input rate (8, 12, 16, 24 or 48 kHz:
// libopus codes the band the input has and the far end decodes at 48 kHz)
// and returns one packet per frame. RTP timestamps of Opus always count at
// 48 kHz (RFC 7587 section 4.1), whatever the input rate: ClockStep gives the
// increment per frame.
package opus
