package wfm

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestServiceCounts(t *testing.T) {
	reg := prometheus.NewRegistry()
	svc, err := New(quickConfig(100), nil, reg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.ImportRoster(strings.NewReader("id,skills,hours_per_week\nana,billing,20\nben,billing,x\ncy,,20\n")); err == nil {
		t.Fatal("bad roster accepted")
	}
	if _, err := svc.ImportRoster(strings.NewReader("id,skills,hours_per_week\nana,billing,20\nben,billing,30\n")); err != nil {
		t.Fatal(err)
	}
	p := smallProblem(t, 10, 30*time.Minute)
	if _, err := svc.Schedule(context.Background(), p, nil); err != nil {
		t.Fatal(err)
	}
	p.Period.Days = 3
	if _, err := svc.Schedule(context.Background(), p, nil); err == nil {
		t.Fatal("bad period accepted")
	}
	for _, tc := range []struct {
		c    prometheus.Collector
		want float64
	}{
		{svc.m.rosterRows.WithLabelValues("rejected"), 2},
		{svc.m.rosterRows.WithLabelValues("accepted"), 2},
		{svc.m.schedules.WithLabelValues("ok"), 1},
		{svc.m.schedules.WithLabelValues("bad_input"), 1},
	} {
		if got := testutil.ToFloat64(tc.c); got != tc.want {
			t.Errorf("%v = %v, want %v", tc.c, got, tc.want)
		}
	}
	if _, err := New(Config{}, nil, nil); err == nil {
		t.Error("zero config accepted")
	}
}
