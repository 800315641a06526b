package sip

import (
	"context"
	"regexp"
	"strings"

	"github.com/earshot/earshot/media/ingest"
)

// Source is the value for pipeline.OpenOptions.Source of SIP engagements.
const Source = "sip"

// MetadataReceiver is implemented by engagements that want the updated
// participants of a SIPREC metadata update (a re-INVITE or UPDATE).
type MetadataReceiver interface {
	Participants(ps []Participant)
}

// HoldReceiver is implemented by engagements that want to know when a
// re-INVITE or UPDATE puts a party's stream on hold (a=inactive or
// a=recvonly, a null address, or a=sendonly for a stream first offered
// sendrecv) and when it resumes. Hold is called after the answer
// is sent, once per change.
type HoldReceiver interface {
	Hold(p ingest.Party, held bool)
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
	Parties []ingest.Party
	// Fields holds engagement metadata taken from SIP headers by
	// Config.Headers (e.g. "queue" from X-Queue).
	Fields map[string]string
	// RemoteAddr is the signalling source (ip:port).
	RemoteAddr string
	// Source is "sip", for pipeline.OpenOptions.Source.
	Source string
}

// Opener starts the engagement of a new call. An error refuses the INVITE:
// 486 Busy Here if ingest.IsBusy; the status of a SIPStatus()
// method if the error has one; 403 if it has a StatusCode() of 403, 400
// for other StatusCode() 4xx values; 500 otherwise. The SIP reason phrase
// carries the error text.
//
// The engagement gets one party per accepted audio stream (channel 0)
// while the INVITE, or a re-INVITE adding a stream, is answered; a refused
// AddParty refuses the INVITE (486 if ingest.IsBusy, else 500). Each
// stream's RTP payloads then arrive in sequence order through
// Sink.WriteRTP, with sequence numbers and timestamps rebased across SSRC
// changes. RFC 4733 digits go to engagements that implement
// ingest.DTMFReceiver, metadata updates to those that implement
// MetadataReceiver. Close comes with nil on BYE or server shutdown, else
// with the reason (RTP timeout).
type Opener interface {
	Open(ctx context.Context, m Meta) (ingest.Engagement, error)
}

// partyRules maps participants to parties.
type partyRules struct {
	agent, customer []*regexp.Regexp
}

func (r partyRules) match(p Participant) ingest.Party {
	for _, re := range r.agent {
		if re.MatchString(p.AoR) || p.Name != "" && re.MatchString(p.Name) {
			return ingest.PartyAgent
		}
	}
	for _, re := range r.customer {
		if re.MatchString(p.AoR) || p.Name != "" && re.MatchString(p.Name) {
			return ingest.PartyCustomer
		}
	}
	return ""
}

// assign gives each stream (by label or position) a party. streams are
// the accepted streams in m-section order; senders maps a label to its
// participant.
func (r partyRules) assign(streams []offerStream, ps []Participant, senders map[string]int) []ingest.Party {
	out := make([]ingest.Party, len(streams))
	matched := make([]ingest.Party, len(ps))
	anyAgent := false
	for i, p := range ps {
		matched[i] = r.match(p)
		anyAgent = anyAgent || matched[i] == ingest.PartyAgent
	}
	used := map[ingest.Party]bool{}
	for i, st := range streams {
		if pi, ok := senders[st.label]; ok && st.label != "" {
			switch {
			case matched[pi] != "":
				out[i] = matched[pi]
			case anyAgent:
				out[i] = ingest.PartyCustomer
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
		case !used[ingest.PartyCustomer]:
			out[i] = ingest.PartyCustomer
		case !used[ingest.PartyAgent]:
			out[i] = ingest.PartyAgent
		default:
			out[i] = ingest.PartyMixed
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
