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
// the file (the header is line 1). Rows that fail the same way are reported
// once, on the first of them: More counts the others and Lines holds the
// first few of their lines.
type RowError struct {
	Line   int
	Column string
	Msg    string
	More   int
	Lines  []int

	kind string // what went wrong, to group rows that fail alike
}

func (e *RowError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "forecast: csv line %d", e.Line)
	if e.Column != "" {
		fmt.Fprintf(&b, ", column %s", e.Column)
	}
	fmt.Fprintf(&b, ": %s", e.Msg)
	if e.More > 0 {
		lines := make([]string, len(e.Lines))
		for i, l := range e.Lines {
			lines[i] = strconv.Itoa(l)
		}
		more := ""
		if e.More > len(e.Lines) {
			more = ", ..."
		}
		fmt.Fprintf(&b, " (and %d more rows like it: lines %s%s)", e.More, strings.Join(lines, ", "), more)
	}
	return b.String()
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
	// Aggregate says what to do with rows finer than Step; the default
	// sums them into their interval.
	Aggregate Aggregation
	// MaxErrors bounds the distinct row errors reported (default 20); rows
	// that fail alike count as one.
	MaxErrors int
}

// Aggregation says how ReadCSV treats rows that share an interval.
type Aggregation int

const (
	// AggregateFiner (the default, "auto") sums rows whose timestamps fall
	// inside one interval, as in a 5-minute export read at 30 minutes, and
	// counts them in ImportReport.Summed; the same timestamp twice for a
	// queue is still an error.
	AggregateFiner Aggregation = iota
	// AggregateAll ("true") also sums rows with the same timestamp, as in an
	// export split by agent group.
	AggregateAll
	// AggregateNone ("false"): every row must be one whole interval; an
	// unaligned or repeated timestamp is an error.
	AggregateNone
)

// ParseAggregation reads auto, true or false (the API's aggregate
// parameter and the CLI's -aggregate flag).
func ParseAggregation(s string) (Aggregation, error) {
	switch s {
	case "", "auto":
		return AggregateFiner, nil
	case "true":
		return AggregateAll, nil
	case "false":
		return AggregateNone, nil
	}
	return 0, fmt.Errorf("%w: aggregate must be auto, true or false, got %q", ErrBadConfig, s)
}

func (a Aggregation) String() string {
	return [...]string{"auto", "true", "false"}[a]
}

// ImportReport counts what ReadCSV read.
type ImportReport struct {
	Rows   int `json:"rows"`
	Queues int `json:"queues"`
	Points int `json:"points"`
	// Summed counts the rows added into an interval that an earlier row had
	// started (a history finer than the step).
	Summed int `json:"summed_rows"`
	// BadRows counts the rows refused.
	BadRows int `json:"bad_rows,omitempty"`
}

// Largest plausible values of a row: more is a unit mistake or garbage, and
// would overflow the model's arithmetic.
const (
	// MaxContacts bounds offered, handled and abandoned per row.
	MaxContacts = 1e6
	// MaxSeconds bounds the per-contact times (aht, asa, abandon_time).
	MaxSeconds = 86400
)

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
	if opt.Location == nil {
		opt.Location = time.UTC
	}
	if opt.MaxErrors <= 0 {
		opt.MaxErrors = 20
	}
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	col, err := readHeader(cr, opt)
	if err != nil {
		return nil, rep, err
	}
	im := &importer{opt: opt, col: col, points: map[pointKey]*pointAcc{}, seen: map[pointKey]int{}, kinds: map[string]*RowError{}}
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				line = pe.Line
			}
			im.fail(&RowError{Line: line, Msg: err.Error(), kind: "csv"})
			continue
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue // blank line
		}
		rep.Rows++
		im.row(line, rec)
	}
	rep.BadRows, rep.Summed = im.bad, im.summed
	if len(im.errs) > 0 {
		return nil, rep, im.err()
	}
	out := im.series()
	for _, s := range out {
		rep.Points += len(s.Points)
	}
	rep.Queues = len(out)
	return out, rep, nil
}

