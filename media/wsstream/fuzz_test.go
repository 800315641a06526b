package wsstream

import (
	"bytes"
	"context"
	"errors"
	"net/url"
	"testing"

	"github.com/coder/websocket"
	"github.com/earshot/earshot/media/codec"
	"github.com/earshot/earshot/media/ingest"
	"github.com/prometheus/client_golang/prometheus"
)

// memEngagement records writes in memory and decodes them with the real
// codecs. The fuzzer uses it instead of the pipeline, whose recogniser is
// far too slow for millions of inputs.
type memEngagement struct {
	parties []*memParty
	closes  int
}

type memParty struct {
	dec     codec.Decoder
	frame   int
	writes  int
	partial bool // a PCM write that splits a sample frame
}

func (e *memEngagement) AddParty(_ ingest.Party, f codec.Format, ch int) (ingest.Sink, error) {
	d, err := codec.NewDecoder(f)
	if err != nil {
		return nil, err
	}
	if ch >= d.Channels() {
		return nil, errors.New("channel out of range")
	}
	p := &memParty{dec: d, frame: 2 * d.Channels()}
	e.parties = append(e.parties, p)
	return p, nil
}

func (e *memEngagement) Close(error) { e.closes++ }

func (p *memParty) WriteRTP(_ uint16, _ uint32, b []byte) error {
	p.writes++
	_, err := p.dec.Decode(nil, b)
	return err
}

func (p *memParty) Write(b []byte) error {
	p.writes++
	if p.dec.Codec() == codec.S16LE && len(b)%p.frame != 0 {
		p.partial = true
	}
	_, err := p.dec.Decode(nil, b)
	return err
}

type memOpener struct{ engs []*memEngagement }

func (o *memOpener) Open(context.Context, Meta) (ingest.Engagement, error) {
	e := &memEngagement{}
	o.engs = append(o.engs, e)
	return e, nil
}

// FuzzStream feeds arbitrary message sequences to the stream decoder: it
// must not panic, must open at most one engagement, close it exactly once,
// and only ever write whole PCM sample frames.
func FuzzStream(f *testing.F) {
	seeds := []struct{ msgs, query string }{
		{"T{\"event\":\"connected\"}\x00T{\"event\":\"start\",\"start\":{\"tracks\":[\"inbound\",\"outbound\"],\"mediaFormat\":{\"encoding\":\"audio/x-mulaw\",\"sampleRate\":8000,\"channels\":1}}}\x00T{\"event\":\"media\",\"media\":{\"track\":\"outbound\",\"chunk\":\"1\",\"timestamp\":\"20\",\"payload\":\"//7+\"}}\x00T{\"event\":\"stop\"}", ""},
		{"T{\"sampleRate\":16000,\"mixType\":\"stereo\"}\x00B\x01\x02\x03\x04\x05\x00B\x06\x07\x08", ""},
		{"B\x01\x02\x03", "rate=16000&channels=2"},
		{"Tgarbage\x00T{\"event\":\"media\"}", "format=twilio"},
		{"T{\"event\":\"dtmf\",\"dtmf\":{\"digit\":\"5\"}}", "party.inbound=agent"},
	}
	for _, s := range seeds {
		f.Add([]byte(s.msgs), s.query)
	}
	f.Fuzz(func(t *testing.T, data []byte, query string) {
		q, _ := url.ParseQuery(query)
		m, err := newMetrics(prometheus.NewRegistry())
		if err != nil {
			t.Fatal(err)
		}
		o := &memOpener{}
		cfg := DefaultConfig()
		cfg.MaxBadMessages = 1000
		s := newStream(context.Background(), cfg, m, o, q, "fuzz")
		var end error
		for _, msg := range bytes.Split(data, []byte{0}) {
			typ := websocket.MessageText
			if len(msg) > 0 && msg[0] == 'B' {
				typ = websocket.MessageBinary
			}
			if len(msg) > 0 {
				msg = msg[1:]
			}
			if end = s.handle(typ, msg); end != nil {
				var ce *closeError
				if !errors.As(end, &ce) {
					t.Fatalf("handle returned %T, want *closeError", end)
				}
				break
			}
		}
		s.finish(end)
		s.finish(end) // idempotent
		if len(o.engs) > 1 {
			t.Fatalf("%d engagements opened", len(o.engs))
		}
		for _, e := range o.engs {
			if e.closes != 1 {
				t.Fatalf("engagement closed %d times", e.closes)
			}
			for _, p := range e.parties {
				if p.partial {
					t.Fatal("PCM write split a sample frame")
				}
			}
		}
	})
}
