package wsstream

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/earshot/earshot/media/codec"
	"github.com/earshot/earshot/media/ingest"
	"github.com/earshot/earshot/media/ingest/ingesttest"
	"github.com/earshot/earshot/media/pipeline"
	"github.com/prometheus/client_golang/prometheus"
)

// heldOpener opens engagements through the collector whose AddParty
// waits for release: the recognisers of a loaded appliance, which take
// seconds to open while the stream's media wait unread in the socket.
// entered is closed when the first AddParty begins to wait.
type heldOpener struct {
	*collector
	entered chan struct{}
	once    *sync.Once
	release chan struct{}
}

func (o heldOpener) Open(ctx context.Context, m Meta) (ingest.Engagement, error) {
	e, err := o.collector.Open(ctx, m)
	if err != nil {
		return nil, err
	}
	return heldEngagement{Engagement: e, o: o}, nil
}

type heldEngagement struct {
	ingest.Engagement
	o heldOpener
}

func (h heldEngagement) AddParty(p ingest.Party, f codec.Format, ch int) (ingest.Sink, error) {
	h.o.once.Do(func() { close(h.o.entered) })
	<-h.o.release
	return h.Engagement.AddParty(p, f, ch)
}

// TestTwilioClockOrigin streams a Twilio call whose outbound track starts
// 2 s into the stream (its first timestamp 2000), while the engagement's
// parties take until then to open (the media wait in the socket): the
// engagement's clock starts at the stream's start, not when the parties
// were ready, and the agent's speech lies where the timestamps put it
// (within the conversation tolerance of 3.0 s). Placed by arrival, the
// origin was after the parties opened and the agent's track, read in the
// same backlog as the customer's, began at ~0 s: its speech at ~1.0 s.
//
// Not parallel: it decodes a whole call, and the package's parallel tests
// of the two-way leg run against a 15 s idle timeout.
func TestTwilioClockOrigin(t *testing.T) {
	p, err := pipeline.New(pipeline.DefaultConfig(), nil, prometheus.NewRegistry(), engine)
	if err != nil {
		t.Fatal(err)
	}
	col := &collector{pipe: p, byID: map[string]*recEngagement{}}
	held := heldOpener{collector: col, entered: make(chan struct{}), once: new(sync.Once), release: make(chan struct{})}
	srv, err := New(DefaultConfig(), slog.New(slog.NewTextHandler(t.Output(), nil)), prometheus.NewRegistry(), held)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{srv: srv, col: col, hs: httptest.NewServer(srv)}
	t.Cleanup(func() {
		_ = srv.Close()
		e.hs.Close()
	})
	conv := ingesttest.BuildConversation(t, 8000)
	cust := conv.Encode(t, ingest.PartyCustomer, "mu-law", 8000)
	agent := conv.Encode(t, ingest.PartyAgent, "mu-law", 8000)
	c := e.dial(t, "?engagement=origin")
	tw := &twilioClient{t: t, c: c}
	tw.start("inbound", "outbound")
	select {
	case <-held.entered: // the stream started; its parties are opening
	case <-time.After(20 * time.Second):
		t.Fatal("the start message opened no party within 20 s")
	}

	const chunk = 160           // 20 ms
	const agentFrom = 2000 / 20 // the outbound track's first chunk
	var released time.Time
	for i := 0; i*chunk < max(len(cust), len(agent)); i++ {
		if p := slice(cust, i*chunk, chunk); p != nil {
			tw.media("inbound", i+1, i*20, p)
		}
		if p := slice(agent, i*chunk, chunk); p != nil && i >= agentFrom {
			tw.media("outbound", i-agentFrom+1, i*20, p)
		}
		if i == agentFrom {
			// The parties open only now, with 2 s of both tracks unread.
			released = time.Now()
			close(held.release)
		}
	}
	tw.send(map[string]any{"event": "stop", "stop": map[string]string{"accountSid": "AC0123", "callSid": "CA42"}})
	eng := e.col.get(t, "origin")
	if err := eng.WaitClosed(t); err != nil {
		t.Errorf("engagement closed with %v, want nil after stop", err)
	}
	conv.CheckTimes(t, ingesttest.ByTime(ingesttest.FromSegments(eng.Finals(t))), 0)
	if o := eng.PE.Origin(); o.IsZero() || !o.Before(released) {
		t.Errorf("engagement clock origin %v, want the stream's start, before the parties opened at %v", o, released)
	}
}