// readHeader maps the header's columns (by their accepted names) to their
// index.
func readHeader(cr *csv.Reader, opt ImportOptions) (map[string]int, error) {
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("%w: csv header: %v", ErrBadInput, err)
	}
	col := map[string]int{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		for name, al := range csvAliases {
			for _, a := range al {
				if h == a {
					if _, dup := col[name]; dup {
						return nil, &RowError{Line: 1, Column: h, Msg: "column given twice (as " + name + ")"}
					}
					col[name] = i
				}
			}
		}
	}
	for _, need := range []string{"timestamp", "offered"} {
		if _, ok := col[need]; !ok {
			return nil, &RowError{Line: 1, Column: need, Msg: fmt.Sprintf("missing column (accepted names: %s)", strings.Join(csvAliases[need], ", "))}
		}
	}
	if _, ok := col["queue"]; !ok && opt.Queue == "" {
		return nil, &RowError{Line: 1, Column: "queue", Msg: "no queue column and no queue given"}
	}
	return col, nil
}

// numericColumns are the number columns of a row, in rowValues order.
var numericColumns = [...]string{"offered", "handled", "abandoned", "aht", "wait", "asa", "abandon"}

// rowValues holds a row's numbers, indexed like numericColumns.
type rowValues [len(numericColumns)]float64

type pointKey struct {
	q string
	t int64
}

// pointAcc accumulates the rows of one (queue, interval).
type pointAcc struct {
	p    Point
	ahtW float64
	line int
	rows int
	aht0 float64 // the AHT of a single row, kept exact
}

// importer turns CSV rows into points.
type importer struct {
	opt    ImportOptions
	col    map[string]int
	points map[pointKey]*pointAcc
	seen   map[pointKey]int // AggregateFiner: exact timestamp -> its line
	summed int

	errs  []*RowError          // the first row of each kind of failure, in order
	kinds map[string]*RowError // kind -> that first row
	bad   int                  // rows refused
	last  int                  // the line of the last row refused
}

// fail records a bad row; a row that fails like an earlier one only adds
// its line to the earlier one's.
func (im *importer) fail(e *RowError) {
	if e.Line != im.last {
		im.bad++
		im.last = e.Line
	}
	key := e.Column + "\x00" + e.kind
	if first, ok := im.kinds[key]; ok {
		first.More++
		if len(first.Lines) < 5 {
			first.Lines = append(first.Lines, e.Line)
		}
		return
	}
	im.kinds[key] = e
	im.errs = append(im.errs, e)
}

// err joins the recorded failures, at most MaxErrors of them.
func (im *importer) err() error {
	errs := make([]error, 0, len(im.errs)+1)
	for i, e := range im.errs {
		if i == im.opt.MaxErrors {
			errs = append(errs, fmt.Errorf("%w: csv: %d more kinds of error not listed", ErrBadInput, len(im.errs)-i))
			break
		}
		errs = append(errs, e)
	}
	return errors.Join(errs...)
}

// field returns the named column of rec ("" past its end) and whether the
// file has that column.
func (im *importer) field(rec []string, name string) (string, bool) {
	i, ok := im.col[name]
	if !ok {
		return "", false
	}
	if i >= len(rec) {
		return "", true
	}
	return strings.TrimSpace(rec[i]), true
}

// row reads one data row at line; a bad row records its errors and adds
// nothing.
func (im *importer) row(line int, rec []string) {
	ts, _ := im.field(rec, "timestamp")
	t, ok := im.timestamp(line, ts)
	if !ok {
		return
	}
	q := im.opt.Queue
	if v, ok := im.field(rec, "queue"); ok {
		if q = v; q == "" {
			im.fail(&RowError{Line: line, Column: "queue", Msg: "empty queue", kind: "empty"})
			return
		}
	}
	vals, ok := im.numbers(line, rec)
	if !ok {
		return
	}
	st := floorStep(t, im.opt.Step)
	if im.opt.Aggregate == AggregateNone && !st.Equal(t) {
		im.fail(&RowError{Line: line, Column: "timestamp", kind: "unaligned",
			Msg: fmt.Sprintf("%s is not the start of a %v interval (aggregate auto sums rows finer than the step)", ts, im.opt.Step)})
		return
	}
	if im.opt.Aggregate == AggregateFiner {
		k := pointKey{q, t.Unix()}
		if first, dup := im.seen[k]; dup {
			im.fail(&RowError{Line: line, Column: "timestamp", kind: "duplicate",
				Msg: fmt.Sprintf("duplicate timestamp %s for queue %q (first on line %d; aggregate true sums repeated timestamps)", ts, q, first)})
			return
		}
		im.seen[k] = line
	}
	im.add(line, q, st, vals)
}

