package translate

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/earshot/earshot/inference/translate/internal/tatoeba"
)

// benchMessages returns Spanish chat-sized messages (at most 300
// characters): the committed Tatoeba sentences, and pairs and triples of
// them for longer messages.
func benchMessages(b *testing.B) []string {
	pairs, err := tatoeba.Load("testdata/tatoeba", "spa", true)
	if err != nil {
		b.Fatal(err)
	}
	var out []string
	for i, p := range pairs {
		out = append(out, p.Text)
		if i+2 < len(pairs) {
			if m := p.Text + " " + pairs[i+1].Text + " " + pairs[i+2].Text; utf8.RuneCountInString(m) <= 300 {
				out = append(out, m)
			}
		}
	}
	return out
}

func percentile(d []time.Duration, p float64) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, int(p*float64(len(s))))]
}

// BenchmarkApertiumMessage: one message at a time through a warm pool,
// es-en; reports p50 and p95 latency.
//
//	go test -run '^$' -bench BenchmarkApertium -benchtime 400x ./inference/translate/
func BenchmarkApertiumMessage(b *testing.B) {
	a := newTestApertium(b, DefaultApertiumConfig())
	msgs := benchMessages(b)
	ctx := context.Background()
	if _, err := a.Translate(ctx, Pair{Spanish, English}, "Hola."); err != nil {
		b.Fatal(err)
	}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		start := time.Now()
		if _, err := a.Translate(ctx, Pair{Spanish, English}, msgs[i%len(msgs)]); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	b.ReportMetric(float64(percentile(lat, .5).Microseconds())/1000, "p50_ms")
	b.ReportMetric(float64(percentile(lat, .95).Microseconds())/1000, "p95_ms")
}

// BenchmarkApertiumCLI is the peer: the apertium command line started for
// each message, as translating without the pool would.
func BenchmarkApertiumCLI(b *testing.B) {
	needApertium(b, "spa-eng")
	msgs := benchMessages(b)
	for i := range b.N {
		cmd := exec.Command("apertium", "-u", "spa-eng")
		cmd.Stdin = strings.NewReader(msgs[i%len(msgs)])
		if err := cmd.Run(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkApertium50Chats: 50 chats send messages at once, each waiting
// for its translation before the next, through the default pool (two
// pipelines a direction, here es-en and en-es). Reports messages a second,
// p95 latency, and the resident memory of one pipeline (all its stages).
func BenchmarkApertium50Chats(b *testing.B) {
	a := newTestApertium(b, DefaultApertiumConfig())
	msgs := benchMessages(b)
	ctx := context.Background()
	// Start every pipeline before measuring, as a daemon's preload does.
	var warm sync.WaitGroup
	for i := range 2 * DefaultApertiumConfig().ProcsPerPair {
		warm.Add(1)
		go func() {
			defer warm.Done()
			p := Pair{Spanish, English}
			if i%2 == 1 {
				p = Pair{English, Spanish}
			}
			if _, err := a.Translate(ctx, p, "Hola."); err != nil {
				b.Error(err)
			}
		}()
	}
	warm.Wait()
	var mu sync.Mutex
	var lat []time.Duration
	var wg sync.WaitGroup
	next := make(chan int)
	b.ResetTimer()
	start := time.Now()
	for c := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := Pair{Spanish, English}
			if c%2 == 1 {
				p = Pair{English, Spanish}
			}
			for i := range next {
				t0 := time.Now()
				if _, err := a.Translate(ctx, p, msgs[i%len(msgs)]); err != nil {
					b.Error(err)
					return
				}
				mu.Lock()
				lat = append(lat, time.Since(t0))
				mu.Unlock()
			}
		}()
	}
	for i := range b.N {
		next <- i
	}
	close(next)
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
	b.ReportMetric(float64(percentile(lat, .95).Microseconds())/1000, "p95_ms")
	var rss []float64
	for _, pgid := range a.Processes() {
		rss = append(rss, groupRSS(pgid))
	}
	if len(rss) > 0 {
		sum := 0.0
		for _, r := range rss {
			sum += r
		}
		b.ReportMetric(sum/float64(len(rss)), "MB/pipeline")
	}
}

// groupRSS returns the resident memory, in MB, of every process in the
// process group pgid.
func groupRSS(pgid int) float64 {
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	total := 0.0
	for _, d := range dirs {
		stat, err := os.ReadFile(filepath.Join(d, "stat"))
		if err != nil {
			continue
		}
		// Fields after the command's closing parenthesis: state ppid pgrp.
		f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
		if len(f) < 3 || f[2] != strconv.Itoa(pgid) {
			continue
		}
		status, err := os.ReadFile(filepath.Join(d, "status"))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(status), "\n") {
			if strings.HasPrefix(line, "VmRSS:") {
				var kb float64
				fmt.Sscan(strings.TrimSpace(strings.TrimPrefix(line, "VmRSS:")), &kb)
				total += kb / 1024
			}
		}
	}
	return total
}
