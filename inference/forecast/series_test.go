package forecast

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var timeEq = cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })

func TestAggregate(t *testing.T) {
	loc := mustLoc(t, "Europe/Paris")
	at := func(h, m int) time.Time { return time.Date(2026, 3, 2, h, m, 0, 0, loc) }
	engs := []Engagement{
		{Queue: "cards", Offered: at(9, 1), Handle: 200 * time.Second, Wait: 10 * time.Second},
		{Queue: "cards", Offered: at(9, 29).UTC(), Handle: 400 * time.Second}, // stored in UTC, read in Paris
		{Queue: "cards", Offered: at(9, 10), Abandoned: true, Wait: 45 * time.Second},
		{Queue: "cards", Offered: at(10, 0), Handle: 100 * time.Second},
		{Queue: "cards", Offered: at(10, 20)}, // live: handled, no handle time yet
		{Queue: "loans", Offered: at(9, 5), Handle: 60 * time.Second},
	}
	set, err := Aggregate(engs, 30*time.Minute, loc)
	if err != nil {
		t.Fatal(err)
	}
	want := []Point{
		{Start: at(9, 0), Offered: 3, Handled: 2, Abandoned: 1, AHT: 300, WaitSeconds: 55},
		{Start: at(10, 0), Offered: 2, Handled: 2, AHT: 100},
	}
	if diff := cmp.Diff(want, set["cards"].Points, timeEq); diff != "" {
		t.Errorf("cards (-want +got):\n%s", diff)
	}
	if len(set["loans"].Points) != 1 || set["loans"].Location != loc {
		t.Errorf("loans = %+v", set["loans"])
	}
	if _, err := Aggregate([]Engagement{{Queue: "q"}}, 30*time.Minute, loc); !errors.Is(err, ErrBadInput) {
		t.Errorf("no offer time: err %v", err)
	}
	if _, err := Aggregate(nil, 10*time.Minute, loc); !errors.Is(err, ErrBadInput) {
		t.Errorf("10m step: err %v", err)
	}
}

func TestResample(t *testing.T) {
	at := func(h, m int) time.Time { return time.Date(2026, 3, 2, h, m, 0, 0, time.UTC) }
	s := &Series{Queue: "q", Step: 15 * time.Minute, Points: []Point{
		{Start: at(9, 0), Offered: 2, Handled: 2, AHT: 100},
		{Start: at(9, 15), Offered: 4, Handled: 2, Abandoned: 2, AHT: 300},
		{Start: at(10, 45), Offered: 1},
	}}
	got, err := s.Resample(time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	want := []Point{
		{Start: at(9, 0), Offered: 6, Handled: 4, Abandoned: 2, AHT: 200},
		{Start: at(10, 0), Offered: 1},
	}
	if diff := cmp.Diff(want, got.Points, timeEq); diff != "" {
		t.Errorf("Resample (-want +got):\n%s", diff)
	}
	if _, err := s.Resample(20 * time.Minute); err == nil {
		t.Error("Resample(20m): no error")
	}
	if _, err := got.Resample(30 * time.Minute); err == nil {
		t.Error("Resample to a finer step: no error")
	}
}

func TestPatience(t *testing.T) {
	in := "timestamp,queue,count,handled,abandoned,asa,abandon_time\n" +
		"2026-01-05 08:00,q,10,8,2,10,30\n" + // waits 8x10 + 2x30 = 140 s
		"2026-01-05 08:30,q,5,5,0,4,\n" + // 20 s
		"2026-01-05 09:00,q,0,0,0,,\n"
	set, _, err := ReadCSV(strings.NewReader(in), ImportOptions{Step: 30 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	s := set["q"]
	if got := s.Points[0].WaitSeconds; got != 140 {
		t.Errorf("wait of the first interval = %v, want 140", got)
	}
	p, err := s.Patience(time.Time{})
	if err != nil || p != 80*time.Second { // 160 s waited / 2 abandoned
		t.Errorf("Patience = %v, %v; want 80s", p, err)
	}
	if _, err := s.Patience(s.Points[1].Start); !errors.Is(err, ErrBadInput) {
		t.Errorf("no abandons since 08:30: err %v, want ErrBadInput", err)
	}
}
