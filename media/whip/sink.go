package whip

import (
	"context"
	"net/url"

	"github.com/earshot/earshot/inference"
)

// PartyMixed names the single track of a call whose parties are mixed into
// one signal (or whose party is unknown).
const PartyMixed inference.Party = "mixed"

// Codec names as they appear in Chunk.Codec and in metric labels.
const (
	CodecOpus = "opus"
	CodecPCMU = "pcmu"
	CodecPCMA = "pcma"
)

// Chunk is one piece of decoded audio of one party.
type Chunk struct {
	Party      inference.Party
	Codec      string  // CodecOpus, CodecPCMU or CodecPCMA
	SampleRate int     // of PCM: 16000 for Opus, 8000 for G.711
	PCM        []int16 // mono; the sink owns the slice
	// RTPTimestamp and Seq are those of the packet the audio came from;
	// for inserted silence they are the values of the packet after the gap.
	RTPTimestamp uint32
	Seq          uint16
	// Silence is true when PCM is silence inserted for lost packets, a
	// decode error or a pause in the stream (DTX, mute).
	Silence bool
}

// Sink receives the audio of one engagement.
//
// OnAudio is called from one goroutine per track (so concurrently for a
// two-track session) and must not block: a sink that queues must use a
// bounded queue and drop (and count) when it is full. Close is called exactly
// once, after the last OnAudio of every track, with nil when the client ended
// the session (DELETE) or the server shut down, or with the reason otherwise
// (ICE failure, timeout).
type Sink interface {
	OnAudio(c Chunk)
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
}

// Opener starts the engagement of a new WHIP session and returns its Sink.
// An error refuses the session: if it has a method StatusCode() int, that is
// the HTTP status sent (e.g. 404 for an unknown engagement, 409 for one that
// already has audio); otherwise 400. The error text is sent to the client.
//
// Parties are assigned per audio m-section, first match wins:
//  1. a query parameter party.<key>=customer|agent|mixed, where key is the
//     m-section's mid, its msid stream id or its msid track id;
//  2. a stream or track id that contains "customer" or "agent";
//  3. by position: with one audio track, query parameter party= or mixed;
//     with two, customer then agent.
type Opener interface {
	Open(ctx context.Context, m Meta) (Sink, error)
}
