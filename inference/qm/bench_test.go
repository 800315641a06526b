package qm

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"
)

// thirtyMinuteCall builds a 30-minute call: 450 turns alternating between
// the parties (lines of the labelled set, about 3.5 s each with word
// times), one in twenty starting over the other party, and a 40 s
// silence every five minutes.
func thirtyMinuteCall(b *testing.B) []Turn {
	_, set := loadLabelled(b)
	var lines []Turn
	for _, e := range set {
		lines = append(lines, e.Turns...)
	}
	var turns []Turn
	var at int64
	for i := 0; at < 30*60*1000; i++ {
		l := lines[i%len(lines)]
		d := max(1500, l.EndMS-l.StartMS)
		start := at
		if i%20 == 19 {
			start = at - 1200 // talks over the previous turn
		}
		t := Turn{Seq: i, Party: l.Party, StartMS: start, EndMS: start + d, Text: l.Text}
		n := len(tokens(l.Text))
		for w := range n {
			t.Words = append(t.Words, Word{Text: "w", StartMS: start + int64(w)*d/int64(n), EndMS: start + int64(w+1)*d/int64(n) - 40})
		}
		s := float64(i%7)/3 - 1
		t.Sentiment = &s
		turns = append(turns, t)
		at = start + d + 400
		if i%85 == 84 {
			at += 40000
		}
	}
	return turns
}

// BenchmarkThirtyMinuteCall measures what the appliance computes for a
// 30-minute call at its end with the built-in engines: speaker metrics,
// callouts and the labelled set's ten-question scorecard (rules and two
// classifiers, already trained: they are trained once per scorecard
// version). It runs on one goroutine, so ns/op is CPU time.
func BenchmarkThirtyMinuteCall(b *testing.B) {
	sc, _ := loadLabelled(b)
	turns := thirtyMinuteCall(b)
	ev, err := NewEvaluator(DefaultEvaluatorConfig(), nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	cfg := CalloutConfig{Compliance: []CompliancePhrase{{Name: "recording", Phrases: []string{"call is recorded"}, WithinFirstS: 30}}}
	f := &Facts{Engagement: "bench", Channel: "voice", Turns: turns}
	ev.Evaluate(context.Background(), sc, f, nil, time.Now()) // trains the classifiers
	var ru0 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	n := 0
	for b.Loop() {
		n++
		m := Compute(DefaultMetricsConfig(), MetricsInput{Channel: "voice", Turns: turns, Final: true})
		_ = Callouts(cfg, DefaultMetricsConfig(), turns, m)
		f.Metrics = m
		e := ev.Evaluate(context.Background(), sc, f, nil, time.Now())
		if len(e.Answers) != 10 {
			b.Fatal(fmt.Sprint(len(e.Answers), " answers"))
		}
	}
	// CPU time (user and system, this process) per call: the machine is
	// shared, so wall time per op overstates it.
	var ru1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	cpu := time.Duration(ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano())
	b.ReportMetric(float64(cpu.Microseconds())/1000/float64(n), "cpu-ms/op")
	b.ReportMetric(float64(len(turns)), "turns")
}
