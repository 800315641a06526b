package wfm

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// RowError is a bad value in a CSV file, named by line and column.
type RowError struct {
	Line   int
	Column string
	Err    error
}

func (e *RowError) Error() string {
	at := "line " + strconv.Itoa(e.Line)
	if e.Column != "" {
		at += ", column " + e.Column
	}
	return "wfm: csv " + at + ": " + e.Err.Error()
}

// Unwrap returns the underlying error.
func (e *RowError) Unwrap() error { return e.Err }

// Is makes a RowError match ErrBadInput.
func (e *RowError) Is(target error) bool { return target == ErrBadInput }

// rosterColumns are the roster CSV's columns, in the order written.
var rosterColumns = []string{"id", "name", "skills", "hours_per_week", "shifts",
	"available_days", "available_from", "available_to", "preferred_days", "preferred_from", "preferred_to"}

// maxRowErrors bounds the errors one import reports.
const maxRowErrors = 50

// ReadRosterCSV reads a roster: a header row naming columns (any order;
// id, skills and hours_per_week are required), then one agent per row.
// Lists (skills, shifts) are separated by semicolons or spaces; days are
// "mon-fri", "sat,sun" or empty for every day; times are HH:MM, empty for
// no limit. A file with any bad row imports nothing: the error lists every
// bad row (up to 50) as *RowError values joined with errors.Join.
func ReadRosterCSV(r io.Reader) (*Roster, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	head, err := cr.Read()
	if err != nil {
		return nil, &RowError{Line: 1, Err: fmt.Errorf("no header row: %w", err)}
	}
	col := map[string]int{}
	for i, h := range head {
		h = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))
		if !slices.Contains(rosterColumns, h) {
			return nil, &RowError{Line: 1, Column: h, Err: fmt.Errorf("unknown column (known: %s)", strings.Join(rosterColumns, ", "))}
		}
		if _, dup := col[h]; dup {
			return nil, &RowError{Line: 1, Column: h, Err: errors.New("column given twice")}
		}
		col[h] = i
	}
	for _, req := range []string{"id", "skills", "hours_per_week"} {
		if _, ok := col[req]; !ok {
			return nil, &RowError{Line: 1, Column: req, Err: errors.New("required column missing")}
		}
	}
	var errs []error
	bad := func(line int, column string, err error) {
		if len(errs) < maxRowErrors {
			errs = append(errs, &RowError{Line: line, Column: column, Err: err})
		}
	}
	ros := &Roster{}
	seen := map[string]int{}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		line, _ := cr.FieldPos(0)
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				line = pe.Line
			}
			bad(line, "", err)
			if len(errs) >= maxRowErrors || !errors.As(err, &pe) {
				break
			}
			continue
		}
		if len(rec) != len(head) {
			bad(line, "", fmt.Errorf("%d fields, the header has %d", len(rec), len(head)))
			continue
		}
		get := func(c string) string {
			if i, ok := col[c]; ok {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		a, column, err := parseAgentRow(get)
		if err != nil {
			bad(line, column, err)
			continue
		}
		if prev, dup := seen[a.ID]; dup {
			bad(line, "id", fmt.Errorf("%q already on line %d", a.ID, prev))
			continue
		}
		seen[a.ID] = line
		ros.Agents = append(ros.Agents, a)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if len(ros.Agents) == 0 {
		return nil, &RowError{Line: 2, Err: errors.New("no agents")}
	}
	return ros, nil
}

// fieldColumn maps an agent field path to its CSV column.
var fieldColumn = map[string]string{
	"id": "id", "name": "name", "skills": "skills", "hours_per_week": "hours_per_week", "shifts": "shifts",
	"available.from": "available_from", "available.to": "available_to",
	"preferred.from": "preferred_from", "preferred.to": "preferred_to",
}

func parseAgentRow(get func(string) string) (Agent, string, error) {
	a := Agent{ID: get("id"), Name: get("name"), Skills: splitList(get("skills")), Shifts: splitList(get("shifts"))}
	h, err := strconv.ParseFloat(get("hours_per_week"), 64)
	if err != nil {
		return a, "hours_per_week", fmt.Errorf("%q is not a number", get("hours_per_week"))
	}
	a.HoursPerWeek = h
	for _, w := range []struct {
		prefix string
		win    *Window
	}{{"available", &a.Available}, {"preferred", &a.Preferred}} {
		if s := get(w.prefix + "_days"); s != "" {
			d, err := ParseDays(s)
			if err != nil {
				return a, w.prefix + "_days", err
			}
			w.win.Days = d
		}
		for _, c := range []struct {
			name string
			dst  *Clock
		}{{"_from", &w.win.From}, {"_to", &w.win.To}} {
			if s := get(w.prefix + c.name); s != "" {
				v, err := ParseClock(s)
				if err != nil {
					return a, w.prefix + c.name, err
				}
				*c.dst = v
			}
		}
	}
	if err := a.validate(""); err != nil {
		var fe *FieldError
		if errors.As(err, &fe) {
			f := strings.TrimPrefix(fe.Field, ".")
			if i := strings.Index(f, "["); i >= 0 {
				f = f[:i]
			}
			return a, fieldColumn[f], fe.Err
		}
		return a, "", err
	}
	if a.Preferred.Days == AllDays {
		a.Preferred.Days = 0
	}
	if a.Available.Days == AllDays {
		a.Available.Days = 0
	}
	return a, "", nil
}

func splitList(s string) []string {
	f := strings.FieldsFunc(s, func(r rune) bool { return r == ';' || r == ' ' || r == ',' })
	if len(f) == 0 {
		return nil
	}
	return f
}

// WriteRosterCSV writes r in the format ReadRosterCSV reads.
func WriteRosterCSV(w io.Writer, r *Roster) error {
	cw := csv.NewWriter(w)
	_ = cw.Write(rosterColumns)
	clock := func(c Clock) string {
		if c == 0 {
			return ""
		}
		return c.String()
	}
	days := func(d Days) string {
		if d == 0 || d == AllDays {
			return ""
		}
		return d.String()
	}
	for _, a := range r.Agents {
		_ = cw.Write([]string{a.ID, a.Name, strings.Join(a.Skills, ";"), strconv.FormatFloat(a.HoursPerWeek, 'f', -1, 64),
			strings.Join(a.Shifts, ";"),
			days(a.Available.Days), clock(a.Available.From), clock(a.Available.To),
			days(a.Preferred.Days), clock(a.Preferred.From), clock(a.Preferred.To)})
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("wfm: write roster csv: %w", err)
	}
	return nil
}

// WriteScheduleCSV writes one row per shift: agent, date, template, start
// and end (RFC 3339 in the period's zone), paid hours and the breaks
// ("break 10:00-10:15; lunch 12:30-13:00", local times).
func WriteScheduleCSV(w io.Writer, s *Schedule) error {
	cw := csv.NewWriter(w)
	loc := s.Period.Start.Location()
	_ = cw.Write([]string{"agent", "date", "template", "start", "end", "paid_hours", "breaks"})
	for _, sh := range s.Shifts {
		var br []string
		for _, b := range sh.Breaks {
			br = append(br, fmt.Sprintf("%s %s-%s", b.Name, b.Start.In(loc).Format("15:04"), b.End.In(loc).Format("15:04")))
		}
		st := sh.Start.In(loc)
		_ = cw.Write([]string{sh.Agent, st.Format(time.DateOnly), sh.Template, st.Format(time.RFC3339), sh.End.In(loc).Format(time.RFC3339),
			strconv.FormatFloat(sh.Paid().Hours(), 'f', -1, 64), strings.Join(br, "; ")})
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("wfm: write schedule csv: %w", err)
	}
	return nil
}

// ReadRules reads rules as JSON over DefaultRules: fields left out keep
// their defaults, unknown fields are errors.
func ReadRules(r io.Reader) (*Rules, error) {
	data, err := io.ReadAll(io.LimitReader(r, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("wfm: read rules: %w", err)
	}
	rules := DefaultRules()
	if err := DecodeStrict(data, &rules); err != nil {
		return nil, err
	}
	if err := rules.Validate(); err != nil {
		return nil, err
	}
	return &rules, nil
}

// DecodeStrict decodes a JSON object into v (which keeps its values for
// fields left out), refusing unknown fields. Its error is a *FieldError
// naming the top-level field at fault.
func DecodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		return nil
	}
	field := "body"
	var obj map[string]json.RawMessage
	if json.Unmarshal(data, &obj) == nil {
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			one, _ := json.Marshal(map[string]json.RawMessage{k: obj[k]})
			probe := reflect.New(reflect.TypeOf(v).Elem()).Interface()
			d := json.NewDecoder(bytes.NewReader(one))
			d.DisallowUnknownFields()
			if d.Decode(probe) != nil {
				field = k
				break
			}
		}
	}
	return &FieldError{Field: field, Err: err}
}
