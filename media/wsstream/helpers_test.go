package wsstream

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/earshot/earshot/media/ingest"
	"github.com/earshot/earshot/media/ingest/ingesttest"
	"github.com/earshot/earshot/media/pipeline"
	"github.com/earshot/earshot/media/stt/pocketsphinx"
	"github.com/prometheus/client_golang/prometheus"
)

const testToken = "test-ingest-token"

// engine is the package's shared PocketSphinx engine.
var engine *pocketsphinx.Engine

func TestMain(m *testing.M) { ingesttest.Main(m, "wsstream", &engine) }

// collector is an Opener that runs each stream through the real media
// pipeline and records what each party receives.
type collector struct {
	pipe *pipeline.Pipeline
	mu   sync.Mutex
	byID map[string]*recEngagement
}

// get waits for the engagement opened with query engagement=id.
func (c *collector) get(t *testing.T, id string) *recEngagement {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		c.mu.Lock()
		e := c.byID[id]
		c.mu.Unlock()
		if e != nil {
			return e
		}
		if time.Now().After(deadline) {
			t.Fatalf("engagement %q not opened", id)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (c *collector) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.byID)
}

func (c *collector) Open(ctx context.Context, m Meta) (ingest.Engagement, error) {
	pe, err := c.pipe.Open(context.Background(), pipeline.OpenOptions{ID: m.Query.Get("engagement"), Source: m.Source})
	if err != nil {
		return nil, err
	}
	caller, _ := ctx.Value(callerKey{}).(string)
	e := &recEngagement{Recording: ingesttest.Record(pe), meta: m, caller: caller}
	c.mu.Lock()
	c.byID[m.Query.Get("engagement")] = e
	c.mu.Unlock()
	return e, nil
}

// recEngagement is a recorded engagement with the stream that opened it.
type recEngagement struct {
	*ingesttest.Recording
	meta   Meta
	caller string // the caller the request's context named when it opened
}

// callerKey holds, in a request's context, the caller the test server's
// token check found, as the daemon's authentication does.
type callerKey struct{}

type env struct {
	srv *Server
	col *collector
	hs  *httptest.Server
	reg *prometheus.Registry
	// cancels ends a stream's request, by its query parameter engagement,
	// as the daemon does when the token that opened it is revoked.
	cancels sync.Map // string -> context.CancelCauseFunc
}

// testServer serves streams at /ws behind a bearer-token check like the
// daemon's.
func testServer(t *testing.T, mod func(*Config)) *env {
	t.Helper()
	cfg := DefaultConfig()
	if mod != nil {
		mod(&cfg)
	}
	reg := prometheus.NewRegistry()
	p, err := pipeline.New(pipeline.DefaultConfig(), nil, prometheus.NewRegistry(), engine)
	if err != nil {
		t.Fatal(err)
	}
	col := &collector{pipe: p, byID: map[string]*recEngagement{}}
	srv, err := New(cfg, slog.New(slog.NewTextHandler(t.Output(), nil)), reg, col)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{srv: srv, col: col, reg: reg}
	e.hs = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+testToken {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		ctx, cancel := context.WithCancelCause(context.WithValue(r.Context(), callerKey{}, "ingest-user"))
		defer cancel(nil)
		e.cancels.Store(r.URL.Query().Get("engagement"), cancel)
		srv.ServeHTTP(w, r.WithContext(ctx))
	}))
	t.Cleanup(func() {
		_ = srv.Close()
		e.hs.Close()
	})
	return e
}

// dial opens a WebSocket to the test server with the ingest token.
func (e *env) dial(t *testing.T, query string) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(e.hs.URL, "http")+"/ws"+query,
		&websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + testToken}}})
	if err != nil {
		t.Fatalf("dial: %v (%v)", err, resp)
	}
	c.SetReadLimit(1 << 20)
	t.Cleanup(func() { _ = c.CloseNow() })
	return c
}

// closeStatus waits for the server to close c and returns the status (-1
// after 20 s). It may run in another goroutine.
func closeStatus(t *testing.T, c *websocket.Conn) websocket.StatusCode {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		if _, _, err := c.Read(ctx); err != nil {
			if ctx.Err() != nil {
				t.Error("server did not close the stream within 20 s")
				return -1
			}
			return websocket.CloseStatus(err)
		}
	}
}

var waitFor = ingesttest.WaitFor
