package forecast

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// RowError is a CSV import failure at one row. Line is the 1-based line of
// the file (the header is line 1).
type RowError struct {
	Line   int
	Column string
	Msg    string
}

func (e *RowError) Error() string {
	if e.Column == "" {
		return fmt.Sprintf("forecast: csv line %d: %s", e.Line, e.Msg)
	}
	return fmt.Sprintf("forecast: csv line %d, column %s: %s", e.Line, e.Column, e.Msg)
}

// Unwrap lets errors.Is(err, ErrBadInput) match.
func (e *RowError) Unwrap() error { return ErrBadInput }

// ImportOptions control ReadCSV.
type ImportOptions struct {
	// Step is the interval length of the series built (15m, 30m or 1h).
	Step time.Duration
	// Location is the site's time zone: timestamps without an offset are read
	// as its wall clock, timestamps with one are converted to it. Nil = UTC.
	Location *time.Location
	// Queue names the queue when the file has no queue column.
	Queue string
	// Aggregate sums rows that fall into the same interval (e.g. a 5-minute
	// export read at 30 minutes). Without it, a timestamp not aligned to Step
	// and a repeated (queue, interval) are errors.
	Aggregate bool
	// MaxErrors bounds the row errors reported (default 20).
	MaxErrors int
}

// ImportReport counts what ReadCSV read.
type ImportReport struct {
	Rows   int `json:"rows"`
	Queues int `json:"queues"`
	Points int `json:"points"`
}

// Column names accepted in the header (case-insensitive).
var csvAliases = map[string][]string{
	"timestamp": {"timestamp", "datetime", "time", "start", "interval_start"},
	"queue":     {"queue", "skill", "split"},
	"offered":   {"offered", "count", "calls", "contacts", "volume"},
	"handled":   {"handled", "answered"},
	"abandoned": {"abandoned", "abandons"},
	"aht":       {"aht", "aht_seconds", "aht_s"},
	"wait":      {"wait_seconds", "total_wait_seconds"},
	"asa":       {"asa", "asa_seconds"},
	"abandon":   {"abandon_time", "avg_abandon_seconds", "abandon_seconds"},
}

var tsLayouts = []string{
	time.RFC3339,
	"2006-01-02T15:04:05",
	"2006-01-02 15:04:05",
	"2006-01-02T15:04",
	"2006-01-02 15:04",
	"2006-01-02 15:04:05Z07:00",
	"2006-01-02 15:04Z07:00",
}

