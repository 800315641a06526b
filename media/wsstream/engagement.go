package wsstream

import (
	"context"
	"net/url"

	"github.com/earshot/earshot/inference"
	"github.com/earshot/earshot/media/codec"
	"github.com/earshot/earshot/media/pipeline"
)

// PartyMixed names the single channel of a call whose parties are mixed.
const PartyMixed inference.Party = "mixed"

// Source is the value for pipeline.OpenOptions.Source of WebSocket streams.
const Source = "websocket"

// Formats of a stream.
const (
	FormatTwilio = "twilio"
	FormatPCM    = "pcm"
)

// Party receives one track's (or channel's) audio from one goroutine;
// *pipeline.Party implements it. Twilio media arrive through WriteRTP, with
// a per-track message counter as sequence number and the Twilio timestamp
// in 8 kHz ticks, so that gaps become silence; PCM frames through Write.
// Write errors are the Party's to count; the stream goes on.
type Party interface {
	WriteRTP(seq uint16, ts uint32, payload []byte) error
	Write(payload []byte) error
}

// Engagement receives the audio of one stream.
//
// AddParty is called once per track or channel when the stream starts (the
// Twilio "start" message, the PCM metadata or first frame); channel selects
// one channel of a two-channel format. An error ends the stream (close
// status 1013 if it wraps pipeline.ErrBusy, else 1011). Close is called
// exactly once, after the last write: with nil when the client ended the
// stream properly (Twilio "stop", a normal close) or the server shut down,
// else with the reason. The audio written before Close stays with the
// engagement.
type Engagement interface {
	AddParty(name string, f codec.Format, channel int) (Party, error)
	Close(err error)
}

// DTMFReceiver is implemented by engagements that want Twilio "dtmf" events.
type DTMFReceiver interface {
	DTMF(party, digit string)
}

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
	Parties    []inference.Party
	SampleRate int
	Channels   int
	RemoteAddr string
	Source     string // "websocket", for pipeline.OpenOptions.Source
}

// Opener starts the engagement of a new stream; an error refuses it (close
// status 1013 if it wraps pipeline.ErrBusy, else 1008 with the error text).
//
// Parties: a query parameter party.<track>=customer|agent|mixed (track
// inbound/outbound for Twilio, channel 0/1 for PCM) overrides the defaults:
// inbound and channel 0 are the customer, outbound and channel 1 the
// agent; a mono PCM stream is party= or mixed.
type Opener interface {
	Open(ctx context.Context, m Meta) (Engagement, error)
}

// FromPipeline adapts an engagement of the media pipeline (opened with
// Source "websocket"). Close drains it.
func FromPipeline(e *pipeline.Engagement) Engagement { return pipelineEngagement{e} }

type pipelineEngagement struct{ e *pipeline.Engagement }

func (p pipelineEngagement) AddParty(name string, f codec.Format, channel int) (Party, error) {
	pt, err := p.e.AddParty(pipeline.PartyOptions{Name: name, Format: f, Channel: channel})
	if err != nil {
		return nil, err
	}
	return pt, nil
}

func (p pipelineEngagement) Close(error) { p.e.Close() }