// timestamp parses a row's timestamp in the site's zone.
func (im *importer) timestamp(line int, ts string) (time.Time, bool) {
	loc := im.opt.Location
	t, err := parseTimestamp(ts, loc)
	if err != nil {
		im.fail(&RowError{Line: line, Column: "timestamp", Msg: err.Error(), kind: "unparseable"})
		return t, false
	}
	// A wall-clock time skipped by daylight saving is normalised by
	// time.Date; refuse it rather than shift it silently.
	if !hasOffset(ts) && t.Format("2006-01-02 15:04") != normClock(ts) {
		im.fail(&RowError{Line: line, Column: "timestamp", kind: "dst", Msg: fmt.Sprintf("%q does not exist in %s (daylight-saving gap)", ts, loc)})
		return t, false
	}
	return t, true
}

// numbers parses a row's number columns; every bad one is recorded.
func (im *importer) numbers(line int, rec []string) (rowValues, bool) {
	var vals rowValues
	ok := true
	for i, name := range numericColumns {
		s, has := im.field(rec, name)
		if !has || (s == "" && name != "offered") {
			continue
		}
		v, err := strconv.ParseFloat(s, 64)
		limit, unit := valueLimit(name)
		switch {
		case errors.Is(err, strconv.ErrRange):
			im.fail(&RowError{Line: line, Column: name, kind: "range", Msg: fmt.Sprintf("out of range: %s (at most %g %s)", s, limit, unit)})
		case err != nil:
			im.fail(&RowError{Line: line, Column: name, kind: "number", Msg: fmt.Sprintf("not a number: %q", s)})
		case math.IsNaN(v) || math.IsInf(v, 0):
			im.fail(&RowError{Line: line, Column: name, kind: "finite", Msg: fmt.Sprintf("not finite: %q", s)})
		case v < 0:
			im.fail(&RowError{Line: line, Column: name, kind: "negative", Msg: fmt.Sprintf("negative: %v", v)})
		case v > limit:
			im.fail(&RowError{Line: line, Column: name, kind: "range", Msg: fmt.Sprintf("out of range: %s (at most %g %s)", s, limit, unit)})
		default:
			vals[i] = v
			continue
		}
		ok = false
	}
	return vals, ok
}

// valueLimit is the largest plausible value of a number column and its
// unit.
func valueLimit(column string) (float64, string) {
	switch column {
	case "offered", "handled", "abandoned":
		return MaxContacts, "contacts in one row"
	case "wait":
		return MaxContacts * MaxSeconds, "seconds in one row"
	default:
		return MaxSeconds, "seconds per contact"
	}
}

// add puts a good row into the interval starting at st.
func (im *importer) add(line int, q string, st time.Time, vals rowValues) {
	k := pointKey{q, st.Unix()}
	a := im.points[k]
	if a == nil {
		a = &pointAcc{p: Point{Start: st}, line: line}
		im.points[k] = a
	} else if im.opt.Aggregate == AggregateNone {
		im.fail(&RowError{Line: line, Column: "timestamp", kind: "duplicate", Msg: fmt.Sprintf("duplicate interval %s for queue %q (first on line %d)", st.Format(time.RFC3339), q, a.line)})
		return
	} else {
		im.summed++
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

// series builds one sorted Series per queue from the accumulated points.
func (im *importer) series() map[string]*Series {
	out := map[string]*Series{}
	for k, a := range im.points {
		switch {
		case a.rows == 1:
			a.p.AHT = a.aht0
		case a.ahtW > 0:
			a.p.AHT /= a.ahtW
		}
		s := out[k.q]
		if s == nil {
			s = &Series{Queue: k.q, Step: im.opt.Step, Location: im.opt.Location}
			out[k.q] = s
		}
		s.Points = append(s.Points, a.p)
	}
	for _, s := range out {
		sort.Slice(s.Points, func(i, j int) bool { return s.Points[i].Start.Before(s.Points[j].Start) })
	}
	return out
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
