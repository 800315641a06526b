package ollama

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/ollama/ollama/api"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

func TestBreaker(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	gauge := prometheus.NewGauge(prometheus.GaugeOpts{Name: "g"})
	b := newBreaker(2, 30*time.Second, gauge)
	b.now = func() time.Time { return now }
	gaugeValue := func() float64 {
		var m dto.Metric
		_ = gauge.Write(&m)
		return m.GetGauge().GetValue()
	}
	type want struct{ ok, probe, open bool }
	step := func(name string, w want) {
		t.Helper()
		ok, probe := b.allow()
		if ok != w.ok || probe != w.probe || b.open() != w.open {
			t.Fatalf("%s: allow() = %v, %v, open %v; want %v, %v, open %v", name, ok, probe, b.open(), w.ok, w.probe, w.open)
		}
		if g := gaugeValue(); (g == 1) != w.open {
			t.Fatalf("%s: gauge %v, want open=%v", name, g, w.open)
		}
	}
	step("new", want{ok: true})
	b.failure()
	step("one failure", want{ok: true})
	b.success()
	b.failure()
	step("success resets the count", want{ok: true})
	b.failure()
	step("threshold reached", want{open: true})
	now = now.Add(29 * time.Second)
	step("still open", want{open: true})
	now = now.Add(time.Second)
	step("half-open: one probe", want{ok: true, probe: true, open: true})
	step("only one probe at a time", want{open: true})
	b.probed(false)
	step("failed probe reopens", want{open: true})
	now = now.Add(30 * time.Second)
	step("second probe", want{ok: true, probe: true, open: true})
	b.probed(true)
	step("healthy probe closes", want{ok: true})
	if !b.failure() {
		t.Fatal("failure right after a healthy probe did not reopen the breaker")
	}
	step("on probation: one failure reopens", want{open: true})
	now = now.Add(30 * time.Second)
	step("third probe", want{ok: true, probe: true, open: true})
	b.probed(true)
	b.success()
	b.failure()
	step("a success ends the probation", want{ok: true})
}

func TestClassify(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	tests := []struct {
		err        error
		wantReason string
		wantDown   bool
	}{
		{nil, "", false},
		{context.DeadlineExceeded, reasonTimeout, true},
		{fmt.Errorf("post: %w", context.DeadlineExceeded), reasonTimeout, true},
		{refused, reasonUnavailable, true},
		{errStreamCut, reasonUnavailable, true},
		{fmt.Errorf("%w: $.x: too long", ErrSchema), reasonSchema, false},
		{api.StatusError{StatusCode: 404, ErrorMessage: "model not found"}, reasonError, false},
		{api.StatusError{StatusCode: 500, ErrorMessage: "llama runner process has terminated"}, reasonError, true},
		{errors.New("model requires more system memory"), reasonError, false},
	}
	for _, tt := range tests {
		reason, down := classify(tt.err)
		if reason != tt.wantReason || down != tt.wantDown {
			t.Errorf("classify(%v) = %q, %v; want %q, %v", tt.err, reason, down, tt.wantReason, tt.wantDown)
		}
	}
}
