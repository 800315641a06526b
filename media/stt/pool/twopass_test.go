package pool_test

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/earshot/earshot/media/codec"
	"github.com/earshot/earshot/media/pipeline"
	"github.com/earshot/earshot/media/stt/pocketsphinx"
	"github.com/earshot/earshot/media/stt/pool"
	"github.com/earshot/earshot/media/stt/whisperhttp/whispertest"
	"github.com/earshot/earshot/media/wav"
)

// Real PocketSphinx on real speech (Debian pocketsphinx-en-us and
// pocketsphinx-testdata); the Whisper-class server is a stand-in
// (whispertest), since no Whisper model weights can be had here.

const librivox = "/usr/share/pocketsphinx/test/data/librivox/sense_and_sensibility_01_austen_64kb-"

var (
	engOnce sync.Once
	eng     *pocketsphinx.Engine
	engErr  error
)

func localEngine(t *testing.T) *pocketsphinx.Engine {
	t.Helper()
	engOnce.Do(func() {
		cfg := pocketsphinx.DefaultConfig()
		cfg.Search = pocketsphinx.SearchFast // quick unit tests; accuracy is measured by the evals
		cfg.MaxDecoders = 6
		eng, engErr = pocketsphinx.New(cfg, nil)
	})
	if engErr != nil {
		t.Fatalf("PocketSphinx (Debian pocketsphinx-en-us, libpocketsphinx-dev): %v", engErr)
	}
	return eng
}

// speech is two LibriVox utterances with a second of silence between.
func speech(t *testing.T) []int16 {
	t.Helper()
	var pcm []int16
	for _, id := range []string{"0880", "0890"} {
		b, err := os.ReadFile(librivox + id + ".wav")
		if err != nil {
			t.Fatalf("test speech (Debian pocketsphinx-testdata): %v", err)
		}
		f, err := wav.Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		pcm = append(append(pcm, f.Samples()...), make([]int16, 16000)...)
	}
	return pcm
}

type rig struct {
	srv  *whispertest.Server
	pool *pool.Pool
	reg  *prometheus.Registry
	p    *pipeline.Pipeline

	mu    sync.Mutex
	heard []string // what the stand-in answered
}

func newRig(t *testing.T, mode string, mut func(*pool.Config)) *rig {
	t.Helper()
	r := &rig{srv: whispertest.New(t, whispertest.WhisperCpp), reg: prometheus.NewRegistry()}
	r.srv.SetTranscript(func(pcm []int16) string {
		text := fmt.Sprintf("utterance of %d centiseconds", len(pcm)/160)
		r.mu.Lock()
		r.heard = append(r.heard, text)
		r.mu.Unlock()
		return text
	})
	cfg := pool.DefaultConfig()
	cfg.Servers = []pool.ServerConfig{{Name: "w", URL: r.srv.URL, API: "whisper.cpp", MaxInFlight: 4}}
	cfg.Timeout = 3 * time.Second
	if mut != nil {
		mut(&cfg)
	}
	var err error
	if r.pool, err = pool.New(cfg, nil, r.reg, nil); err != nil {
		t.Fatal(err)
	}
	e, err := pool.NewEngine(localEngine(t), r.pool, mode)
	if err != nil {
		t.Fatal(err)
	}
	if r.p, err = pipeline.New(pipeline.DefaultConfig(), nil, r.reg, e); err != nil {
		t.Fatal(err)
	}
	return r
}

// run feeds pcm as one party and returns the segments; onFinal, when set,
// sees each segment as it arrives.
func (r *rig) run(t *testing.T, offline bool, pcm []int16, onSegment func(pipeline.Segment)) []pipeline.Segment {
	t.Helper()
	e, err := r.p.Open(context.Background(), pipeline.OpenOptions{ID: "e1", Source: "test", Offline: offline, Blocking: offline})
	if err != nil {
		t.Fatal(err)
	}
	pt, err := e.AddParty(pipeline.PartyOptions{Name: "customer", Format: codec.Format{Codec: codec.L16, SampleRate: 16000}})
	if err != nil {
		t.Fatal(err)
	}
	for off := 0; off < len(pcm); off += 320 {
		if err := pt.WritePCM(pcm[off:min(off+320, len(pcm))]); err != nil {
			t.Fatal(err)
		}
	}
	e.Close()
	var segs []pipeline.Segment
	timeout := time.After(time.Minute)
	for {
		select {
		case s, ok := <-e.Segments():
			if !ok {
				return segs
			}
			if onSegment != nil {
				onSegment(s)
			}
			segs = append(segs, s)
		case <-timeout:
			t.Fatal("segments not closed within a minute")
		}
	}
}

func finals(segs []pipeline.Segment) (local, revised []pipeline.Segment) {
	for _, s := range segs {
		switch {
		case s.Revises != 0:
			revised = append(revised, s)
		case s.Final:
			local = append(local, s)
		}
	}
	return local, revised
}

