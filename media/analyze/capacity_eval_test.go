//go:build eval

package analyze

import (
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/earshot/earshot/internal/testdep"
	"github.com/earshot/earshot/media/audio"
	"github.com/earshot/earshot/media/codec"
	"github.com/earshot/earshot/media/ingest/ingesttest"
	"github.com/earshot/earshot/media/pipeline"
	"github.com/earshot/earshot/media/stt/pocketsphinx"
	"github.com/earshot/earshot/media/wav"
	"github.com/prometheus/client_golang/prometheus"
)

func rssKB() int64 {
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			var kb int64
			fmt.Sscanf(strings.TrimPrefix(l, "VmRSS:"), "%d", &kb)
			return kb
		}
	}
	return 0
}

// longAudio concatenates the LibriVox recordings n times (16 kHz).
func longAudio(t *testing.T, n int) []int16 {
	var pcm []int16
	for range n {
		for _, u := range readRefs(t, testdataDir+"/librivox/transcription") {
			pcm = append(pcm, mustParseWAV(t, filepath.Join(testdataDir, "librivox", u.id+".wav")).Samples()...)
			pcm = append(pcm, make([]int16, 8000)...) // 0.5 s pause between sentences
		}
	}
	return pcm
}

// TestEvalOverhead compares the CPU of the whole pipeline (WAV parse, VAD,
// recogniser, segments) with bare pocketsphinx_continuous on the same
// audio and the same search settings, decoder initialisation excluded
// from both.
func TestEvalOverhead(t *testing.T) {
	testdep.File(t, testdataDir, "pocketsphinx-testdata")
	tmp := t.TempDir()
	pcm := longAudio(t, 4)
	secs := float64(len(pcm)) / 16000
	long := filepath.Join(tmp, "long.wav")
	os.WriteFile(long, wav.Encode(wav.Format{Encoding: wav.PCM, SampleRate: 16000, Channels: 1, BitsPerSample: 16}, audio.Bytes(nil, pcm)), 0o600)
	short := filepath.Join(tmp, "short.wav")
	os.WriteFile(short, wav.Encode(wav.Format{Encoding: wav.PCM, SampleRate: 16000, Channels: 1, BitsPerSample: 16}, make([]byte, 3200)), 0o600)
	for _, search := range []string{pocketsphinx.SearchFast, pocketsphinx.SearchAccurate} {
		var extra []string
		if search == pocketsphinx.SearchFast {
			extra = pocketsphinx.FastArgs()
		}
		_, initCPU := continuous(t, short, extra...)
		_, contCPU := continuous(t, long, extra...)
		contCPU -= initCPU
		cfg := pocketsphinx.DefaultConfig()
		cfg.Search = search
		a, _ := newTestAnalyzer(t, cfg, pipeline.DefaultConfig())
		b, _ := os.ReadFile(long)
		c0 := ingesttest.CPUTime()
		r, err := a.Analyze(context.Background(), b, Options{})
		if err != nil {
			t.Fatal(err)
		}
		pipeCPU := ingesttest.CPUTime() - c0
		var recCPU time.Duration
		for _, s := range r.Stats {
			recCPU += s.RecognizerCPU
		}
		t.Logf("%-8s audio %.1f s | pocketsphinx_continuous %.2f CPU-s (%.3f per audio s, init %.2f s excluded) | pipeline %.2f CPU-s (%.3f per audio s; recogniser thread %.2f) | overhead %+.1f%%",
			search, secs, contCPU.Seconds(), contCPU.Seconds()/secs, initCPU.Seconds(), pipeCPU.Seconds(), pipeCPU.Seconds()/secs,
			recCPU.Seconds(), 100*(pipeCPU.Seconds()/contCPU.Seconds()-1))
	}
	t.Log("target: pipeline overhead under 10% against bare pocketsphinx_continuous")
}