// parseTimestamp reads t in one of tsLayouts; a layout without an offset is
// read in loc.
func parseTimestamp(s string, loc *time.Location) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, l := range tsLayouts {
		if strings.Contains(l, "Z07") {
			if t, err := time.Parse(l, s); err == nil {
				return t.In(loc), nil
			}
			continue
		}
		if t, err := time.ParseInLocation(l, s, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("unparseable timestamp %q (want RFC 3339 or YYYY-MM-DD HH:MM[:SS])", s)
}

// ReadCSV imports interval history from an ACD export with a header row.
// Required columns: timestamp and a count (offered/count/calls); optional:
// queue, handled, abandoned, aht (seconds), and for patience either
// wait_seconds (total seconds waited by the interval's offered contacts) or
// asa with abandon_time (average seconds to answer handled contacts, to
// abandon for abandoned ones). Any bad row fails the whole import
// (nothing partial is returned) and the error lists the bad rows, each naming
// its line and column: unparseable timestamps, non-numeric, negative or
// non-finite numbers, timestamps not aligned to the step, duplicated
// intervals, and, for a wall-clock time that does not exist in the time zone
// (the hour skipped by daylight saving), the time itself. Gaps are allowed
// and handled as the package doc says.
func ReadCSV(r io.Reader, opt ImportOptions) (map[string]*Series, ImportReport, error) {
	var rep ImportReport
	if !ValidStep(opt.Step) {
		return nil, rep, fmt.Errorf("%w: step %v: must be 15m, 30m or 1h", ErrBadInput, opt.Step)
	}
	loc := opt.Location
	if loc == nil {
		loc = time.UTC
	}
	maxErr := opt.MaxErrors
	if maxErr <= 0 {
		maxErr = 20
	}
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	header, err := cr.Read()
	if err != nil {
		return nil, rep, fmt.Errorf("%w: csv header: %v", ErrBadInput, err)
	}
	col := map[string]int{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		for name, al := range csvAliases {
			for _, a := range al {
				if h == a {
					if _, dup := col[name]; dup {
						return nil, rep, &RowError{Line: 1, Column: h, Msg: "column given twice (as " + name + ")"}
					}
					col[name] = i
				}
			}
		}
	}
	for _, need := range []string{"timestamp", "offered"} {
		if _, ok := col[need]; !ok {
			return nil, rep, &RowError{Line: 1, Column: need, Msg: fmt.Sprintf("missing column (accepted names: %s)", strings.Join(csvAliases[need], ", "))}
		}
	}
	if _, ok := col["queue"]; !ok && opt.Queue == "" {
		return nil, rep, &RowError{Line: 1, Column: "queue", Msg: "no queue column and no queue given"}
	}
	type key struct {
		q string
		t int64
	}
	type acc struct {
		p    Point
		ahtW float64
		line int
		rows int
		aht0 float64 // the AHT of a single row, kept exact
	}
	points := map[key]*acc{}
	var errs []error
	addErr := func(e *RowError) bool {
		errs = append(errs, e)
		return len(errs) >= maxErr
	}
	line := 1
	for {
		rec, err := cr.Read()
		line++
		if err == io.EOF {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				line = pe.Line
			}
			if addErr(&RowError{Line: line, Msg: err.Error()}) {
				break
			}
			continue
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue // blank line
		}
		rep.Rows++
		field := func(name string) (string, bool) {
			i, ok := col[name]
			if !ok {
				return "", false
			}
			if i >= len(rec) {
				return "", true
			}
			return strings.TrimSpace(rec[i]), true
		}
		ts, _ := field("timestamp")
		t, err := parseTimestamp(ts, loc)
		if err != nil {
			if addErr(&RowError{Line: line, Column: "timestamp", Msg: err.Error()}) {
				break
			}
			continue
		}
		if !hasOffset(ts) {
			// A wall-clock time skipped by daylight saving is normalised by
			// time.Date; refuse it rather than shift it silently.
			if t.Format("2006-01-02 15:04") != normClock(ts) {
				if addErr(&RowError{Line: line, Column: "timestamp", Msg: fmt.Sprintf("%q does not exist in %s (daylight-saving gap)", ts, loc)}) {
					break
				}
				continue
			}
		}
		q := opt.Queue
		if v, ok := field("queue"); ok {
			q = v
			if q == "" {
				if addErr(&RowError{Line: line, Column: "queue", Msg: "empty queue"}) {
					break
				}
				continue
			}
		}
		var vals [7]float64
		bad := false
		for i, name := range []string{"offered", "handled", "abandoned", "aht", "wait", "asa", "abandon"} {
			s, ok := field(name)
			if !ok || (s == "" && name != "offered") {
				continue
			}
			v, err := strconv.ParseFloat(s, 64)
			switch {
			case err != nil:
				bad = true
				if addErr(&RowError{Line: line, Column: name, Msg: fmt.Sprintf("not a number: %q", s)}) {
					break
				}
			case math.IsNaN(v) || math.IsInf(v, 0):
				bad = true
				addErr(&RowError{Line: line, Column: name, Msg: fmt.Sprintf("not finite: %q", s)})
			case v < 0:
				bad = true
				addErr(&RowError{Line: line, Column: name, Msg: fmt.Sprintf("negative: %v", v)})
			}
			vals[i] = v
		}
		if bad {
			if len(errs) >= maxErr {
				break
			}
			continue
		}
		st := floorStep(t, opt.Step)
		if !opt.Aggregate && !st.Equal(t) {
			if addErr(&RowError{Line: line, Column: "timestamp", Msg: fmt.Sprintf("%s is not the start of a %v interval (set aggregate to sum finer rows)", ts, opt.Step)}) {
				break
			}
			continue
		}
		k := key{q, st.Unix()}
		a := points[k]
		if a == nil {
			a = &acc{p: Point{Start: st}, line: line}
			points[k] = a
		} else if !opt.Aggregate {
			if addErr(&RowError{Line: line, Column: "timestamp", Msg: fmt.Sprintf("duplicate interval %s for queue %q (first on line %d)", st.Format(time.RFC3339), q, a.line)}) {
				break
			}
			continue
		}
		a.rows++
		a.aht0 = vals[3]
		a.p.Offered += vals[0]
		a.p.Handled += vals[1]
		a.p.Abandoned += vals[2]
		a.p.WaitSeconds += vals[4] + vals[5]*vals[1] + vals[6]*vals[2]
		if vals[3] > 0 {
			w := ahtWeight(vals[1], vals[0])
			a.p.AHT += vals[3] * w
			a.ahtW += w
		}
	}
	if len(errs) > 0 {
		if len(errs) >= maxErr {
			errs = append(errs, fmt.Errorf("forecast: csv: stopped after %d errors", maxErr))
		}
		return nil, rep, errors.Join(errs...)
	}
	out := map[string]*Series{}
	for k, a := range points {
		switch {
		case a.rows == 1:
			a.p.AHT = a.aht0
		case a.ahtW > 0:
			a.p.AHT /= a.ahtW
		}
		s := out[k.q]
		if s == nil {
			s = &Series{Queue: k.q, Step: opt.Step, Location: loc}
			out[k.q] = s
		}
		s.Points = append(s.Points, a.p)
	}
	for _, s := range out {
		sort.Slice(s.Points, func(i, j int) bool { return s.Points[i].Start.Before(s.Points[j].Start) })
		rep.Points += len(s.Points)
	}
	rep.Queues = len(out)
	return out, rep, nil
}

