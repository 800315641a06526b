package wsstream

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

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