// TestEvalConcurrentStreams feeds N live parties in real time (20 ms
// packets of 8 kHz mu-law RTP, paced by the wall clock) and reports whether
// the backlog grows, the end-of-utterance -> final segment latency, the
// recogniser CPU per audio second and the memory per stream.
func TestEvalConcurrentStreams(t *testing.T) {
	testdep.File(t, testdataDir, "pocketsphinx-testdata")
	counts := []int{4, 6, 8}
	if v := os.Getenv("EARSHOT_EVAL_STREAMS"); v != "" {
		counts = nil
		for _, f := range strings.Split(v, ",") {
			var n int
			fmt.Sscanf(f, "%d", &n)
			counts = append(counts, n)
		}
	}
	dur := 60 * time.Second
	if v := os.Getenv("EARSHOT_EVAL_STREAM_SECONDS"); v != "" {
		var s int
		fmt.Sscanf(v, "%d", &s)
		dur = time.Duration(s) * time.Second
	}
	pcm := longAudio(t, 8)
	down, _ := audio.NewResampler(16000, 8000)
	ulaw := codec.EncodeMulaw(nil, down.Flush(down.Process(nil, pcm)))
	if out, err := exec.Command("nproc").Output(); err == nil {
		t.Logf("cores: %s; load average: %s", strings.TrimSpace(string(out)), loadavg())
	}
	for _, n := range counts {
		cfg := pocketsphinx.DefaultConfig()
		cfg.MaxDecoders, cfg.Warm = n, 0
		if a := os.Getenv("EARSHOT_EVAL_PSARGS"); a != "" {
			cfg.Args = strings.Fields(a)
		}
		eng, err := pocketsphinx.New(cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		reg := prometheus.NewRegistry()
		pcfg := pipeline.DefaultConfig()
		pcfg.MaxEngagements = n
		p, err := pipeline.New(pcfg, nil, reg, eng)
		if err != nil {
			t.Fatal(err)
		}
		rss0 := rssKB()
		var parties []*pipeline.Party
		var engs []*pipeline.Engagement
		for i := range n {
			e, err := p.Open(context.Background(), pipeline.OpenOptions{ID: fmt.Sprint(i), Source: "sip"})
			if err != nil {
				t.Fatal(err)
			}
			pt, err := e.AddParty(pipeline.PartyOptions{Name: "caller", Format: codec.Format{Codec: codec.PCMU}})
			if err != nil {
				t.Fatal(err)
			}
			go func() {
				for range e.Segments() {
				}
			}()
			parties, engs = append(parties, pt), append(engs, e)
		}
		rssPer := float64(rssKB()-rss0) / 1024 / float64(n)
		var wg sync.WaitGroup
		var maxBacklog time.Duration
		var backlogs []time.Duration
		stop := make(chan struct{})
		go func() { // sample the backlog every second
			tk := time.NewTicker(time.Second)
			defer tk.Stop()
			for {
				select {
				case <-stop:
					return
				case <-tk.C:
					b := p.Backlog()
					backlogs = append(backlogs, b)
					maxBacklog = max(maxBacklog, b)
				}
			}
		}()
		start := time.Now()
		var overflow int
		var mu sync.Mutex
		for i, pt := range parties {
			wg.Add(1)
			go func() {
				defer wg.Done()
				off := (i * 8000 * 3) % len(ulaw) // stagger the speakers
				seq, ts := uint16(0), uint32(0)
				for k := 0; time.Since(start) < dur; k++ {
					next := start.Add(time.Duration(k) * 20 * time.Millisecond)
					time.Sleep(time.Until(next))
					if off+160 > len(ulaw) {
						off = 0
					}
					if err := pt.WriteRTP(seq, ts, ulaw[off:off+160]); err != nil {
						mu.Lock()
						overflow++
						mu.Unlock()
					}
					off += 160
					seq++
					ts += 160
				}
			}()
		}
		wg.Wait()
		close(stop)
		cpuPerSec := 0.0
		var recMs int64
		for _, e := range engs {
			e.Close()
			e.Wait(context.Background())
			for _, s := range e.Stats() {
				cpuPerSec += s.RecognizerCPU.Seconds()
				recMs += s.RecognizedMs
			}
		}
		p50, p95 := histQuantiles(t, reg, "earshot_pipeline_final_segment_latency_seconds")
		growing := len(backlogs) > 4 && backlogs[len(backlogs)-1] > backlogs[len(backlogs)/2]+time.Second
		t.Logf("%d streams x %s: max backlog %s (last %s, growing %v), overflowed writes %d, final latency p50 %.0f ms p95 %.0f ms, recogniser CPU %.3f s per audio s (speech fed %.0f%%), RSS %.0f MB per stream",
			n, dur, maxBacklog.Round(time.Millisecond), lastOr(backlogs).Round(time.Millisecond), growing, overflow, p50*1000, p95*1000,
			cpuPerSec/(float64(n)*dur.Seconds()), 100*float64(recMs)/1000/(float64(n)*dur.Seconds()), rssPer)
		eng.Close()
	}
	t.Log("targets: at least 6 streams in real time with no growing backlog; p95 end-of-utterance -> final under 400 ms")
}

func lastOr(b []time.Duration) time.Duration {
	if len(b) == 0 {
		return 0
	}
	return b[len(b)-1]
}

func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	return strings.TrimSpace(string(b))
}

// histQuantiles estimates p50 and p95 from a histogram by linear
// interpolation inside buckets (as PromQL histogram_quantile does).
func histQuantiles(t *testing.T, reg *prometheus.Registry, name string) (float64, float64) {
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	type bk struct {
		le  float64
		cnt uint64
	}
	var bs []bk
	var total uint64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			h := m.GetHistogram()
			total += h.GetSampleCount()
			for i, b := range h.GetBucket() {
				if len(bs) <= i {
					bs = append(bs, bk{le: b.GetUpperBound()})
				}
				bs[i].cnt += b.GetCumulativeCount()
			}
		}
	}
	sort.Slice(bs, func(i, j int) bool { return bs[i].le < bs[j].le })
	q := func(p float64) float64 {
		if total == 0 {
			return math.NaN()
		}
		rank := p * float64(total)
		lo, prev := 0.0, uint64(0)
		for _, b := range bs {
			if float64(b.cnt) >= rank {
				return lo + (b.le-lo)*(rank-float64(prev))/float64(max(1, b.cnt-prev))
			}
			lo, prev = b.le, b.cnt
		}
		return math.Inf(1)
	}
	return q(0.5), q(0.95)
}