func hasOffset(s string) bool {
	s = strings.TrimSpace(s)
	if strings.HasSuffix(s, "Z") || strings.HasSuffix(s, "z") {
		return true
	}
	if len(s) > 6 {
		tail := s[len(s)-6:]
		if (tail[0] == '+' || tail[0] == '-') && tail[3] == ':' {
			return true
		}
	}
	return false
}

// normClock returns "YYYY-MM-DD HH:MM" of a timestamp without an offset.
func normClock(s string) string {
	s = strings.Replace(strings.TrimSpace(s), "T", " ", 1)
	if len(s) >= 16 {
		return s[:16]
	}
	return s
}

// WriteCSV writes series in the format ReadCSV reads: timestamp (RFC 3339
// with offset), queue, offered, handled, abandoned, aht, wait_seconds.
func WriteCSV(w io.Writer, series ...*Series) error {
	cw := csv.NewWriter(w)
	if err := cw.Write([]string{"timestamp", "queue", "offered", "handled", "abandoned", "aht", "wait_seconds"}); err != nil {
		return fmt.Errorf("forecast: write csv: %w", err)
	}
	for _, s := range series {
		loc := s.loc()
		for _, p := range s.Points {
			rec := []string{p.Start.In(loc).Format(time.RFC3339), s.Queue, fnum(p.Offered), fnum(p.Handled), fnum(p.Abandoned), fnum(p.AHT), fnum(p.WaitSeconds)}
			if err := cw.Write(rec); err != nil {
				return fmt.Errorf("forecast: write csv: %w", err)
			}
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("forecast: write csv: %w", err)
	}
	return nil
}

func fnum(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