// TestTwoPassRevises: every utterance's local final comes at once and is
// replaced by the server's transcript: same times, Revises naming it,
// words on the engagement's clock within the utterance.
func TestTwoPassRevises(t *testing.T) {
	r := newRig(t, pool.Revise, nil)
	segs := r.run(t, true, speech(t), nil)
	local, revised := finals(segs)
	if len(local) < 2 {
		t.Fatalf("%d local finals, want at least 2: %+v", len(local), segs)
	}
	if len(revised) != len(local) || r.srv.Calls() != len(local) {
		t.Fatalf("%d local finals, %d revisions, %d server calls; want equal", len(local), len(revised), r.srv.Calls())
	}
	bySeq := map[uint64]pipeline.Segment{}
	for _, s := range local {
		bySeq[s.Seq] = s
	}
	r.mu.Lock()
	heard := map[string]bool{}
	for _, h := range r.heard {
		heard[h] = true
	}
	r.mu.Unlock()
	for _, rv := range revised {
		orig, ok := bySeq[rv.Revises]
		if !ok {
			t.Errorf("revision %d revises %d, which is no local final", rv.Seq, rv.Revises)
			continue
		}
		delete(bySeq, rv.Revises)
		if rv.Seq <= orig.Seq || rv.Party != orig.Party || rv.StartMs != orig.StartMs || rv.EndMs != orig.EndMs {
			t.Errorf("revision %+v of %+v: want a later seq, same party and times", rv, orig)
		}
		if !heard[rv.Text] {
			t.Errorf("revision text %q is not what the server answered", rv.Text)
		}
		for _, w := range rv.Words {
			if w.StartMs < orig.StartMs-300 || w.EndMs > orig.EndMs+300 {
				t.Errorf("revision word %+v outside the utterance %d-%d", w, orig.StartMs, orig.EndMs)
			}
		}
	}
	if n := testutil.ToFloat64(metric(t, r.reg, "earshot_stt_pool_revisions_total", "outcome", "replaced")); int(n) != len(local) {
		t.Errorf("revisions_total{replaced} = %v, want %d", n, len(local))
	}
}

// TestTwoPassServerFails: when the server is slow, down, or answers
// wrongly, every local final stands, no revision is made, and the failure
// is counted.
func TestTwoPassServerFails(t *testing.T) {
	for _, tt := range []struct {
		name    string
		setup   func(*rig)
		metric  string
		label   string
		outcome string
	}{
		{"slow", func(r *rig) { r.srv.SetLatency(5 * time.Second) }, "earshot_stt_pool_requests_total", "outcome", "timeout"},
		{"hangs", func(r *rig) { r.srv.SetFault(whispertest.Hang) }, "earshot_stt_pool_requests_total", "outcome", "timeout"},
		{"500", func(r *rig) { r.srv.SetFault(whispertest.Status500) }, "earshot_stt_pool_requests_total", "outcome", "status"},
		{"html", func(r *rig) { r.srv.SetFault(whispertest.WrongContentType) }, "earshot_stt_pool_requests_total", "outcome", "bad_response"},
		{"down", func(r *rig) { r.srv.SetDown(true); r.pool.CheckHealth(context.Background()) }, "earshot_stt_pool_skipped_total", "reason", "open"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, pool.Revise, func(c *pool.Config) { c.Timeout = time.Second })
			tt.setup(r)
			segs := r.run(t, true, speech(t), nil)
			local, revised := finals(segs)
			if len(local) < 2 || len(revised) != 0 {
				t.Fatalf("%d local finals and %d revisions; want the local ones only", len(local), len(revised))
			}
			for _, s := range local {
				if s.Text == "" {
					t.Errorf("empty local final %+v", s)
				}
			}
			if n := testutil.ToFloat64(metric(t, r.reg, tt.metric, tt.label, tt.outcome)); n < 1 {
				t.Errorf("%s{%s=%s} = %v, want the failure counted", tt.metric, tt.label, tt.outcome, n)
			}
		})
	}
}

// TestTwoPassNeverWaits: a live engagement's local final is delivered
// while the server is still working on that utterance; only the end of
// the engagement waits (up to the timeout) for the last revisions.
func TestTwoPassNeverWaits(t *testing.T) {
	r := newRig(t, pool.Revise, func(c *pool.Config) { c.Timeout = 2 * time.Second })
	r.srv.SetFault(whispertest.Hang)
	// The pool holds a request's slot from the moment the utterance is
	// sent until the server's answer (here: the timeout); a final that
	// waited on the server would come after the slot was released.
	var inFlightAtFinal []float64
	r.run(t, false, speech(t), func(s pipeline.Segment) {
		if s.Final && s.Revises == 0 {
			inFlightAtFinal = append(inFlightAtFinal, testutil.ToFloat64(metric(t, r.reg, "earshot_stt_pool_in_flight", "server", "w")))
		}
	})
	if len(inFlightAtFinal) == 0 {
		t.Fatal("no final")
	}
	if inFlightAtFinal[0] == 0 {
		t.Errorf("the first final came after its request to the server ended (requests in flight at each final: %v): the live final waited on the server", inFlightAtFinal)
	}
	if n := testutil.ToFloat64(metric(t, r.reg, "earshot_stt_pool_requests_total", "outcome", "timeout")); n != float64(len(inFlightAtFinal)) {
		t.Errorf("requests_total{timeout} = %v, want one per final (%d)", n, len(inFlightAtFinal))
	}
}

