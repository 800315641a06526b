package kb

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/earshot/earshot/inference/kb/internal/evalkit"
	"github.com/earshot/earshot/inference/kb/internal/synth"
)

const (
	benchArticles = 10_000
	benchWords    = 500
)

// corpus returns 10,000 synthetic articles of about 500 words.
func corpus(opts ...synth.Option) []Article {
	g := &textGen{synth.New(42, opts...)}
	arts := make([]Article, benchArticles)
	for i := range arts {
		arts[i] = g.article(fmt.Sprintf("art-%05d", i), benchWords)
	}
	return arts
}

var benchCorpus = sync.OnceValue(func() []Article { return corpus() })

var cpuTime, heapInUse = evalkit.CPUTime, evalkit.HeapInUse

// BenchmarkIndex10k builds an index of 10,000 synthetic articles of about
// 500 words (the rebuild at start), and reports the heap the index holds.
func BenchmarkIndex10k(b *testing.B) { benchIndexBuild(b, benchCorpus()) }

// BenchmarkIndex10kNoFunctionWords is the same with a vocabulary of content
// words only.
func BenchmarkIndex10kNoFunctionWords(b *testing.B) {
	benchIndexBuild(b, corpus(synth.NoFunctionWords))
}

func benchIndexBuild(b *testing.B, arts []Article) {
	var heap uint64
	var cpu time.Duration
	for b.Loop() {
		before := heapInUse()
		cpu0 := cpuTime()
		ix := newTestIndex(b, nil)
		if _, errs := ix.Load(context.Background(), arts, runtime.GOMAXPROCS(0)); len(errs) > 0 {
			b.Fatal(errs[0])
		}
		b.StopTimer()
		cpu += cpuTime() - cpu0
		heap = heapInUse() - before
		st := ix.Stats()
		b.ReportMetric(float64(st.Passages), "passages")
		b.ReportMetric(float64(st.Postings), "postings")
		runtime.KeepAlive(ix)
		b.StartTimer()
	}
	b.ReportMetric(float64(heap)/(1<<20), "heap-MiB")
	b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/op")
}

func buildIndex(arts []Article) *Index {
	ix, err := New(DefaultConfig(), nil, nil, BuiltinSynonyms(), nil)
	if err != nil {
		panic(err)
	}
	if _, errs := ix.Load(context.Background(), arts, runtime.GOMAXPROCS(0)); len(errs) > 0 {
		panic(errs[0])
	}
	return ix
}

var benchIndex = sync.OnceValue(func() *Index { return buildIndex(benchCorpus()) })

// benchQueries returns n queries of the given length drawn from arts.
func benchQueries(arts []Article, n, words int) []string {
	g := newTextGen(7)
	out := make([]string, n)
	for i := range out {
		out[i] = g.Query(arts[g.R.IntN(len(arts))].Body, words)
	}
	return out
}

// benchSearch runs queries and reports latency percentiles: wall time,
// and the CPU time of the querying thread (CLOCK_THREAD_CPUTIME_ID), which
// on a loaded machine shows the cost apart from waiting for a core.
func benchSearch(b *testing.B, ix *Index, arts []Article, words int, perArticle bool) {
	qs := benchQueries(arts, 1000, words)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	lat := make([]time.Duration, 0, b.N)
	cpuLat := make([]time.Duration, 0, b.N)
	ctx := context.Background()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		c0 := evalkit.ThreadCPUTime()
		t0 := time.Now()
		if _, err := ix.Search(ctx, Query{Text: qs[i%len(qs)], K: 5, PerArticle: perArticle}); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
		cpuLat = append(cpuLat, evalkit.ThreadCPUTime()-c0)
		i++
	}
	pct := func(xs []time.Duration, p float64) float64 {
		return float64(xs[int(p*float64(len(xs)-1))].Nanoseconds()) / 1e3
	}
	slices.Sort(lat)
	slices.Sort(cpuLat)
	b.ReportMetric(pct(lat, 0.50), "p50-µs")
	b.ReportMetric(pct(lat, 0.99), "p99-µs")
	b.ReportMetric(pct(cpuLat, 0.50), "cpu-p50-µs")
	b.ReportMetric(pct(cpuLat, 0.99), "cpu-p99-µs")
}

// BenchmarkQuery10k measures search latency on the 10k-article index for a
// short question (6 words) and a live conversation window (60 words).
func BenchmarkQuery10k(b *testing.B) {
	ix, arts := benchIndex(), benchCorpus()
	b.Run("question-6w", func(b *testing.B) { benchSearch(b, ix, arts, 6, true) })
	b.Run("window-60w", func(b *testing.B) { benchSearch(b, ix, arts, 60, true) })
}

// BenchmarkQuery10kNoFunctionWords is the worst case: every word is a
// content word, so the commonest terms' postings span nearly every passage.
func BenchmarkQuery10kNoFunctionWords(b *testing.B) {
	arts := corpus(synth.NoFunctionWords)
	ix := buildIndex(arts)
	b.Run("question-6w", func(b *testing.B) { benchSearch(b, ix, arts, 6, true) })
	b.Run("window-60w", func(b *testing.B) { benchSearch(b, ix, arts, 60, true) })
}

// BenchmarkUpsert10k measures replacing one article in the 10k index.
func BenchmarkUpsert10k(b *testing.B) {
	ix := benchIndex()
	g := newTextGen(3)
	ctx := context.Background()
	i := 0
	for b.Loop() {
		a := g.article(fmt.Sprintf("art-%05d", i%benchArticles), benchWords)
		if _, err := ix.Upsert(ctx, a); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