// placedSink records where ingest.Place put it.
type placedSink struct {
	origin time.Time
	offset time.Duration
	n      int
}

func (p *placedSink) PlaceAt(origin time.Time, offset time.Duration) {
	p.origin, p.offset = origin, offset
	p.n++
}
func (p *placedSink) WriteRTP(uint16, uint32, []byte) error { return nil }
func (p *placedSink) Write([]byte) error                    { return nil }

type placedEngagement struct{ sinks []*placedSink }

func (e *placedEngagement) AddParty(ingest.Party, codec.Format, int) (ingest.Sink, error) {
	s := &placedSink{}
	e.sinks = append(e.sinks, s)
	return s, nil
}
func (e *placedEngagement) Close(error) {}

type placedOpener struct{ e *placedEngagement }

func (o placedOpener) Open(context.Context, Meta) (ingest.Engagement, error) { return o.e, nil }

// TestTwilioPlacement: each Twilio track is placed once, at its first
// media, on the clock that starts with the start message: by its
// timestamp when the client sends faster than real time (up to a second
// past what the other tracks sent), never at a bogus timestamp far
// beyond both, and at its arrival without one.
func TestTwilioPlacement(t *testing.T) {
	media := func(track string, ms int) []byte {
		ts := ""
		if ms >= 0 {
			ts = `,"timestamp":"` + strconv.Itoa(ms) + `"`
		}
		return []byte(`{"event":"media","media":{"track":"` + track + `"` + ts + `,"payload":"//7+/w=="}}`)
	}
	for _, tc := range []struct {
		name  string
		msgs  [][]byte
		wantI time.Duration // the inbound track's offset
		wantO time.Duration // the outbound track's, at least
		maxO  time.Duration // and at most
	}{
		{"outbound from 2 s, sent at once", [][]byte{media("inbound", 0), media("inbound", 1000), media("inbound", 2000), media("outbound", 2000), media("outbound", 2020)},
			0, 2000 * time.Millisecond, 2000 * time.Millisecond},
		{"bogus timestamp", [][]byte{media("inbound", 0), media("outbound", 50_000_000)},
			0, 0, 1100 * time.Millisecond},
		{"no timestamp", [][]byte{media("inbound", -1), media("outbound", -1)},
			0, 0, time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := newMetrics(prometheus.NewRegistry())
			if err != nil {
				t.Fatal(err)
			}
			e := &placedEngagement{}
			s := newStream(context.Background(), DefaultConfig(), m, placedOpener{e}, nil, "test")
			start := []byte(`{"event":"start","start":{"tracks":["inbound","outbound"],"mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":8000,"channels":1}}}`)
			before := time.Now()
			for _, msg := range append([][]byte{start}, tc.msgs...) {
				if _, err := s.handle(websocket.MessageText, msg); err != nil {
					t.Fatalf("handle %s: %v", msg, err)
				}
			}
			if len(e.sinks) != 2 {
				t.Fatalf("%d parties, want 2", len(e.sinks))
			}
			in, out := e.sinks[0], e.sinks[1]
			if in.n != 1 || out.n != 1 {
				t.Fatalf("placed %d and %d times, want once each", in.n, out.n)
			}
			if in.origin != out.origin || in.origin.Before(before) {
				t.Errorf("origins %v and %v, want the start message's arrival (after %v)", in.origin, out.origin, before)
			}
			if in.offset > tc.wantI+time.Second/2 || in.offset < tc.wantI {
				t.Errorf("inbound placed at %v, want %v", in.offset, tc.wantI)
			}
			if out.offset < tc.wantO || out.offset > tc.maxO {
				t.Errorf("outbound placed at %v, want %v..%v", out.offset, tc.wantO, tc.maxO)
			}
		})
	}
}
