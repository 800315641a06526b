package whip

import (
	"context"
	"fmt"
	"strings"
	"time"

	"encoding/binary"
	"github.com/earshot/earshot/media/codec"
	"github.com/earshot/earshot/media/pipeline"
	"github.com/earshot/earshot/media/stt/pocketsphinx"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"github.com/earshot/earshot/inference"
	"github.com/prometheus/client_golang/prometheus"
)

const testToken = "test-ingest-token"

// engine is the package's shared PocketSphinx engine (see TestMain).
var engine *pocketsphinx.Engine

func TestMain(m *testing.M) {
	var err error
	engine, err = pocketsphinx.New(pocketsphinx.DefaultConfig(), nil)
	if err != nil {
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
	cfg := pipeline.DefaultConfig()
	p, err := pipeline.New(cfg, nil, prometheus.NewRegistry(), engine)
	if err != nil {
		t.Fatal(err)
	}
	return &collector{pipe: p, opened: make(chan *recEngagement, 16)}
}

func (c *collector) Open(ctx context.Context, m Meta) (Engagement, error) {
	if c.refuse != nil {
		return nil, c.refuse
	}
	// The engagement outlives the POST request: not its context.
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
	closes  int
	err     error
	closed  chan struct{}
	drained chan struct{} // the pipeline's Segments channel is closed
}

func (e *recEngagement) AddParty(name string, f codec.Format) (Party, error) {
	inner, err := e.inner.AddParty(name, f)
	if err != nil {
		return nil, err
	}
	dec, err := codec.NewDecoder(f)
	if err != nil {
		return nil, err
	}
	p := &recParty{inner: inner, dec: dec, format: f}
	e.mu.Lock()
	e.parties[inference.Party(name)] = p
	e.mu.Unlock()
	return p, nil
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

// transcript waits for the pipeline to drain and returns the final text of
// a party.
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

// recParty forwards to the pipeline's party and keeps its own decode of
// every payload (no gap filling) to compare with the source audio.
type recParty struct {
	inner  Party
	dec    codec.Decoder
	format codec.Format
	mu     sync.Mutex
	pcm    []int16
}

func (p *recParty) WriteRTP(seq uint16, ts uint32, payload []byte) error {
	p.mu.Lock()
	p.pcm, _ = p.dec.Decode(p.pcm, payload)
	p.mu.Unlock()
	return p.inner.WriteRTP(seq, ts, payload)
}

func (p *recParty) audio() ([]int16, int) {
	if p == nil {
		return nil, 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]int16(nil), p.pcm...), p.dec.SampleRate()
}

func (p *recParty) seconds() float64 {
	pcm, rate := p.audio()
	if rate == 0 {
		return 0
	}
	return float64(len(pcm)) / float64(rate)
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

// Recorded read speech from Debian's pocketsphinx-testdata (LibriVox,
// public domain) with its reference transcripts.
const testData = "/usr/share/pocketsphinx/test/data/librivox/"

var utterances = map[string]string{
	"0880": "he was not an ill disposed young man",
	"0890": "unless to be rather cold hearted and rather selfish is to be ill disposed",
	"0920": "had he married a more a amiable woman he might have been made still more respectable than he was",
	"0930": "he might even have been made amiable himself",
}

// speech converts a test utterance with sox to a WAV file of the given rate
// (mono, 16-bit), with half a second of silence before and after; it
// returns the file, its samples and what is said.
func speech(t *testing.T, id string, rate int) (string, []int16, string) {
	t.Helper()
	src := testData + "sense_and_sensibility_01_austen_64kb-" + id + ".wav"
	if _, err := os.Stat(src); err != nil {
		t.Fatalf("test speech missing (Debian package pocketsphinx-testdata, in the Makefile's DEBS_TEST): %v", err)
	}
	wav := filepath.Join(t.TempDir(), "speech.wav")
	if out, err := exec.Command("sox", src, "-r", itoa(rate), "-c", "1", "-b", "16", "-e", "signed-integer", wav,
		"pad", "0.5", "0.5").CombinedOutput(); err != nil {
		t.Fatalf("sox: %v: %s", err, out)
	}
	return wav, readWAV(t, wav), utterances[id]
}

func itoa(n int) string { return strconv.Itoa(n) }

// readWAV returns the samples of a 16-bit mono PCM WAV file.
func readWAV(t *testing.T, path string) []int16 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Walk the RIFF chunks to "data".
	for i := 12; i+8 <= len(b); {
		id, n := string(b[i:i+4]), int(binary.LittleEndian.Uint32(b[i+4:]))
		if id == "data" {
			d := b[i+8 : min(len(b), i+8+n)]
			s := make([]int16, len(d)/2)
			for j := range s {
				s[j] = int16(binary.LittleEndian.Uint16(d[2*j:]))
			}
			return s
		}
		i += 8 + n + n%2
	}
	t.Fatalf("%s: no data chunk", path)
	return nil
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
// the highest Pearson correlation and its lag in frames. It compares the
// shape of the speech (syllable energy over time), so it holds across
// codecs and resampling but fails for silence, noise or garbled audio.
func bestMatch(src []int16, srcRate int, got []int16, gotRate int) (float64, int) {
	a, b := envelope(src, srcRate), envelope(got, gotRate)
	if short := len(a) - len(b); short > 0 && short <= len(a)/10 {
		// A client may stop a few frames early: pad with silence.
		b = append(b, envelope(make([]int16, short*gotRate/50), gotRate)...)
	}
	best, lag := -1.0, -1
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
