package lm_test

import (
	"context"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/earshot/earshot/media/stt"
	"github.com/earshot/earshot/media/stt/lm"
	"github.com/earshot/earshot/media/stt/pocketsphinx"
	"github.com/earshot/earshot/media/wav"
	"github.com/earshot/earshot/media/wer"
)

// texts is a Source held in memory.
type texts struct {
	mu   sync.Mutex
	docs map[string][]string
}

func (s *texts) Profiles(context.Context) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for p := range s.docs {
		out = append(out, p)
	}
	return out, nil
}

func (s *texts) Text(_ context.Context, p string) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.docs[p]...), nil
}

func (s *texts) set(p string, docs ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.docs[p] = docs
}

// installer puts models into a real PocketSphinx engine.
type installer struct {
	e   *pocketsphinx.Engine
	got []lm.Built
}

func (i *installer) Install(profile string, b lm.Built) error {
	i.got = append(i.got, b)
	return i.e.SetDomainLM(profile, pocketsphinx.DomainLM{Path: b.Path, Version: b.Version, Weight: 0.5})
}

func recognise(t *testing.T, e *pocketsphinx.Engine, profile string, pcm []int16) string {
	t.Helper()
	st, err := e.NewStream(context.Background(), stt.StreamOptions{Profile: profile})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var out []string
	for off := 0; off < len(pcm); off += 320 {
		res, err := st.Write(pcm[off:min(off+320, len(pcm))])
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res {
			if r.Final {
				out = append(out, r.Text)
			}
		}
	}
	res, err := st.EndUtterance()
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		out = append(out, r.Text)
	}
	return strings.Join(out, " ")
}

// TestManager builds a queue's model from its text in memory, installs
// it in a real PocketSphinx engine (interpolated with the general model)
// which then recognises real speech with it; unchanged text is not
// rebuilt, changed text makes a new version, and old versions are let go.
func TestManager(t *testing.T) {
	cfg := pocketsphinx.DefaultConfig()
	cfg.Search = pocketsphinx.SearchFast // quick unit tests; accuracy is measured by the evals
	cfg.MaxDecoders, cfg.Warm = 2, 0
	e, err := pocketsphinx.New(cfg, nil)
	if err != nil {
		t.Fatalf("PocketSphinx (Debian pocketsphinx-en-us): %v", err)
	}
	defer e.Close()
	b, err := os.ReadFile("/usr/share/pocketsphinx/test/data/librivox/sense_and_sensibility_01_austen_64kb-0890.wav")
	if err != nil {
		t.Fatalf("test speech (Debian pocketsphinx-testdata): %v", err)
	}
	f, err := wav.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	pcm := f.Samples()
	const said = "unless to be rather cold hearted and rather selfish is to be ill disposed"

	src := &texts{docs: map[string][]string{}}
	src.set("austen", said+".", "He was rather selfish. To be cold hearted is to be ill disposed.")
	inst := &installer{e: e}
	reg := prometheus.NewRegistry()
	mcfg := lm.DefaultConfig()
	mcfg.Keep = 1
	m, err := lm.NewManager(mcfg, nil, reg, src, inst, e.Known)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	general := recognise(t, e, "", pcm)
	t.Logf("general: %s", time.Since(t0))
	m.Refresh(context.Background())
	cur, ok := m.Current("austen")
	if !ok || len(inst.got) != 1 || cur.Stats.Sentences != 3 {
		t.Fatalf("after the first refresh: current %+v (%v), %d installs", cur, ok, len(inst.got))
	}
	t0 = time.Now()
	domain := recognise(t, e, "austen", pcm)
	t.Logf("domain (first stream: loads the model): %s", time.Since(t0))
	t0 = time.Now()
	recognise(t, e, "austen", pcm)
	t.Logf("domain (second stream): %s", time.Since(t0))
	t.Logf("general model: %q; with the domain model: %q", general, domain)
	wg, wd := wer.Align(wer.Normalize(said), wer.Normalize(general)).WER(), wer.Align(wer.Normalize(said), wer.Normalize(domain)).WER()
	if wd >= wg || wd > 20 {
		t.Errorf("WER %.1f%% with the domain model (holding the sentence), %.1f%% without: want better, at most 20%%", wd, wg)
	}
	// Unchanged text: nothing rebuilt.
	m.Refresh(context.Background())
	if len(inst.got) != 1 {
		t.Errorf("unchanged text rebuilt: %d installs", len(inst.got))
	}
	// Changed text: a new version, in use from the next stream.
	src.set("austen", "Please hold while I check your account.")
	m.Refresh(context.Background())
	next, _ := m.Current("austen")
	if len(inst.got) != 2 || next.Version == cur.Version {
		t.Fatalf("changed text: %d installs, version %s -> %s", len(inst.got), cur.Version, next.Version)
	}
	if _, err := os.Stat(cur.Path); err == nil {
		t.Errorf("old version %s still open with keep 1", cur.Path)
	}
	if got := recognise(t, e, "austen", pcm); got == said && general != said {
		t.Errorf("the new version (other text) still recognises the old text perfectly: old model in use?")
	}
	if n := testutil.ToFloat64(metricOK(reg)); n != 2 {
		t.Errorf("builds_total{ok} = %v, want 2", n)
	}
	// Run stops with its context and lets the models go.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- m.Run(ctx) }()
	m.Trigger()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(next.Path); err == nil {
		t.Errorf("model %s still open after Run returned", next.Path)
	}
}

func metricOK(reg *prometheus.Registry) prometheus.Collector {
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "x"})
	mfs, _ := reg.Gather()
	for _, mf := range mfs {
		if mf.GetName() == "earshot_lm_builds_total" {
			for _, m := range mf.GetMetric() {
				if m.GetLabel()[0].GetValue() == "ok" {
					c.Add(m.GetCounter().GetValue())
				}
			}
		}
	}
	return c
}
