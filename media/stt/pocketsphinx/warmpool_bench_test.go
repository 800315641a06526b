package pocketsphinx

import (
	"context"
	"testing"
	"time"

	"github.com/earshot/earshot/media/stt"
)

// BenchmarkSecondStream measures how long the second concurrent
// NewStream (a second call's setup) takes with the default decoders
// (accurate search, spoken-forms prior, warp selection), warm 1:
// without the background top-up ("off": it makes its decoder on its
// path), with it when the call arrives after the top-up ("after"), and
// when it arrives just after the first ("at-once": it waits for the
// decoder being made). Wall-clock ms per second stream, by variant
// (ms/stream2-*). Run with -benchtime=Nx (N rounds of the three).
func BenchmarkSecondStream(b *testing.B) {
	variants := []struct {
		name       string
		off, after bool
	}{{"off", true, false}, {"after", false, true}, {"at-once", false, false}}
	total := make([]time.Duration, len(variants))
	// The variants take turns, in a rotating order, so that the shared
	// machine's load falls on them alike.
	for i := range b.N {
		for j := range variants {
			v := variants[(i+j)%len(variants)]
			cfg := DefaultConfig()
			cfg.MaxDecoders, cfg.Warm = 4, 1
			e, err := New(cfg, nil)
			if err != nil {
				b.Fatal(err)
			}
			e.warm.off = v.off
			s1, err := e.NewStream(context.Background(), stt.StreamOptions{})
			if err != nil {
				b.Fatal(err)
			}
			if v.after {
				for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(10 * time.Millisecond) {
					if s := e.poolState(); !s.running && s.free[slot(wideband, 0)] == 1 {
						break
					}
					if time.Now().After(deadline) {
						b.Fatal("no decoder made in the background")
					}
				}
			}
			t0 := time.Now()
			s2, err := e.NewStream(context.Background(), stt.StreamOptions{})
			took := time.Since(t0)
			total[(i+j)%len(variants)] += took
			if err != nil {
				b.Fatal(err)
			}
			s2.Close()
			s1.Close()
			e.Close()
		}
	}
	for j, v := range variants {
		b.ReportMetric(float64(total[j].Milliseconds())/float64(b.N), "ms/stream2-"+v.name)
	}
}
