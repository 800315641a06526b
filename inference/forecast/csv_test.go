package forecast

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestReadCSVErrors(t *testing.T) {
	tests := []struct {
		name string
		opt  ImportOptions
		in   string
		want []string // substrings that must all appear
	}{
		{"missing count column", ImportOptions{}, "timestamp,queue\n2026-01-05 08:00,q\n", []string{"line 1, column offered: missing column"}},
		{"no queue", ImportOptions{}, "timestamp,count\n2026-01-05 08:00,3\n", []string{"no queue column"}},
		{"bad timestamp", ImportOptions{}, "timestamp,queue,count\n2026-01-05 08:00,q,3\n05/01/2026 08:30,q,4\n", []string{"line 3, column timestamp: unparseable timestamp \"05/01/2026 08:30\""}},
		{"bad zone offset", ImportOptions{}, "timestamp,queue,count\n2026-01-05T08:00:00+25:00,q,3\n", []string{"line 2, column timestamp"}},
		{"negative count", ImportOptions{}, "timestamp,queue,count,aht\n2026-01-05 08:00,q,-3,200\n", []string{"line 2, column offered: negative: -3"}},
		{"not a number", ImportOptions{}, "timestamp,queue,count,aht\n2026-01-05 08:00,q,3,abc\n", []string{"line 2, column aht: not a number: \"abc\""}},
		{"nan", ImportOptions{}, "timestamp,queue,count\n2026-01-05 08:00,q,NaN\n", []string{"line 2, column offered: not finite"}},
		{"duplicate", ImportOptions{Aggregate: AggregateNone}, "timestamp,queue,count\n2026-01-05 08:00,q,3\n2026-01-05 08:30,q,3\n2026-01-05 08:00,q,4\n", []string{"line 4, column timestamp: duplicate interval", "first on line 2"}},
		{"duplicate timestamp", ImportOptions{}, "timestamp,queue,count\n2026-01-05 08:00,q,3\n2026-01-05 08:10,q,3\n2026-01-05 08:00,q,4\n", []string{"line 4, column timestamp: duplicate timestamp 2026-01-05 08:00", "first on line 2", "aggregate true"}},
		{"unaligned", ImportOptions{Aggregate: AggregateNone}, "timestamp,queue,count\n2026-01-05 08:10,q,3\n", []string{"line 2, column timestamp: 2026-01-05 08:10 is not the start of a 30m0s interval", "aggregate auto"}},
		{"huge count", ImportOptions{}, "timestamp,queue,count\n2026-01-05 08:00,q,1e308\n", []string{"line 2, column offered: out of range: 1e308 (at most 1e+06 contacts in one row)"}},
		{"overflowing count", ImportOptions{}, "timestamp,queue,count\n2026-01-05 08:00,q,1e400\n", []string{"line 2, column offered: out of range: 1e400"}},
		{"infinite aht", ImportOptions{}, "timestamp,queue,count,aht\n2026-01-05 08:00,q,3,+Inf\n", []string{"line 2, column aht: not finite"}},
		{"absurd aht", ImportOptions{}, "timestamp,queue,count,aht\n2026-01-05 08:00,q,3,1e9\n", []string{"line 2, column aht: out of range: 1e9 (at most 86400 seconds per contact)"}},
		{"negative handled", ImportOptions{}, "timestamp,queue,count,handled\n2026-01-05 08:00,q,3,-2\n", []string{"line 2, column handled: negative: -2"}},
		{"empty queue", ImportOptions{}, "timestamp,queue,count\n2026-01-05 08:00,,3\n", []string{"line 2, column queue: empty queue"}},
		{"several errors reported together", ImportOptions{}, "timestamp,queue,count\nx,q,1\n2026-01-05 08:00,q,-1\n", []string{"line 2, column timestamp", "line 3, column offered"}},
		{"dst gap", ImportOptions{Location: mustLoc(t, "Europe/Paris")}, "timestamp,queue,count\n2026-03-29 02:30,q,3\n", []string{"line 2, column timestamp", "does not exist in Europe/Paris"}},
		{"bad step", ImportOptions{Step: 20 * time.Minute}, "timestamp,queue,count\n", []string{"step 20m0s"}},
		{"ragged row", ImportOptions{}, "timestamp,queue,count\n\"2026-01-05 08:00,q,3\n", []string{"line"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.opt.Step == 0 {
				tt.opt.Step = 30 * time.Minute
			}
			_, _, err := ReadCSV(strings.NewReader(tt.in), tt.opt)
			if err == nil {
				t.Fatalf("ReadCSV(%q): no error", tt.in)
			}
			if !errors.Is(err, ErrBadInput) {
				t.Errorf("error %v does not wrap ErrBadInput", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("ReadCSV error = %q, want it to contain %q", err, w)
				}
			}
		})
	}
}

