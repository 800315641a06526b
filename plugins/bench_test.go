package plugins

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/earshot/earshot/plugins/sdk"
)

func benchHost(b *testing.B) *testHost {
	cfg := testConfig(b)
	cfg.MaxInFlight = 64
	th := newTestHost(b, cfg)
	th.crm(b, []sdk.Scope{sdk.ScopeCustomerRef, sdk.ScopeIntents})
	if _, err := th.Cards(context.Background(), "crm-csv", fullEngagement); err != nil {
		b.Fatal(err)
	}
	return th
}

// BenchmarkInfoCall measures one live info call through the whole host
// (settings, minimisation, audit, in-flight bound, gRPC over AutoMTLS to
// the crm-csv process and back), one at a time; it reports p50 and p99.
func BenchmarkInfoCall(b *testing.B) {
	th := benchHost(b)
	ctx := context.Background()
	lat := make([]time.Duration, 0, 1<<16)
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		if _, err := th.Cards(ctx, "crm-csv", fullEngagement); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(lat)
	q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) }
	b.ReportMetric(q(0.50), "p50-µs")
	b.ReportMetric(q(0.99), "p99-µs")
}

// BenchmarkInfoCallParallel measures throughput with many concurrent
// callers (8 per CPU) against the one crm-csv process.
func BenchmarkInfoCallParallel(b *testing.B) {
	th := benchHost(b)
	ctx := context.Background()
	b.SetParallelism(8)
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := th.Cards(ctx, "crm-csv", fullEngagement); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "calls/s")
}
