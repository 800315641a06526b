package forecast

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Span is an open period of a day, in minutes since local midnight, [From, To).
type Span struct {
	From int `json:"from"`
	To   int `json:"to"`
}

// Hours are a queue's opening hours per weekday (indexed by time.Weekday).
// A weekday with no spans is closed all day. The zero Hours is "unknown";
// Fit then infers them from the history (see InferHours).
type Hours struct {
	Days [7][]Span `json:"days"`
}

// IsZero reports whether no weekday has any span.
func (h Hours) IsZero() bool {
	for _, d := range h.Days {
		if len(d) > 0 {
			return false
		}
	}
	return true
}

// Open reports whether the wall-clock interval starting at t, of length step,
// is open (it must lie entirely within a span).
func (h Hours) Open(t time.Time, step time.Duration) bool {
	m := t.Hour()*60 + t.Minute()
	e := m + int(step/time.Minute)
	for _, s := range h.Days[t.Weekday()] {
		if m >= s.From && e <= s.To {
			return true
		}
	}
	return false
}

var dayNames = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

// ParseHours parses opening hours such as
// "mon-fri 07:00-21:00; sat 09:00-13:00,14:00-17:00". Days not named are
// closed; "24:00" closes at midnight.
func ParseHours(spec string) (Hours, error) {
	var h Hours
	for _, part := range strings.Split(spec, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		f := strings.Fields(part)
		if len(f) != 2 {
			return Hours{}, fmt.Errorf("%w: hours %q: want \"DAYS HH:MM-HH:MM[,HH:MM-HH:MM]\"", ErrBadConfig, part)
		}
		days, err := parseDays(f[0])
		if err != nil {
			return Hours{}, fmt.Errorf("%w: hours %q: %v", ErrBadConfig, part, err)
		}
		var spans []Span
		for _, r := range strings.Split(f[1], ",") {
			a, b, ok := strings.Cut(r, "-")
			if !ok {
				return Hours{}, fmt.Errorf("%w: hours %q: range %q has no '-'", ErrBadConfig, part, r)
			}
			from, err1 := parseClock(a)
			to, err2 := parseClock(b)
			if err1 != nil || err2 != nil || to <= from {
				return Hours{}, fmt.Errorf("%w: hours %q: bad range %q", ErrBadConfig, part, r)
			}
			spans = append(spans, Span{from, to})
		}
		for _, d := range days {
			h.Days[d] = append(h.Days[d], spans...)
			sort.Slice(h.Days[d], func(i, j int) bool { return h.Days[d][i].From < h.Days[d][j].From })
		}
	}
	if h.IsZero() {
		return Hours{}, fmt.Errorf("%w: hours %q: no open period", ErrBadConfig, spec)
	}
	return h, nil
}

func parseDays(s string) ([]time.Weekday, error) {
	var out []time.Weekday
	for _, item := range strings.Split(strings.ToLower(s), ",") {
		a, b, rng := strings.Cut(item, "-")
		da, ok := dayNames[a]
		if !ok {
			return nil, fmt.Errorf("unknown day %q", a)
		}
		if !rng {
			out = append(out, da)
			continue
		}
		db, ok := dayNames[b]
		if !ok {
			return nil, fmt.Errorf("unknown day %q", b)
		}
		for d := da; ; d = (d + 1) % 7 {
			out = append(out, d)
			if d == db {
				break
			}
		}
	}
	return out, nil
}

func parseClock(s string) (int, error) {
	var hh, mm int
	if _, err := fmt.Sscanf(s, "%d:%d", &hh, &mm); err != nil || hh < 0 || hh > 24 || mm < 0 || mm > 59 || (hh == 24 && mm != 0) {
		return 0, fmt.Errorf("bad time %q", s)
	}
	return hh*60 + mm, nil
}

// String formats the hours in the syntax ParseHours reads.
func (h Hours) String() string {
	var parts []string
	for d := time.Sunday; d <= time.Saturday; d++ {
		if len(h.Days[d]) == 0 {
			continue
		}
		var r []string
		for _, s := range h.Days[d] {
			r = append(r, fmt.Sprintf("%02d:%02d-%02d:%02d", s.From/60, s.From%60, s.To/60, s.To%60))
		}
		parts = append(parts, strings.ToLower(d.String()[:3])+" "+strings.Join(r, ","))
	}
	return strings.Join(parts, "; ")
}

// InferHours derives opening hours from a history: an interval of a weekday
// is open when it had contacts on at least a fifth of that weekday's days
// with data.
func InferHours(s *Series) Hours {
	loc := s.loc()
	spd := int(24 * time.Hour / s.Step)
	var days [7]map[int]bool
	counts := [7][]int{}
	for d := range counts {
		counts[d] = make([]int, spd)
		days[d] = map[int]bool{}
	}
	for _, p := range s.Points {
		t := p.Start.In(loc)
		wd := t.Weekday()
		days[wd][t.Year()*400+t.YearDay()] = true
		if p.Offered > 0 {
			counts[wd][slotOf(t, s.Step)]++
		}
	}
	var h Hours
	sm := int(s.Step / time.Minute)
	for d := range counts {
		n := len(days[d])
		if n == 0 {
			continue
		}
		var cur *Span
		for i, c := range counts[d] {
			open := float64(c) >= 0.2*float64(n)
			switch {
			case open && cur == nil:
				h.Days[d] = append(h.Days[d], Span{From: i * sm, To: (i + 1) * sm})
				cur = &h.Days[d][len(h.Days[d])-1]
			case open:
				cur.To = (i + 1) * sm
			default:
				cur = nil
			}
		}
	}
	return h
}

func slotOf(t time.Time, step time.Duration) int {
	return (t.Hour()*60 + t.Minute()) / int(step/time.Minute)
}

// Holiday is one date of the site's calendar. Holidays sharing a Name share
// one fitted effect (e.g. every "christmas"); a Closed holiday is forecast
// closed and never fitted.
type Holiday struct {
	Date   string `json:"date"` // YYYY-MM-DD, local date
	Name   string `json:"name"`
	Closed bool   `json:"closed,omitempty"`
}

// ParseHolidays reads a calendar written as comma-separated
// DATE:NAME[:closed] items, e.g. "2026-12-25:christmas:closed,
// 2026-11-27:black-friday" (the API's holidays parameter and the CLI's
// -holidays flag).
func ParseHolidays(s string) ([]Holiday, error) {
	var out []Holiday
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		f := strings.Split(item, ":")
		if len(f) < 2 || len(f) > 3 || (len(f) == 3 && f[2] != "closed") {
			return nil, fmt.Errorf("%w: holidays: %q: want DATE:NAME or DATE:NAME:closed", ErrBadConfig, item)
		}
		out = append(out, Holiday{Date: f[0], Name: f[1], Closed: len(f) == 3})
	}
	return out, nil
}
