package whip

import (
	"context"
	"encoding/binary"
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

// collector is an Opener whose sinks record everything they receive.
type collector struct {
	mu     sync.Mutex
	sinks  []*recSink
	opened chan *recSink
	refuse error
}

func newCollector() *collector { return &collector{opened: make(chan *recSink, 16)} }

func (c *collector) Open(_ context.Context, m Meta) (Sink, error) {
	if c.refuse != nil {
		return nil, c.refuse
	}
	s := &recSink{meta: m, pcm: map[inference.Party][]int16{}, codec: map[inference.Party]string{},
		rate: map[inference.Party]int{}, closed: make(chan struct{})}
	c.mu.Lock()
	c.sinks = append(c.sinks, s)
	c.mu.Unlock()
	c.opened <- s
	return s, nil
}

type recSink struct {
	meta    Meta
	mu      sync.Mutex
	pcm     map[inference.Party][]int16
	codec   map[inference.Party]string
	rate    map[inference.Party]int
	audio   int // samples of decoded (not inserted) audio, all parties
	silence int // samples of inserted silence
	closes  int
	err     error
	closed  chan struct{}
}

func (s *recSink) OnAudio(c Chunk) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closes > 0 {
		panic("OnAudio after Close")
	}
	s.pcm[c.Party] = append(s.pcm[c.Party], c.PCM...)
	s.codec[c.Party] = c.Codec
	s.rate[c.Party] = c.SampleRate
	if c.Silence {
		s.silence += len(c.PCM)
	} else {
		s.audio += len(c.PCM)
	}
}

func (s *recSink) Close(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closes++
	s.err = err
	if s.closes == 1 {
		close(s.closed)
	}
}

func (s *recSink) audioSeconds(rate int) float64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return float64(s.audio) / float64(rate)
}

func (s *recSink) party(p inference.Party) ([]int16, string, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int16(nil), s.pcm[p]...), s.codec[p], s.rate[p]
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
	col := newCollector()
	srv, err := New(cfg, nil, reg, col)
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

// speech synthesises text with espeak-ng and converts it with sox to a WAV
// file of the given rate (mono, 16-bit); it returns the file and its samples.
func speech(t *testing.T, text string, rate int) (string, []int16) {
	t.Helper()
	dir := t.TempDir()
	raw := filepath.Join(dir, "espeak.wav")
	if out, err := exec.Command("espeak-ng", "-s", "150", "-w", raw, text).CombinedOutput(); err != nil {
		t.Fatalf("espeak-ng: %v: %s", err, out)
	}
	wav := filepath.Join(dir, "speech.wav")
	if out, err := exec.Command("sox", raw, "-r", itoa(rate), "-c", "1", "-b", "16", "-e", "signed-integer", wav).CombinedOutput(); err != nil {
		t.Fatalf("sox: %v: %s", err, out)
	}
	return wav, readWAV(t, wav)
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
