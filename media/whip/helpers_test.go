package whip

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
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

func TestMain(m *testing.M) {
	var err error
	if engine, err = ingesttest.NewEngine(); err != nil {
		fmt.Fprintln(os.Stderr, "whip tests need PocketSphinx (Debian pocketsphinx-en-us, libpocketsphinx-dev):", err)
		os.Exit(1)
	}
	code := m.Run()
	_ = engine.Close()
	os.Exit(code)
}

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
	col := newCollector(t)
	srv, err := New(cfg, slog.New(slog.NewTextHandler(t.Output(), nil)), reg, col)
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
	return &env{srv: srv, col: col, hs: hs, mux: mux, reg: reg}
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

// envelope returns the log energy of consecutive 20 ms frames.
func envelope(s []int16, rate int) []float64 {
	n := rate / 50
	var env []float64
	for i := 0; i+n <= len(s); i += n {
		var e float64
		for _, v := range s[i : i+n] {
			e += float64(v) * float64(v)
		}
		env = append(env, math.Log10(e/float64(n)+100))
	}
	return env
}

// bestMatch slides the source envelope over the received one and returns
// the highest Pearson correlation and its lag in frames. When less was
// received than sent (a client starts sending before the server's DTLS is
// up, and those packets are dropped) it compares the received audio with
// the end of the source, if it covers at least 60 % of it. It compares the
// shape of the speech (syllable energy over time), so it holds across codecs
// and resampling but fails for silence, noise or garbled audio.
func bestMatch(src []int16, srcRate int, got []int16, gotRate int) (float64, int) {
	a, b := envelope(src, srcRate), envelope(got, gotRate)
	best, lag := -1.0, -1
	if len(b) < len(a) {
		if len(b) < len(a)*6/10 {
			return -1, -1
		}
		for l := 0; l <= min(10, len(a)-len(b)); l++ { // up to 200 ms cut at the end
			end := len(a) - l
			if r := pearson(a[end-len(b):end], b); r > best {
				best, lag = r, -l
			}
		}
		return best, lag
	}
	for off := 0; off+len(a) <= len(b); off++ {
		if r := pearson(a, b[off:off+len(a)]); r > best {
			best, lag = r, off
		}
	}
	return best, lag
}

func pearson(x, y []float64) float64 {
	var mx, my float64
	for i := range x {
		mx += x[i]
		my += y[i]
	}
	mx /= float64(len(x))
	my /= float64(len(y))
	var sxy, sxx, syy float64
	for i := range x {
		dx, dy := x[i]-mx, y[i]-my
		sxy += dx * dy
		sxx += dx * dx
		syy += dy * dy
	}
	if sxx == 0 || syy == 0 {
		return 0
	}
	return sxy / math.Sqrt(sxx*syy)
}
