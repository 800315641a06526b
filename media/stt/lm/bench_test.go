package lm

import (
	"io"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
	"time"
)

// articles makes n knowledge-base articles of about 300 words each: words
// drawn from a Zipf distribution over a 20,000-word vocabulary (like
// English text), in sentences of 5 to 25 words. Fixed seed.
func articles(n int) []string {
	rng := rand.New(rand.NewPCG(1, 2))
	z := rand.NewZipf(rng, 1.1, 1, 19999)
	vocab := make([]string, 20000)
	for i := range vocab {
		var b strings.Builder
		for x := i + 1; x > 0; x /= 26 {
			b.WriteByte(byte('a' + x%26))
		}
		vocab[i] = b.String()
	}
	out := make([]string, n)
	for i := range out {
		var b strings.Builder
		for words := 0; words < 300; {
			l := 5 + rng.IntN(21)
			for j := 0; j < l; j++ {
				b.WriteString(vocab[z.Uint64()])
				b.WriteByte(' ')
			}
			b.WriteString(". ")
			words += l
		}
		out[i] = b.String()
	}
	return out
}

// BenchmarkBuild10kArticles: counting and writing the model of a site
// with 10,000 articles (about 3 million words). Reports the heap in use
// at its peak while building (MB-heap-peak) and the model's size.
func BenchmarkBuild10kArticles(b *testing.B) {
	docs := articles(10000)
	b.ResetTimer()
	for range b.N {
		// The heap's peak, sampled every 20 ms while the model is built.
		var peak uint64
		stop, done := make(chan struct{}), make(chan struct{})
		go func() {
			defer close(done)
			t := time.NewTicker(20 * time.Millisecond)
			defer t.Stop()
			for {
				var ms runtime.MemStats
				runtime.ReadMemStats(&ms)
				peak = max(peak, ms.HeapInuse)
				select {
				case <-stop:
					return
				case <-t.C:
				}
			}
		}()
		m := NewModel(Options{})
		for _, d := range docs {
			m.Add(d, nil)
		}
		if err := m.WriteARPA(io.Discard); err != nil {
			b.Fatal(err)
		}
		close(stop)
		<-done
		b.ReportMetric(float64(peak)/(1<<20), "MB-heap-peak")
		b.ReportMetric(float64(m.Stats().NGrams[2]), "trigrams")
		b.ReportMetric(float64(m.Stats().Tokens), "tokens")
	}
}