func mustLoc(t *testing.T, name string) *time.Location {
	l, err := time.LoadLocation(name) // tzdata is embedded (tz.go)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestReadCSVZonesAndAggregation(t *testing.T) {
	ny := mustLoc(t, "America/New_York")
	in := "Timestamp,Queue,Calls,AHT,Handled,Abandoned\n" +
		"2026-01-05T13:00:00Z,sales,3,100,2,1\n" + // 08:00 New York
		"2026-01-05 08:10,sales,2,400,2,0\n" + // local wall clock
		"2026-01-05 08:30:00-05:00,sales,5,,5,0\n" +
		"\n" +
		"2026-01-05 08:00,support,1,60,1,0\n"
	set, rep, err := ReadCSV(strings.NewReader(in), ImportOptions{Step: 30 * time.Minute, Location: ny, Aggregate: AggregateAll})
	if err != nil {
		t.Fatal(err)
	}
	if rep != (ImportReport{Rows: 4, Queues: 2, Points: 3, Summed: 1}) {
		t.Errorf("report = %+v", rep)
	}
	want := []Point{
		{Start: time.Date(2026, 1, 5, 8, 0, 0, 0, ny), Offered: 5, Handled: 4, Abandoned: 1, AHT: (100*2 + 400*2) / 4.0},
		{Start: time.Date(2026, 1, 5, 8, 30, 0, 0, ny), Offered: 5, Handled: 5},
	}
	if diff := cmp.Diff(want, set["sales"].Points, cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })); diff != "" {
		t.Errorf("sales points (-want +got):\n%s", diff)
	}
	if set["sales"].Location != ny {
		t.Errorf("location = %v", set["sales"].Location)
	}
}