// TestTwoPassCapacity: several parties at once never have more requests
// in flight than the server's limit; those refused keep their local final
// and are counted.
func TestTwoPassCapacity(t *testing.T) {
	r := newRig(t, pool.Revise, func(c *pool.Config) { c.Servers[0].MaxInFlight = 1 })
	r.srv.SetLatency(1500 * time.Millisecond)
	pcm := speech(t)
	e, err := r.p.Open(context.Background(), pipeline.OpenOptions{ID: "e2", Source: "test", Offline: true, Blocking: true})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for _, name := range []string{"a", "b", "c"} {
		pt, err := e.AddParty(pipeline.PartyOptions{Name: name, Format: codec.Format{Codec: codec.L16, SampleRate: 16000}})
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for off := 0; off < len(pcm); off += 320 {
				pt.WritePCM(pcm[off:min(off+320, len(pcm))])
			}
		}()
	}
	wg.Wait()
	e.Close()
	var segs []pipeline.Segment
	for s := range e.Segments() {
		segs = append(segs, s)
	}
	local, revised := finals(segs)
	if r.srv.MaxInFlight() != 1 {
		t.Errorf("server saw %d requests at once, limit 1", r.srv.MaxInFlight())
	}
	busy := testutil.ToFloat64(metric(t, r.reg, "earshot_stt_pool_skipped_total", "reason", "busy"))
	if busy < 1 || int(busy)+r.srv.Calls() != len(local) {
		t.Errorf("%d local finals, %d sent, %v refused as busy: want every final either sent or counted, some refused", len(local), r.srv.Calls(), busy)
	}
	if len(revised) != r.srv.Calls() {
		t.Errorf("%d revisions for %d requests", len(revised), r.srv.Calls())
	}
}

// TestDeferred: engine whisper-http with the local recogniser as fallback:
// no partials, one final per utterance: the server's, or the local one
// when the server fails.
func TestDeferred(t *testing.T) {
	for _, fail := range []bool{false, true} {
		t.Run(fmt.Sprint("fail=", fail), func(t *testing.T) {
			r := newRig(t, pool.Deferred, nil)
			if fail {
				r.srv.SetFault(whispertest.Status500)
			}
			segs := r.run(t, true, speech(t), nil)
			var texts []string
			for _, s := range segs {
				if !s.Final || s.Revises != 0 {
					t.Errorf("segment %+v: want finals only, none revising", s)
				}
				texts = append(texts, s.Text)
			}
			if len(segs) < 2 || len(segs) != r.srv.Calls() {
				t.Fatalf("%d finals for %d server calls", len(segs), r.srv.Calls())
			}
			r.mu.Lock()
			heard := append([]string(nil), r.heard...)
			r.mu.Unlock()
			for _, text := range texts {
				fromServer := false
				for _, h := range heard {
					fromServer = fromServer || h == text
				}
				if fromServer == fail {
					t.Errorf("final %q: from the server = %v, want %v", text, fromServer, !fail)
				}
			}
		})
	}
}

// metric finds one labelled series in reg.
func metric(t *testing.T, reg *prometheus.Registry, name, label, value string) prometheus.Collector {
	t.Helper()
	return collectorFunc(func(ch chan<- prometheus.Metric) {
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() != name {
				continue
			}
			for _, m := range mf.GetMetric() {
				for _, l := range m.GetLabel() {
					if l.GetName() == label && l.GetValue() == value {
						v := m.GetCounter().GetValue()
						if g := m.GetGauge(); g != nil {
							v = g.GetValue()
						}
						ch <- prometheus.MustNewConstMetric(prometheus.NewDesc(name, "", nil, nil), prometheus.CounterValue, v)
						return
					}
				}
			}
		}
		ch <- prometheus.MustNewConstMetric(prometheus.NewDesc(name, "", nil, nil), prometheus.CounterValue, 0)
	})
}

type collectorFunc func(chan<- prometheus.Metric)

func (f collectorFunc) Describe(chan<- *prometheus.Desc)    {}
func (f collectorFunc) Collect(ch chan<- prometheus.Metric) { f(ch) }
