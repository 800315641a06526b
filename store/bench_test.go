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

	"github.com/prometheus/client_golang/prometheus"
	"go.etcd.io/bbolt"

	"github.com/earshot/earshot/store/keys"
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
			b.Run(fmt.Sprintf("mode=%s/writers=%d", mode, writers), func(b *testing.B) {
				if os.Getenv("EARSHOT_BENCH_NOMOVE") != "" {
					defer func(d time.Duration) { moveInterval = d }(moveInterval)
					moveInterval = time.Hour
				}
				reg := prometheus.NewRegistry()
				s, err := Open(context.Background(), Options{Dir: b.TempDir(), Registerer: reg})
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
					b.Logf("%s", commitStats(b, reg))
				}
			})
		}
	}
}

// commitStats summarises the group-commit histograms.
func commitStats(tb testing.TB, reg *prometheus.Registry) string {
	mfs, err := reg.Gather()
	if err != nil {
		tb.Fatal(err)
	}
	var out string
	for _, mf := range mfs {
		switch mf.GetName() {
		case "earshot_store_segment_batch_size", "earshot_store_segment_commit_seconds":
			h := mf.GetMetric()[0].GetHistogram()
			out += fmt.Sprintf("%s: %d commits, mean %.4g; ", mf.GetName(), h.GetSampleCount(), h.GetSampleSum()/float64(max(1, h.GetSampleCount())))
		}
	}
	return out
}

// BenchmarkMoveJournal measures the background mover: segments per second
// moved from the journal into the per-engagement layout, with 500 live
// engagements interleaved in the journal as the hot path leaves them.
func BenchmarkMoveJournal(b *testing.B) {
	defer func(d time.Duration) { moveInterval = d }(moveInterval)
	moveInterval = time.Hour
	s, err := Open(context.Background(), Options{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const engagements = 500
	ids := make([]string, engagements)
	for i := range ids {
		ids[i] = newEngagement(b, s, "q", "", time.Now()).ID
	}
	ctx := context.Background()
	seq := make([]uint32, engagements)
	moved := 0
	b.ResetTimer()
	for moved < b.N {
		b.StopTimer()
		batch := make([]Segment, 0, 5000)
		for i := range 5000 {
			e := i % engagements
			batch = append(batch, benchSegment(ids[e], seq[e]))
			seq[e]++
		}
		if err := s.AppendBatch(ctx, batch); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if err := s.flushJournal(); err != nil {
			b.Fatal(err)
		}
		moved += len(batch)
	}
	b.StopTimer()
	b.ReportMetric(float64(moved)/b.Elapsed().Seconds(), "segs/s")
}

// BenchmarkSealSegment isolates the CPU cost of encryption per segment
// (encode + AES-256-GCM seal, and the reverse), which the disk-bound Append
// benchmark cannot resolve.
func BenchmarkSealSegment(b *testing.B) {
	dek, _ := keys.NewKey()
	var id engID
	g := benchSegment(id.String(), 42)
	key := segmentKey(id, g.Seq)
	aad := valueAAD(bucketSegments, key)
	b.Run("op=seal", func(b *testing.B) {
		for b.Loop() {
			if _, err := keys.Seal(dek, aad, encodeSegment(g)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("op=encode-only", func(b *testing.B) {
		for b.Loop() {
			_ = encodeSegment(g)
		}
	})
	sealed, _ := keys.Seal(dek, aad, encodeSegment(g))
	b.Run("op=open", func(b *testing.B) {
		for b.Loop() {
			pt, err := keys.Unseal(dek, aad, sealed)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := decodeSegment(pt, ""); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkIntegritySeal measures the CPU the integrity seal adds to a
// write transaction, without the commit (the transaction is rolled back,
// so no fsync): op=none is the empty transaction, op=audit the seal after
// audit entries, op=records the seal after a change of protected records,
// which recomputes the digest of every record MAC (1,000 users here).
// op=append-audit is a whole AppendAudit, fsync included, for scale.
func BenchmarkIntegritySeal(b *testing.B) {
	s, err := Open(b.Context(), Options{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := b.Context()
	for i := range 1000 {
		if err := s.CreateUser(ctx, User{ID: fmt.Sprintf("user%04d", i), Role: "agent"}); err != nil {
			b.Fatal(err)
		}
	}
	for _, bc := range []struct {
		name string
		fn   func(tx *bbolt.Tx) error
	}{
		{"op=none", func(*bbolt.Tx) error { return nil }},
		{"op=audit", func(tx *bbolt.Tx) error { return s.unsafeReseal(tx, false) }},
		{"op=records", func(tx *bbolt.Tx) error { return s.unsafeReseal(tx, true) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				tx, err := s.db.Begin(true)
				if err != nil {
					b.Fatal(err)
				}
				err = bc.fn(tx)
				tx.Rollback()
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("op=append-audit", func(b *testing.B) {
		for b.Loop() {
			if err := s.AppendAudit(ctx, AuditEntry{Actor: "sam", Action: "content.read"}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
