package wsstream

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/earshot/earshot/inference"
	"github.com/earshot/earshot/media/codec"
	"github.com/earshot/earshot/media/pipeline"
	"github.com/earshot/earshot/media/stt/pocketsphinx"
	"github.com/prometheus/client_golang/prometheus"
)

const testToken = "test-ingest-token"

// engine is the package's shared PocketSphinx engine.
var engine *pocketsphinx.Engine

func TestMain(m *testing.M) {
	var err error
	engine, err = pocketsphinx.New(pocketsphinx.DefaultConfig(), nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "wsstream tests need PocketSphinx (Debian pocketsphinx-en-us, libpocketsphinx-dev):", err)
		os.Exit(1)
	}
	code := m.Run()
	_ = engine.Close()
	os.Exit(code)
}

// collector is an Opener that runs each stream through the real media
// pipeline and records every payload each party receives.
type collector struct {
	pipe   *pipeline.Pipeline
	opened chan *recEngagement
}

func (c *collector) Open(_ context.Context, m Meta) (Engagement, error) {
	pe, err := c.pipe.Open(context.Background(), pipeline.OpenOptions{ID: m.Query.Get("engagement"), Source: m.Source})
	if err != nil {
		return nil, err
	}
	e := &recEngagement{meta: m, pe: pe, inner: FromPipeline(pe), parties: map[inference.Party]*recParty{},
		closed: make(chan struct{}), drained: make(chan struct{})}
	go func() {
		defer close(e.drained)
		for seg := range pe.Segments() {
			if seg.Final {
				e.mu.Lock()
				e.finals = append(e.finals, seg)
				e.mu.Unlock()
			}
		}
	}()
	c.opened <- e
	return e, nil
}

type recEngagement struct {
	meta    Meta
	pe      *pipeline.Engagement
	inner   Engagement
	mu      sync.Mutex
	parties map[inference.Party]*recParty
	finals  []pipeline.Segment
	dtmf    []string
	closes  int
	err     error
	closed  chan struct{}
	drained chan struct{}
}

func (e *recEngagement) AddParty(name string, f codec.Format, ch int) (Party, error) {
	inner, err := e.inner.AddParty(name, f, ch)
	if err != nil {
		return nil, err
	}
	dec, err := codec.NewDecoder(f)
	if err != nil {
		return nil, err
	}
	p := &recParty{inner: inner, dec: dec, ch: ch, format: f}
	e.mu.Lock()
	e.parties[inference.Party(name)] = p
	e.mu.Unlock()
	return p, nil
}

func (e *recEngagement) DTMF(party, digit string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.dtmf = append(e.dtmf, party+":"+digit)
}

func (e *recEngagement) Close(err error) {
	e.mu.Lock()
	e.closes++
	n := e.closes
	e.err = err
	e.mu.Unlock()
	if n == 1 {
		e.inner.Close(err)
		close(e.closed)
	}
}

func (e *recEngagement) party(p inference.Party) *recParty {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.parties[p]
}

func (e *recEngagement) waitClosed(t *testing.T) error {
	t.Helper()
	select {
	case <-e.closed:
	case <-time.After(20 * time.Second):
		t.Fatal("engagement not closed")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closes != 1 {
		t.Errorf("engagement closed %d times, want 1", e.closes)
	}
	return e.err
}

// transcript waits for the pipeline to drain and returns a party's final text.
func (e *recEngagement) transcript(t *testing.T, party inference.Party) string {
	t.Helper()
	select {
	case <-e.drained:
	case <-time.After(120 * time.Second):
		t.Fatal("pipeline did not drain within 120 s")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	var words []string
	for _, s := range e.finals {
		if s.Party == string(party) && s.Text != "" {
			words = append(words, s.Text)
		}
	}
	return strings.Join(words, " ")
}

// recParty forwards to the pipeline's party and keeps the decoded audio of
// its channel (no gap filling) to compare with what was sent.
type recParty struct {
	inner  Party
	dec    codec.Decoder
	ch     int
	format codec.Format
	mu     sync.Mutex
	pcm    []int16
}

func (p *recParty) keep(payload []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	all, err := p.dec.Decode(nil, payload)
	if err != nil {
		return
	}
	n := p.dec.Channels()
	for i := p.ch; i < len(all); i += n {
		p.pcm = append(p.pcm, all[i])
	}
}

func (p *recParty) WriteRTP(seq uint16, ts uint32, payload []byte) error {
	p.keep(payload)
	return p.inner.WriteRTP(seq, ts, payload)
}

func (p *recParty) Write(payload []byte) error {
	p.keep(payload)
	return p.inner.Write(payload)
}

func (p *recParty) audio() []int16 {
	if p == nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]int16(nil), p.pcm...)
}

type env struct {
	srv *Server
	col *collector
	hs  *httptest.Server
	reg *prometheus.Registry
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
	col := &collector{pipe: p, opened: make(chan *recEngagement, 16)}
	srv, err := New(cfg, slog.New(slog.NewTextHandler(t.Output(), nil)), reg, col)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+testToken {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		srv.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		_ = srv.Close()
		hs.Close()
	})
	return &env{srv: srv, col: col, hs: hs, reg: reg}
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

// closeStatus waits for the server to close c and returns the status.
func closeStatus(t *testing.T, c *websocket.Conn) websocket.StatusCode {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		if _, _, err := c.Read(ctx); err != nil {
			if ctx.Err() != nil {
				t.Fatal("server did not close the stream within 20 s")
			}
			return websocket.CloseStatus(err)
		}
	}
}

// Recorded read speech from Debian's pocketsphinx-testdata (LibriVox).
const testData = "/usr/share/pocketsphinx/test/data/librivox/"

var utterances = map[string]string{
	"0890": "unless to be rather cold hearted and rather selfish is to be ill disposed",
	"0920": "had he married a more a amiable woman he might have been made still more respectable than he was",
	"0930": "he might even have been made amiable himself",
}

// speech converts a test utterance with sox (half a second of silence
// before and after) to raw audio: encoding "mu-law" at 8 kHz, or
// "signed-integer" 16-bit little-endian at rate. It returns the bytes and
// what is said.
func speech(t *testing.T, id, encoding string, rate int) ([]byte, string) {
	t.Helper()
	src := testData + "sense_and_sensibility_01_austen_64kb-" + id + ".wav"
	if _, err := os.Stat(src); err != nil {
		t.Fatalf("test speech missing (Debian package pocketsphinx-testdata, in the Makefile's DEBS_TEST): %v", err)
	}
	out := filepath.Join(t.TempDir(), "speech.raw")
	bits := "16"
	if encoding == "mu-law" {
		bits = "8"
	}
	if b, err := exec.Command("sox", src, "-r", strconv.Itoa(rate), "-c", "1", "-e", encoding, "-b", bits,
		"-L", "-t", "raw", out, "pad", "0.5", "0.5").CombinedOutput(); err != nil {
		t.Fatalf("sox: %v: %s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b, utterances[id]
}

func le16(b []byte) []int16 {
	s := make([]int16, len(b)/2)
	for i := range s {
		s[i] = int16(binary.LittleEndian.Uint16(b[2*i:]))
	}
	return s
}

// wordsFound returns how many of want's words occur in got.
func wordsFound(want, got string) (int, int) {
	have := map[string]bool{}
	for _, w := range strings.Fields(strings.ToLower(got)) {
		have[w] = true
	}
	n := 0
	ws := strings.Fields(strings.ToLower(want))
	for _, w := range ws {
		if have[w] {
			n++
		}
	}
	return n, len(ws)
}
