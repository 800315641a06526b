package store

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// benchSegment is a realistic final segment: 15 words with times and
// confidences (about 1 KB of JSON).
func benchSegment(id string, seq uint32) Segment {
	words := strings.Fields("I would like to dispute a charge of forty two pounds on my statement from last week")
	g := Segment{Engagement: id, Seq: seq, Speaker: "customer", StartMs: int64(seq) * 4000, EndMs: int64(seq)*4000 + 3800,
		Text: strings.Join(words, " "), Final: true}
	for i, w := range words {
		g.Words = append(g.Words, Word{Text: w, StartMs: g.StartMs + int64(i)*250, EndMs: g.StartMs + int64(i)*250 + 200, Confidence: 0.87})
	}
	return g
}

// BenchmarkAppend measures acknowledged (committed, fsynced) segment writes
// through the group committer, sealed and unsealed, at 1, 50 and 500
// concurrent writers, each writing to its own live engagement.
func BenchmarkAppend(b *testing.B) {
	for _, mode := range []string{"sealed", "plain"} {
		for _, writers := range []int{1, 50, 500} {
			b.Run(fmt.Sprintf("%s/writers=%d", mode, writers), func(b *testing.B) {
				if os.Getenv("EARSHOT_BENCH_NOMOVE") != "" {
					defer func(d time.Duration) { moveInterval = d }(moveInterval)
					moveInterval = time.Hour
				}
				s, err := Open(Options{Dir: b.TempDir()})
				if err != nil {
					b.Fatal(err)
				}
				defer s.Close()
				s.plaintextForBench = mode == "plain"
				ids := make([]string, writers)
				for i := range ids {
					ids[i] = newEngagement(b, s, "q", "", time.Now()).ID
				}
				ctx := context.Background()
				var next atomic.Int64
				b.ResetTimer()
				var wg sync.WaitGroup
				for w := range writers {
					wg.Go(func() {
						for seq := uint32(0); next.Add(1) <= int64(b.N); seq++ {
							if err := s.Append(ctx, benchSegment(ids[w], seq)); err != nil {
								b.Error(err)
								return
							}
						}
					})
				}
				wg.Wait()
				b.StopTimer()
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "segs/s")
				if testing.Verbose() {
					st := s.db.Stats().TxStats
					b.Logf("writes %d, write time %s, spill %s, pages alloc %d bytes, file pages %d", st.GetWrite(), st.GetWriteTime(), st.GetSpillTime(), st.GetPageAlloc(), s.db.Stats().FreePageN)
					b.Logf("commits %d, mean batch %.1f, mean commit %.2f ms", s.debugCommits.Load(), float64(s.debugSegs.Load())/float64(max(1, s.debugCommits.Load())), float64(s.debugCommitNs.Load())/1e6/float64(max(1, s.debugCommits.Load())))
				}
			})
		}
	}
}
