package wsstream

import (
	"context"
	"net/url"

	"github.com/earshot/earshot/media/ingest"
	"github.com/earshot/earshot/media/voice"
)

// Source is the value for pipeline.OpenOptions.Source of WebSocket streams.
const Source = "websocket"

// Formats of a stream.
const (
	FormatTwilio = "twilio"
	FormatPCM    = "pcm"
)

// Meta describes a stream to the Opener.
type Meta struct {
	Format string // FormatTwilio or FormatPCM
	// Query holds the request's query parameters (engagement metadata).
	Query url.Values
	// Params are the Twilio customParameters, or the string members of the
	// PCM metadata message.
	Params map[string]string
	// CallID is the Twilio callSid, or the metadata's callSid, call_id or
	// uuid member; StreamID the Twilio streamSid.
	CallID, StreamID string
	// Parties lists the party of each track or channel.
	Parties    []ingest.Party
	SampleRate int
	Channels   int
	RemoteAddr string
	Source     string // "websocket", for pipeline.OpenOptions.Source
	// Leg, on a Twilio stream, sends audio back to the caller (Twilio
	// bidirectional Media Streams: media, mark, clear; Hangup closes the
	// stream). An Opener that answers the call with a bot passes it on in
	// a voice.Call; a listening Opener ignores it. Nil for PCM streams.
	Leg voice.Leg
}

// Opener starts the engagement of a new stream; an error refuses it (close
// status 1013 if ingest.IsBusy, else 1008 with the error text).
//
// The engagement gets one party per Twilio track or PCM channel when the
// stream starts (the Twilio "start" message, the PCM metadata or first
// frame): a Twilio track is a mono party whose media arrive through
// Sink.WriteRTP, with a per-track message counter as sequence number and
// the Twilio timestamp in 8 kHz ticks, so that gaps become silence; a PCM
// channel is channel i of the stream's format and its frames arrive through
// Sink.Write. A refused AddParty ends the stream (close status 1013 if
// ingest.IsBusy, else 1011). Twilio "dtmf" messages go to engagements that
// implement ingest.DTMFReceiver. Close comes with nil when the client ended
// the stream properly (Twilio "stop", a normal close) or the server shut
// down, else with the reason.
//
// Parties: a query parameter party.<track>=customer|agent|mixed (track
// inbound/outbound for Twilio, channel 0/1 for PCM) overrides the defaults:
// inbound and channel 0 are the customer, outbound and channel 1 the
// agent; a mono PCM stream is party= or mixed.
type Opener interface {
	Open(ctx context.Context, m Meta) (ingest.Engagement, error)
}
