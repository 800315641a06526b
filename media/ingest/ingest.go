// Package ingest is the one seam between the ingest protocols (media/sip,
// media/whip, media/wsstream) and what receives their audio: the parties of
// a session, the Sink each party's audio goes to, the Engagement that owns
// them, and the adapter that runs an Engagement on the media pipeline.
//
// The protocol packages depend on this package and on media/codec only;
// the daemon implements Engagement to connect a session to its engagement
// hub, usually around FromPipeline.
package ingest

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/earshot/earshot/media/codec"
	"github.com/earshot/earshot/media/pipeline"
)

// Party names whose voice one audio stream carries. It is the party name
// of the stream's transcript segments.
type Party string

// The parties an ingest protocol assigns.
const (
	PartyCustomer Party = "customer"
	PartyAgent    Party = "agent"
	// PartyMixed names the single stream of a call whose parties are mixed
	// into one signal (or whose party is unknown).
	PartyMixed Party = "mixed"
)

// ParseParty parses a party named by a client (a query parameter, a
// header or configuration): customer, agent or mixed, in any case, with
// surrounding spaces ignored.
func ParseParty(s string) (Party, error) {
	switch p := Party(strings.ToLower(strings.TrimSpace(s))); p {
	case PartyCustomer, PartyAgent, PartyMixed:
		return p, nil
	}
	return "", fmt.Errorf("party %q is not customer, agent or mixed", s)
}

// Other returns the other party of a two-party call: the customer for the
// agent and the agent for anyone else.
func (p Party) Other() Party {
	if p == PartyAgent {
		return PartyCustomer
	}
	return PartyAgent
}

// Sink receives the audio of one party, from one goroutine.
//
// RTP payloads arrive through WriteRTP in sequence order with their
// sequence numbers and timestamps (the codec's clock), rebased by the
// protocol across source changes, so that the sink can count losses and
// fill timestamp gaps (loss, DTX, hold) with silence. Payloads of a
// contiguous stream without timestamps (WebSocket PCM frames) arrive
// through Write.
//
// Write errors are the Sink's to count; the session goes on, and stops
// writing to a Sink whose error satisfies IsClosed. *pipeline.Party
// implements Sink.
type Sink interface {
	WriteRTP(seq uint16, ts uint32, payload []byte) error
	Write(payload []byte) error
}

// Placer is implemented by Sinks that can be told where their first media
// lies on the session's clock: a protocol that knows when its session's
// media clock started (a Twilio stream's start message) and where each
// party's first media lies on it (Twilio's media timestamps) places each
// party before its first write. Without it a sink takes its place on the
// engagement's clock from when its first payload is written, which lags
// the media's arrival when the session's set-up (opening recognisers
// under load) held up reading them, and puts a track that starts late
// (Twilio's outbound track, say) at the time the backlog was read rather
// than where its timestamps say.
//
// PlaceAt says that the session's media clock started at origin (wall
// clock) and the party's first media lies offset after it. It is called
// from the writing goroutine before the first write; later calls do
// nothing.
type Placer interface {
	PlaceAt(origin time.Time, offset time.Duration)
}

// Place places s (or the Sink it wraps: a Sink that decorates another
// has an Unwrap() Sink method) when it is a Placer, and reports whether
// it was.
func Place(s Sink, origin time.Time, offset time.Duration) bool {
	for s != nil {
		if p, ok := s.(Placer); ok {
			p.PlaceAt(origin, offset)
			return true
		}
		u, ok := s.(interface{ Unwrap() Sink })
		if !ok {
			return false
		}
		s = u.Unwrap()
	}
	return false
}

// Engagement receives the audio of one ingest session: a WHIP session, a
// SIP call or a WebSocket stream.
//
// AddParty is called once per audio stream when the session (or a SIP
// re-INVITE adding a stream) is set up, with the stream's party, its
// negotiated format and, for a multi-channel format, the channel that
// carries the party (0 for mono). An error refuses the stream: if it
// satisfies IsBusy the protocol answers "busy" (HTTP 503, SIP 486,
// WebSocket close 1013).
//
// Close is called exactly once, after the last write to every Sink: with
// nil when the session ended normally (WHIP DELETE, SIP BYE, Twilio stop,
// a normal WebSocket close) or the server shut down, else with the reason
// (ICE failure, a media timeout, a refused AddParty). The audio written
// before Close stays with the engagement.
type Engagement interface {
	AddParty(p Party, f codec.Format, channel int) (Sink, error)
	Close(err error)
}

// Ender is implemented by engagements that can end while their ingest
// session goes on: the daemon's hub ends an engagement on its media
// timeout, at shutdown, or when the daemon ends it (a revoked token, an
// operator). Ended is closed then; the protocol ends its session as the
// server does on its own timeouts (SIP BYE, WebSocket close, WHIP session
// close) and calls Close as usual. Use EndedOf to watch any Engagement.
type Ender interface {
	Ended() <-chan struct{}
}

// EndedOf returns e's Ended channel, or nil (never ready) when e does not
// implement Ender.
func EndedOf(e Engagement) <-chan struct{} {
	if en, ok := e.(Ender); ok {
		return en.Ended()
	}
	return nil
}

// Keeper is implemented by engagements whose owner ends them when no audio
// arrives for a while (the daemon hub's media timeout). A protocol calls
// KeepAlive while its session is silent on purpose and within the
// protocol's own limit, e.g. a SIP call on hold (bounded by the hold
// timeout); anything else that is not audio (Twilio marks, keep-alives)
// must not keep an engagement alive.
type Keeper interface {
	KeepAlive()
}

// KeepAlive calls e.KeepAlive if e implements Keeper.
func KeepAlive(e Engagement) {
	if k, ok := e.(Keeper); ok {
		k.KeepAlive()
	}
}

// DTMFReceiver is implemented by engagements that want the telephone
// events of a session (RFC 4733, Twilio "dtmf" messages); digit is one of
// 0-9 * # A-D. Digits are sensitive: record them as events, never in
// transcript text or logs.
type DTMFReceiver interface {
	DTMF(p Party, digit string)
}

// FromPipeline adapts an engagement of the media pipeline to Engagement:
// each party becomes a pipeline party named after it. Close drains the
// pipeline engagement: it emits the last final segments and closes its
// Segments channel.
func FromPipeline(e *pipeline.Engagement) Engagement { return pipelineEngagement{e} }

type pipelineEngagement struct{ e *pipeline.Engagement }

func (p pipelineEngagement) AddParty(party Party, f codec.Format, channel int) (Sink, error) {
	pt, err := p.e.AddParty(pipeline.PartyOptions{Name: string(party), Format: f, Channel: channel})
	if err != nil {
		return nil, err
	}
	return pt, nil
}

func (p pipelineEngagement) Close(error) { p.e.Close() }

// IsClosed reports whether a Sink's write error means that the party (or
// its engagement) is gone and nothing more should be written to it.
func IsClosed(err error) bool { return errors.Is(err, pipeline.ErrClosed) }

// IsBusy reports whether an Opener's or AddParty's error means that the
// appliance is at capacity.
func IsBusy(err error) bool { return errors.Is(err, pipeline.ErrBusy) }

// ParsePrefixes parses the address filters of an ingest configuration:
// addresses ("10.0.0.1", "::1") and prefixes ("10.0.0.0/8"). An address
// becomes the prefix holding only itself.
func ParsePrefixes(ss []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range ss {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("%q is neither an address nor a prefix", s)
		}
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}
