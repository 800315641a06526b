package whip

import (
	"context"
	"net/url"

	"github.com/earshot/earshot/media/ingest"
	"github.com/earshot/earshot/media/voice"
)

// Source is the value for pipeline.OpenOptions.Source (the source label of
// the pipeline's audio metrics) of WHIP engagements.
const Source = "whip"

// Meta describes a session request to the Opener.
type Meta struct {
	// Query holds the request's query parameters: the engagement metadata
	// (e.g. engagement id, queue, agent) chosen by the daemon's API.
	Query url.Values
	// Parties lists the party of each audio track, in m-section order.
	Parties []ingest.Party
	// RemoteAddr is the HTTP client's address.
	RemoteAddr string
	// Source is "whip", for pipeline.OpenOptions.Source.
	Source string
	// Leg, on a two-way session (VoiceHandler), sends audio back to the
	// browser; an Opener that answers with a bot passes it on in a
	// voice.Call. Nil on ingest (receive-only) sessions.
	Leg voice.Leg
}

// Opener starts the engagement of a new WHIP session. An error refuses the
// session: 503 if ingest.IsBusy; the status of its StatusCode() method if
// it has one (e.g. 404 for an unknown engagement, 409 for one that already
// has audio); 400 otherwise. The error text is sent to the client.
//
// The engagement gets one party per audio track, while the offer is
// answered (channel 0; a refused AddParty refuses the session: 503 if
// ingest.IsBusy, else 500), and then each track's RTP payloads in arrival
// order through Sink.WriteRTP. Close comes with nil when the client ended
// the session (DELETE) or the server shut down, else with the reason (ICE
// failure, timeouts).
//
// Parties are assigned per audio m-section, first match wins:
//  1. a query parameter party.<key>=customer|agent|mixed, where key is the
//     m-section's mid, its msid stream id or its msid track id;
//  2. a stream or track id that contains "customer" or "agent";
//  3. by position: with one audio track, query parameter party= or mixed;
//     with two, customer then agent.
type Opener interface {
	Open(ctx context.Context, m Meta) (ingest.Engagement, error)
}
