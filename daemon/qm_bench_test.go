package daemon

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/earshot/earshot/inference/qm"
	"github.com/earshot/earshot/store"
)

// benchEngagements is the size of the reports benchmark's store.
const benchEngagements = 100000

// BenchmarkReports100k times GET /api/v1/reports/engagements over a store
// of 100,000 ended engagements with their report records, through the
// HTTP API as an administrator (every record in scope), grouped by queue,
// by agent and by day, JSON and CSV.
//
// The store is generated once into $EARSHOT_BENCH_DIR (default
// /dev/shm/earshot-bench-reports-v2, kept between runs): engagements
// created through the store's API (each with its data key), start times
// spread over 90 days, 10 queues, 200 agents, 80 % voice; each with a
// report record of random figures (handle time 1-20 min, talk times,
// silence, 0-4 interruptions, sentiment, a disposition of six, one in
// ten escalated, one in five with a QM score), stored 1,000 per
// transaction. Generation takes a few minutes; the timed requests read it.
func BenchmarkReports100k(b *testing.B) {
	dir := os.Getenv("EARSHOT_BENCH_DIR")
	if dir == "" {
		dir = "/dev/shm/earshot-bench-reports-v2"
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		b.Fatal(err)
	}
	cfg := DefaultConfig(false)
	cfg.DataDir = dir
	cfg.Listen = "127.0.0.1:0"
	cfg.Analytics.DefaultIntents = "none"
	d, err := New(cfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := fillReportStore(ctx, b, d.store); err != nil {
		d.Close()
		b.Fatal(err)
	}
	ln, err := d.Listen()
	if err != nil {
		d.Close()
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- d.Serve(ctx, ln) }()
	defer func() { cancel(); <-done }()
	tok, err := os.ReadFile(filepath.Join(dir, AdminTokenFile))
	if err != nil {
		b.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	get := func(path string) time.Duration {
		req, _ := http.NewRequest("GET", url+path, nil)
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
		start := time.Now()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || n == 0 {
			b.Fatalf("%s = %d", path, resp.StatusCode)
		}
		return time.Since(start)
	}
	paths := []string{"/api/v1/reports/engagements?group_by=queue", "/api/v1/reports/engagements?group_by=agent",
		"/api/v1/reports/engagements?group_by=day&format=csv", "/api/v1/reports/engagements?group_by=week&queue=q3"}
	for _, p := range paths { // warm up: the first requests fault the file in
		get(p)
	}
	var lat []time.Duration
	var ru0, ru1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		lat = append(lat, get(paths[i%len(paths)]))
	}
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	cpu := time.Duration(ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano())
	// CPU time of the whole process (server and client) per request: the
	// machine is shared, so wall-clock latency depends on the load.
	b.ReportMetric(float64(cpu.Microseconds())/1000/float64(len(lat)), "cpu-ms/req")
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)*95/100].Microseconds())/1000, "p95-ms")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
}

// fillReportStore creates the benchmark's engagements and report records
// unless the store holds them already.
func fillReportStore(ctx context.Context, b *testing.B, st *store.Store) error {
	have := 0
	if err := st.Facts(ctx, func(string, []byte) error { have++; return nil }); err != nil {
		return err
	}
	if have >= benchEngagements {
		return nil
	}
	b.Logf("generating %d engagements into the benchmark store (once)", benchEngagements-have)
	r := rand.New(rand.NewPCG(100000, uint64(have)))
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	dispositions := []string{"resolved", "callback", "escalated", "refund", "info", "transfer"}
	batch := map[string][]byte{}
	for i := have; i < benchEngagements; i++ {
		start := base.Add(time.Duration(r.Int64N(int64(90 * 24 * time.Hour))))
		handle := time.Duration(60+r.IntN(1140)) * time.Second
		e := store.Engagement{Queue: fmt.Sprintf("q%d", r.IntN(10)), Agent: fmt.Sprintf("agent%03d", r.IntN(200)),
			Channel: "voice", Direction: "inbound", Start: start, End: start.Add(handle)}
		if r.IntN(5) == 0 {
			e.Channel = "chat"
		}
		e, err := st.CreateEngagement(ctx, e)
		if err != nil {
			return err
		}
		talk := handle.Milliseconds() * int64(50+r.IntN(40)) / 100
		agentTalk := talk * int64(30+r.IntN(40)) / 100
		s0, s1 := r.Float64()*2-1, r.Float64()*2-1
		f := qm.Fact{Engagement: e.ID, Queue: e.Queue, Agent: e.Agent, Channel: e.Channel, Start: e.Start, HandleMS: handle.Milliseconds(),
			AgentTalkMS: agentTalk, CustomerTalkMS: talk - agentTalk, NonTalkMS: handle.Milliseconds() - talk, Interruptions: r.IntN(5),
			SentimentStart: &s0, SentimentEnd: &s1, Escalated: r.IntN(10) == 0, Disposition: dispositions[r.IntN(len(dispositions))]}
		if r.IntN(5) == 0 {
			score := float64(r.IntN(101))
			f.QMScore = &score
		}
		batch[e.ID], _ = f.MarshalBinary()
		if len(batch) == 1000 || i == benchEngagements-1 {
			if err := st.PutFacts(ctx, batch); err != nil {
				return err
			}
			batch = map[string][]byte{}
		}
	}
	return nil
}
