package kb

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	benchArticles = 10_000
	benchWords    = 500
)

var benchCorpus = sync.OnceValue(func() []Article {
	g := newTextGen(42)
	arts := make([]Article, benchArticles)
	for i := range arts {
		arts[i] = g.article(fmt.Sprintf("art-%05d", i), benchWords)
	}
	return arts
})

// cpuTime is the process's user+system CPU time: on a shared machine it
// shows the work done, where wall time also counts waiting for a core.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// BenchmarkIndex10k builds an index of 10,000 synthetic articles of about
// 500 words (the rebuild at start), and reports the heap the index holds.
func BenchmarkIndex10k(b *testing.B) {
	arts := benchCorpus()
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

var benchIndex = sync.OnceValue(func() *Index {
	ix, err := New(DefaultConfig(), nil, nil, BuiltinSynonyms(), nil)
	if err != nil {
		panic(err)
	}
	if _, errs := ix.Load(context.Background(), benchCorpus(), runtime.GOMAXPROCS(0)); len(errs) > 0 {
		panic(errs[0])
	}
	return ix
})

// benchQueries returns n queries of the given length drawn from the corpus.
func benchQueries(n, words int) []string {
	g := newTextGen(7)
	arts := benchCorpus()
	out := make([]string, n)
	for i := range out {
		out[i] = g.Query(arts[g.R.IntN(len(arts))].Body, words)
	}
	return out
}

// benchSearch runs queries and reports latency percentiles.
func benchSearch(b *testing.B, words int, perArticle bool) {
	ix := benchIndex()
	qs := benchQueries(1000, words)
	lat := make([]time.Duration, 0, b.N)
	ctx := context.Background()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		t0 := time.Now()
		if _, err := ix.Search(ctx, Query{Text: qs[i%len(qs)], K: 5, PerArticle: perArticle}); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
		i++
	}
	slices.Sort(lat)
	pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) }
	b.ReportMetric(pct(0.50), "p50-µs")
	b.ReportMetric(pct(0.99), "p99-µs")
	b.ReportMetric(pct(1), "max-µs")
}

// BenchmarkQuery10k measures search latency on the 10k-article index for a
// short question (6 words) and a live conversation window (60 words).
func BenchmarkQuery10k(b *testing.B) {
	b.Run("question-6w", func(b *testing.B) { benchSearch(b, 6, true) })
	b.Run("window-60w", func(b *testing.B) { benchSearch(b, 60, true) })
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
