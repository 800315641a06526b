package whip

import (
	"context"
	"errors"
	"net/url"

	"github.com/earshot/earshot/inference"
	"github.com/earshot/earshot/media/codec"
	"github.com/earshot/earshot/media/pipeline"
)

// PartyMixed names the single track of a call whose parties are mixed into
// one signal (or whose party is unknown).
const PartyMixed inference.Party = "mixed"

// Source is the value for pipeline.OpenOptions.Source (the source label of
// the pipeline's audio metrics) of WHIP engagements.
const Source = "whip"

// Party receives the RTP payloads of one audio track in arrival order, from
// one goroutine, with their sequence numbers and timestamps: it decodes,
// fills gaps and counts losses (*pipeline.Party does). Write errors are the
// Party's to count; the session goes on, and stops writing to a Party whose
// error wraps pipeline.ErrClosed.
type Party interface {
	WriteRTP(seq uint16, ts uint32, payload []byte) error
}

// Engagement receives the audio of one WHIP session.
//
// AddParty is called once per audio track while the offer is answered, with
// the party name and the negotiated format; an error refuses the session
// (503 if it wraps pipeline.ErrBusy, else 500). Close is called exactly
// once, after the last write of every track: with nil when the client ended
// the session (DELETE) or the server shut down, or with the reason otherwise
// (ICE failure, timeouts, a refused AddParty). The audio written before
// Close stays with the engagement.
type Engagement interface {
	AddParty(name string, f codec.Format) (Party, error)
	Close(err error)
}

// Meta describes a session request to the Opener.
type Meta struct {
	// Query holds the request's query parameters: the engagement metadata
	// (e.g. engagement id, queue, agent) chosen by the daemon's API.
	Query url.Values
	// Parties lists the party of each audio track, in m-section order.
	Parties []inference.Party
	// RemoteAddr is the HTTP client's address.
	RemoteAddr string
	// Source is "whip", for pipeline.OpenOptions.Source.
	Source string
}

// Opener starts the engagement of a new WHIP session. An error refuses the
// session: 503 if it wraps pipeline.ErrBusy; the status of its StatusCode()
// method if it has one (e.g. 404 for an unknown engagement, 409 for one that
// already has audio); 400 otherwise. The error text is sent to the client.
//
// Parties are assigned per audio m-section, first match wins:
//  1. a query parameter party.<key>=customer|agent|mixed, where key is the
//     m-section's mid, its msid stream id or its msid track id;
//  2. a stream or track id that contains "customer" or "agent";
//  3. by position: with one audio track, query parameter party= or mixed;
//     with two, customer then agent.
type Opener interface {
	Open(ctx context.Context, m Meta) (Engagement, error)
}

// FromPipeline adapts an engagement of the media pipeline (opened with
// Source "whip") to Engagement. Close drains it: the pipeline emits the last
// final segments and closes its Segments channel.
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

// isClosed reports whether a Party write error means the party is gone.
func isClosed(err error) bool { return errors.Is(err, pipeline.ErrClosed) }
