package sip

import (
	"context"
	"errors"
	"regexp"
	"strings"

	"github.com/earshot/earshot/inference"
	"github.com/earshot/earshot/media/codec"
	"github.com/earshot/earshot/media/pipeline"
)

// Source is the value for pipeline.OpenOptions.Source of SIP engagements.
const Source = "sip"

// PartyMixed names the single stream of a call whose parties are mixed.
const PartyMixed inference.Party = "mixed"

// Party receives the RTP payloads of one stream in sequence order, from one
// goroutine, with sequence numbers and timestamps rebased across SSRC
// changes; *pipeline.Party implements it. Write errors are the Party's to
// count; the call stops writing to a Party whose error wraps
// pipeline.ErrClosed.
type Party interface {
	WriteRTP(seq uint16, ts uint32, payload []byte) error
}

// Engagement receives the audio of one call.
//
// AddParty is called once per accepted audio stream, while the INVITE (or
// a re-INVITE adding a stream) is answered; an error refuses the INVITE
// (486 if it wraps pipeline.ErrBusy, else 500). Close is called exactly
// once, after the last write: with nil on BYE or server shutdown, else with
// the reason (RTP timeout).
type Engagement interface {
	AddParty(name string, f codec.Format) (Party, error)
	Close(err error)
}

// DTMFReceiver is implemented by engagements that want RFC 4733 telephone
// events; digit is one of 0-9 * # A-D. Digits are sensitive: record them as
// events, never in transcript text.
type DTMFReceiver interface {
	DTMF(party, digit string)
}

// MetadataReceiver is implemented by engagements that want the updated
// participants of a SIPREC metadata update (a re-INVITE or UPDATE).
type MetadataReceiver interface {
	Participants(ps []Participant)
}

// Meta describes a call to the Opener.
type Meta struct {
	// CallID is the SIP Call-ID; SessionID the SIPREC recording session
	// id from the metadata ("" for a plain INVITE).
	CallID    string
	SessionID string
	// SIPREC reports a recording session (Require: siprec or +sip.src).
	SIPREC bool
	// From and To are the INVITE's addresses of record.
	From, To string
	// Participants are the recorded call's participants: from the
	// metadata, or From and To for a plain INVITE.
	Participants []Participant
	// Parties lists the party of each accepted stream, in m-section order.
	Parties []inference.Party
	// Fields holds engagement metadata taken from SIP headers by
	// Config.Headers (e.g. "queue" from X-Queue).
	Fields map[string]string
	// RemoteAddr is the signalling source (ip:port).
	RemoteAddr string
	// Source is "sip", for pipeline.OpenOptions.Source.
	Source string
}

// Opener starts the engagement of a new call. An error refuses the INVITE:
// 486 Busy Here if it wraps pipeline.ErrBusy; the status of a SIPStatus()
// method if the error has one; 403 if it has a StatusCode() of 403, 400
// for other StatusCode() 4xx values; 500 otherwise. The SIP reason phrase
// carries the error text.
type Opener interface {
	Open(ctx context.Context, m Meta) (Engagement, error)
}

// FromPipeline adapts an engagement of the media pipeline (opened with
// Source "sip"). Close drains it.
func FromPipeline(e *pipeline.Engagement) Engagement { return pipelineEngagement{e} }

type pipelineEngagement struct{ e *pipeline.Engagement }

func (p pipelineEngagement) AddParty(name string, f codec.Format) (Party, error) {
	pt, err := p.e.AddParty(pipeline.PartyOptions{Name: name, Format: f})
	if err != nil {
		return nil, err
	}
	return pt, nil
}

func (p pipelineEngagement) Close(error) { p.e.Close() }

func isClosed(err error) bool { return errors.Is(err, pipeline.ErrClosed) }

// partyRules maps participants to parties.
type partyRules struct {
	agent, customer []*regexp.Regexp
}

func (r partyRules) match(p Participant) inference.Party {
	for _, re := range r.agent {
		if re.MatchString(p.AoR) || p.Name != "" && re.MatchString(p.Name) {
			return inference.PartyAgent
		}
	}
	for _, re := range r.customer {
		if re.MatchString(p.AoR) || p.Name != "" && re.MatchString(p.Name) {
			return inference.PartyCustomer
		}
	}
	return ""
}

// assign gives each stream (by label or position) a party. streams are
// the accepted streams in m-section order; senders maps a label to its
// participant.
func (r partyRules) assign(streams []offerStream, ps []Participant, senders map[string]int) []inference.Party {
	out := make([]inference.Party, len(streams))
	matched := make([]inference.Party, len(ps))
	anyAgent := false
	for i, p := range ps {
		matched[i] = r.match(p)
		anyAgent = anyAgent || matched[i] == inference.PartyAgent
	}
	used := map[inference.Party]bool{}
	for i, st := range streams {
		if pi, ok := senders[st.label]; ok && st.label != "" {
			switch {
			case matched[pi] != "":
				out[i] = matched[pi]
			case anyAgent:
				out[i] = inference.PartyCustomer
			}
		}
		if out[i] != "" {
			used[out[i]] = true
		}
	}
	// Unmatched streams follow their order: customer, then agent.
	for i := range out {
		if out[i] != "" {
			continue
		}
		switch {
		case !used[inference.PartyCustomer]:
			out[i] = inference.PartyCustomer
		case !used[inference.PartyAgent]:
			out[i] = inference.PartyAgent
		default:
			out[i] = PartyMixed
		}
		used[out[i]] = true
	}
	return out
}

// aorOf strips a SIP address to scheme:user@host.
func aorOf(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '<'); i >= 0 {
		s = s[i+1:]
		if j := strings.IndexByte(s, '>'); j >= 0 {
			s = s[:j]
		}
	}
	if i := strings.IndexByte(s, ';'); i >= 0 {
		s = s[:i]
	}
	return s
}
