// Package voice lets a virtual agent answer calls: the two-way audio seam
// between the protocols that carry a bot call (SIP, Twilio bidirectional
// Media Streams, WebRTC) and the runtime that listens, takes turns and
// speaks.
//
// A protocol that receives a call for a bot builds a Leg (its way of
// sending audio back) and asks an Opener for the call's engagement. It then
// feeds the caller's audio into that engagement exactly as it does for a
// listening call (ingest.Engagement.AddParty, the Sink, Close when the call
// ends), and passes telephone events through ingest.DTMFReceiver. Everything
// else (recognition, turn-taking, the bot, speech synthesis) is the
// runtime's.
package voice

import (
	"context"
	"errors"

	"github.com/earshot/earshot/media/ingest"
)

// Errors a Leg returns.
var (
	// ErrHungUp: the call has ended; nothing more can be played.
	ErrHungUp = errors.New("voice: call has ended")
	// ErrUnsupported: the protocol cannot do what was asked (e.g. a
	// transfer on a browser call). The runtime then ends the call with the
	// hand-over's reason instead.
	ErrUnsupported = errors.New("voice: not supported by this protocol")
)

// Leg is the bot's side of a two-way call: how audio gets back to the
// caller and how the call is handed over or ended. Implementations are safe
// for concurrent use.
type Leg interface {
	// Rate is the sample rate of the PCM that Play takes (8000 for G.711
	// legs such as SIP PCMU/PCMA and Twilio, 16000 or 48000 for others).
	Rate() int
	// Play queues 16-bit mono samples at Rate() to be sent to the caller
	// in real time (20 ms packets, paced by the leg). It blocks while the
	// leg's bounded queue is full and returns ctx.Err() or ErrHungUp.
	Play(ctx context.Context, pcm []int16) error
	// Mark returns a channel that is closed once everything queued before
	// the call has been sent to the caller (for Twilio: played, as its
	// "mark" echo says) or was dropped by Clear.
	Mark() <-chan struct{}
	// Clear drops the queued audio and stops playback at once (barge-in).
	Clear()
	// Transfer hands the call over to target (SIP: REFER, RFC 3515) and
	// returns once the far end accepted or refused it; ErrUnsupported where
	// the protocol has no transfer.
	Transfer(ctx context.Context, target string) error
	// Hangup ends the call with reason (SIP: BYE with a Reason header).
	Hangup(ctx context.Context, reason string) error
}

// Call describes a bot call a protocol has set up.
type Call struct {
	// Bot is the bot's ID, as the protocol learned it (the SIP
	// Request-URI's user, the stream's or widget's bot).
	Bot string
	// Source names the protocol: "sip", "twilio" or "webrtc".
	Source string
	// Caller identifies the caller for the engagement's customer
	// reference (a SIP From URI, a Twilio call's from number); it may be
	// empty. It is customer data: never log it.
	Caller string
	// Leg sends the bot's audio.
	Leg Leg
}

// Opener opens the engagement of a bot call. The protocol feeds the
// caller's audio into the returned engagement as for a listening call and
// calls its Close when the call ends. An error refuses the call (busy when
// ingest.IsBusy, not found when the bot is unknown or not published).
type Opener interface {
	OpenBot(ctx context.Context, c Call) (ingest.Engagement, error)
}
