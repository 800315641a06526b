package whip

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/earshot/earshot/media/ingest"
	"github.com/earshot/earshot/media/ingest/ingesttest"
	"github.com/earshot/earshot/media/pipeline"
	"github.com/earshot/earshot/media/stt/pocketsphinx"
	"github.com/prometheus/client_golang/prometheus"
)

const testToken = "test-ingest-token"

// engine is the package's shared PocketSphinx engine (see TestMain).
var engine *pocketsphinx.Engine

func TestMain(m *testing.M) { ingesttest.Main(m, "whip", &engine) }

// collector is an Opener that runs each session through the real media
// pipeline (PocketSphinx) and records, per party, the transcript and a copy
// of the decoded audio.
type collector struct {
	pipe   *pipeline.Pipeline
	opened chan *recEngagement
	refuse error
}

func newCollector(t *testing.T) *collector {
	p, err := pipeline.New(pipeline.DefaultConfig(), nil, prometheus.NewRegistry(), engine)
	if err != nil {
		t.Fatal(err)
	}
	return &collector{pipe: p, opened: make(chan *recEngagement, 16)}
}

func (c *collector) Open(_ context.Context, m Meta) (ingest.Engagement, error) {
	if c.refuse != nil {
		return nil, c.refuse
	}
	// The engagement outlives the POST request: not its context.
	pe, err := c.pipe.Open(context.Background(), pipeline.OpenOptions{ID: m.Query.Get("engagement"), Source: m.Source})
	if err != nil {
		return nil, err
	}
	e := &recEngagement{Recording: ingesttest.Record(pe), meta: m}
	c.opened <- e
	return e, nil
}

// recEngagement is a recorded engagement with the request that opened it.
type recEngagement struct {
	*ingesttest.Recording
	meta Meta
}

func wordsFound(want, got string) (int, int) { return ingesttest.WordsFound(want, got) }

// testServer starts a WHIP server restricted to loopback behind a bearer
// token check like the daemon's, mounted at /whip on an httptest server.
func testServer(t *testing.T, mod func(*Config)) *env {
	t.Helper()
	col := newCollector(t)
	e := testServerWith(t, mod, col)
	e.col = col
	return e
}

// testServerWith is testServer with op opening the engagements.
func testServerWith(t *testing.T, mod func(*Config), op Opener) *env {
	t.Helper()
	cfg := DefaultConfig()
	cfg.IncludeLoopback = true
	cfg.Interfaces = []string{"lo"}
	cfg.Addresses = []string{"127.0.0.1"}
	cfg.RemoteAddresses = []string{"127.0.0.0/8"}
	cfg.UDPPortMin, cfg.UDPPortMax = 40000, 40999
	if mod != nil {
		mod(&cfg)
	}
	reg := prometheus.NewRegistry()
	srv, err := New(cfg, slog.New(slog.NewTextHandler(t.Output(), nil)), reg, op)
	if err != nil {
		t.Fatal(err)
	}
	h := srv.Handler("/whip")
	mux := http.NewServeMux()
	mux.Handle("/whip", auth(h))
	mux.Handle("/whip/", auth(h))
	hs := httptest.NewServer(mux)
	t.Cleanup(func() {
		hs.Close()
		_ = srv.Close()
	})
	return &env{srv: srv, hs: hs, mux: mux, reg: reg}
}

type env struct {
	srv *Server
	col *collector
	hs  *httptest.Server
	mux *http.ServeMux // more test routes may be added
	reg *prometheus.Registry
}

// auth stands in for the daemon's ingest-token check.
func auth(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+testToken {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// speech converts a recorded utterance to a WAV file at rate (half a
// second of silence before and after) and returns the file, its samples and
// what is said.
func speech(t *testing.T, id string, rate int) (string, []int16, string) {
	t.Helper()
	return ingesttest.SpeechWAV(t, id, rate)
}

var waitFor = ingesttest.WaitFor

// authRequest sends an authenticated request with a body of type ctype
// and returns its response, the body read and closed.
func authRequest(t *testing.T, method, url, ctype string, body io.Reader) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(method, url, body)
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// publish connects a pion client publishing one PCMU track to engagement
// id and returns it with its engagement.
func (e *env) publish(t *testing.T, id string) (*pionClient, *recEngagement) {
	t.Helper()
	c := dialPion(t, e.hs.URL+"/whip?engagement="+id, pcmuCodec)
	return c, <-e.col.opened
}