func TestCSVRoundTrip(t *testing.T) {
	s := defaultSynth().series()
	var buf bytes.Buffer
	if err := WriteCSV(&buf, s); err != nil {
		t.Fatal(err)
	}
	set, _, err := ReadCSV(&buf, ImportOptions{Step: s.Step, Location: s.Location})
	if err != nil {
		t.Fatal(err)
	}
	got := set[s.Queue]
	if diff := cmp.Diff(s.Points, got.Points, cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
}

func TestParseHours(t *testing.T) {
	tests := []struct {
		in, want, err string
	}{
		{"mon-fri 07:00-21:00", "mon 07:00-21:00; tue 07:00-21:00; wed 07:00-21:00; thu 07:00-21:00; fri 07:00-21:00", ""},
		{"sat 09:00-13:00,14:00-17:00; sun 10:00-12:00", "sun 10:00-12:00; sat 09:00-13:00,14:00-17:00", ""},
		{"fri-mon 22:00-24:00", "sun 22:00-24:00; mon 22:00-24:00; fri 22:00-24:00; sat 22:00-24:00", ""},
		{"mon 09:00-08:00", "", "bad range"},
		{"funday 09:00-10:00", "", "unknown day"},
		{"mon 9-5", "", "bad range"},
		{"", "", "no open period"},
		{"mon", "", "want"},
	}
	for _, tt := range tests {
		h, err := ParseHours(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("ParseHours(%q) err = %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || h.String() != tt.want {
			t.Errorf("ParseHours(%q) = %q, %v; want %q", tt.in, h.String(), err, tt.want)
		}
	}
}

func FuzzReadCSV(f *testing.F) {
	f.Add("timestamp,queue,count,aht\n2026-01-05 08:00,q,3,200\n")
	f.Add("datetime,calls\n2026-01-05T08:05:00Z,3\n")
	f.Add("timestamp,queue,count\n2026-01-05 08:00,q,-1\n")
	f.Add("\ufefftimestamp,queue,count\n\"x\",q,1e400\n")
	f.Fuzz(func(t *testing.T, in string) {
		for _, agg := range []Aggregation{AggregateFiner, AggregateAll, AggregateNone} {
			set, _, err := ReadCSV(strings.NewReader(in), ImportOptions{Step: 30 * time.Minute, Queue: "q", Aggregate: agg})
			if err != nil {
				if !errors.Is(err, ErrBadInput) {
					t.Fatalf("error %v does not wrap ErrBadInput", err)
				}
				continue
			}
			for _, s := range set {
				if err := s.Validate(); err != nil {
					t.Fatalf("imported series invalid: %v", err)
				}
			}
		}
	})
}

// TestReadCSVFinerHistory reads a 5-minute export at 30 minutes: by default
// the rows are summed into their intervals and counted as summed; with
// AggregateNone the import fails once, naming the first unaligned row and
// counting the others instead of listing each.
func TestReadCSVFinerHistory(t *testing.T) {
	var b strings.Builder
	b.WriteString("rownames,DateTime,Calls\n")
	start := time.Date(2026, 1, 5, 7, 0, 0, 0, time.UTC)
	for i := 0; i < 36; i++ { // 07:00 to 09:55
		fmt.Fprintf(&b, "%d,%s,%d\n", i+1, start.Add(time.Duration(i)*5*time.Minute).Format(time.RFC3339), i)
	}
	set, rep, err := ReadCSV(strings.NewReader(b.String()), ImportOptions{Step: 30 * time.Minute, Queue: "bank"})
	if err != nil {
		t.Fatal(err)
	}
	if rep != (ImportReport{Rows: 36, Queues: 1, Points: 6, Summed: 30}) {
		t.Errorf("report = %+v", rep)
	}
	if p := set["bank"].Points[1]; !p.Start.Equal(start.Add(30*time.Minute)) || p.Offered != 6+7+8+9+10+11 {
		t.Errorf("second interval = %+v, want 07:30 with 51 contacts", p)
	}
	_, rep, err = ReadCSV(strings.NewReader(b.String()), ImportOptions{Step: 30 * time.Minute, Queue: "bank", Aggregate: AggregateNone})
	if err == nil {
		t.Fatal("AggregateNone accepted 5-minute rows")
	}
	msg := err.Error()
	if n := strings.Count(msg, "\n"); n != 0 {
		t.Errorf("error has %d lines, want one:\n%s", n+1, msg)
	}
	if !strings.Contains(msg, "line 3, column timestamp: 2026-01-05T07:05:00Z is not the start") || !strings.Contains(msg, "and 29 more rows like it: lines 4, 5, 6, 7, 9, ...") {
		t.Errorf("error = %s", msg)
	}
	if rep.BadRows != 30 {
		t.Errorf("bad rows = %d, want 30", rep.BadRows)
	}
	for _, s := range []string{"auto", "true", "false"} {
		a, err := ParseAggregation(s)
		if err != nil || a.String() != s {
			t.Errorf("ParseAggregation(%q) = %v, %v", s, a, err)
		}
	}
	if _, err := ParseAggregation("yes"); !errors.Is(err, ErrBadConfig) {
		t.Errorf("ParseAggregation(yes) = %v", err)
	}
}
