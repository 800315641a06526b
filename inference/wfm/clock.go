package wfm

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Quarter is the planning grain: shift starts, lengths, breaks and their
// windows are whole multiples of 15 minutes.
const Quarter = 15 * time.Minute

// Clock is a wall-clock time of day in minutes after midnight. Values from
// 24:00 up to 47:45 are the next day's times, for windows and shifts that
// run past midnight ("30:00" is 06:00 the next morning).
type Clock int

// MaxClock is the largest Clock accepted (48:00).
const MaxClock Clock = 48 * 60

// ParseClock reads "HH:MM" (HH 0-48).
func ParseClock(s string) (Clock, error) {
	h, m, ok := strings.Cut(strings.TrimSpace(s), ":")
	if !ok || len(m) != 2 || len(h) == 0 || len(h) > 2 {
		return 0, fmt.Errorf("time %q: want HH:MM", s)
	}
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if err1 != nil || err2 != nil || hh < 0 || mm < 0 || mm > 59 {
		return 0, fmt.Errorf("time %q: want HH:MM", s)
	}
	c := Clock(hh*60 + mm)
	if c > MaxClock {
		return 0, fmt.Errorf("time %q: after 48:00", s)
	}
	return c, nil
}

// String formats c as "HH:MM".
func (c Clock) String() string { return fmt.Sprintf("%02d:%02d", int(c)/60, int(c)%60) }

// Duration returns c as the time since midnight.
func (c Clock) Duration() time.Duration { return time.Duration(c) * time.Minute }

// onGrid reports whether c is a whole number of quarters.
func (c Clock) onGrid() bool { return c%15 == 0 }

// MarshalText implements encoding.TextMarshaler.
func (c Clock) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (c *Clock) UnmarshalText(b []byte) error {
	v, err := ParseClock(string(b))
	if err != nil {
		return err
	}
	*c = v
	return nil
}

// Days is a set of weekdays (bit i is time.Weekday(i)). The zero value is
// the empty set; Window treats it as every day.
type Days uint8

// AllDays holds every weekday.
const AllDays Days = 0x7f

var dayNames = [7]string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// weekOrder lists weekdays Monday first, the order ranges are read in.
var weekOrder = [7]time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday, time.Saturday, time.Sunday}

// Has reports whether wd is in the set.
func (d Days) Has(wd time.Weekday) bool { return d&(1<<wd) != 0 }

// Count returns the number of days in the set.
func (d Days) Count() int {
	n := 0
	for wd := range 7 {
		if d.Has(time.Weekday(wd)) {
			n++
		}
	}
	return n
}

func weekIndex(name string) (int, bool) {
	wd, ok := parseWeekday(name)
	if !ok {
		return 0, false
	}
	return slices.Index(weekOrder[:], wd), true
}

func parseWeekday(s string) (time.Weekday, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	if len(s) >= 3 {
		s = s[:3]
	}
	i := slices.Index(dayNames[:], s)
	return time.Weekday(i), i >= 0
}

// ParseDays reads a set of weekdays: names or ranges (Monday first)
// separated by commas, semicolons or spaces: "mon-fri", "sat,sun",
// "mon-wed fri". "all" or "" is every day.
func ParseDays(s string) (Days, error) {
	s = strings.TrimSpace(strings.ToLower(s))
	if s == "" || s == "all" {
		return AllDays, nil
	}
	var d Days
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ';' || r == ' ' }) {
		a, b, isRange := strings.Cut(f, "-")
		i, ok1 := weekIndex(a)
		j, ok2 := i, true
		if isRange {
			j, ok2 = weekIndex(b)
		}
		if !ok1 || !ok2 || j < i {
			return 0, fmt.Errorf("days %q: %q is not a weekday or a mon..sun range", s, f)
		}
		for k := i; k <= j; k++ {
			d |= 1 << weekOrder[k]
		}
	}
	return d, nil
}

// String formats the set Monday first with ranges ("mon-fri,sun"); every
// day is "all" and the empty set "".
func (d Days) String() string {
	if d == AllDays {
		return "all"
	}
	var parts []string
	for i := 0; i < 7; {
		if !d.Has(weekOrder[i]) {
			i++
			continue
		}
		j := i
		for j+1 < 7 && d.Has(weekOrder[j+1]) {
			j++
		}
		switch {
		case j == i:
			parts = append(parts, dayNames[weekOrder[i]])
		default:
			parts = append(parts, dayNames[weekOrder[i]]+"-"+dayNames[weekOrder[j]])
		}
		i = j + 1
	}
	return strings.Join(parts, ",")
}

// MarshalText implements encoding.TextMarshaler.
func (d Days) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Days) UnmarshalText(b []byte) error {
	v, err := ParseDays(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// Duration is a time.Duration written in JSON as a string ("8h", "30m").
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String formats d without zero units: "8h", "7h30m", "45m".
func (d Duration) String() string { return fmtDuration(time.Duration(d)) }

func fmtDuration(d time.Duration) string {
	if d < 0 && -d > 0 { // -d overflows for the smallest duration
		return "-" + fmtDuration(-d)
	}
	if d == 0 || d%time.Minute != 0 {
		return d.String()
	}
	h, m := int64(d/time.Hour), int64(d%time.Hour/time.Minute)
	switch {
	case h == 0:
		return strconv.FormatInt(m, 10) + "m"
	case m == 0:
		return strconv.FormatInt(h, 10) + "h"
	}
	return strconv.FormatInt(h, 10) + "h" + strconv.FormatInt(m, 10) + "m"
}

// MarshalJSON implements json.Marshaler.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalJSON implements json.Unmarshaler.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("want a duration string such as \"8h\" or \"30m\", got %s", b)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration %q: %w", s, err)
	}
	*d = Duration(v)
	return nil
}

// ClockSet is a set of allowed times of day, written as times and ranges
// with a step, separated by commas or semicolons: "07:00-12:00/30m, 14:00".
// A range without a step uses 15 minutes.
type ClockSet []Clock

// ParseClockSet reads a ClockSet; times must lie on the 15-minute grid.
func ParseClockSet(s string) (ClockSet, error) {
	var out ClockSet
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ';' }) {
		f = strings.TrimSpace(f)
		rng, stepS, hasStep := strings.Cut(f, "/")
		step := Quarter
		if hasStep {
			v, err := time.ParseDuration(strings.TrimSpace(stepS))
			if err != nil || v <= 0 || v%Quarter != 0 {
				return nil, fmt.Errorf("start times %q: step %q must be a positive multiple of 15m", s, stepS)
			}
			step = v
		}
		a, b, isRange := strings.Cut(rng, "-")
		from, err := ParseClock(a)
		if err != nil {
			return nil, fmt.Errorf("start times %q: %w", s, err)
		}
		to := from
		if isRange {
			if to, err = ParseClock(b); err != nil {
				return nil, fmt.Errorf("start times %q: %w", s, err)
			}
		} else if hasStep {
			return nil, fmt.Errorf("start times %q: a step needs a range (07:00-12:00/30m)", s)
		}
		if to < from {
			return nil, fmt.Errorf("start times %q: range %s ends before it starts", s, rng)
		}
		if !from.onGrid() || !to.onGrid() {
			return nil, fmt.Errorf("start times %q: times must be on the quarter hour", s)
		}
		if to >= 24*60 {
			return nil, fmt.Errorf("start times %q: a shift starts before 24:00", s)
		}
		for c := from; c <= to; c += Clock(step / time.Minute) {
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("start times %q: none given", s)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// String writes the set back compactly: runs with a common step become
// ranges.
func (cs ClockSet) String() string {
	var parts []string
	for i := 0; i < len(cs); {
		j := i
		if i+1 < len(cs) {
			step := cs[i+1] - cs[i]
			for j+1 < len(cs) && cs[j+1]-cs[j] == step {
				j++
			}
			if j-i >= 2 {
				p := cs[i].String() + "-" + cs[j].String()
				if step != 15 {
					p += "/" + fmtDuration(time.Duration(step)*time.Minute)
				}
				parts = append(parts, p)
				i = j + 1
				continue
			}
		}
		parts = append(parts, cs[i].String())
		i++
	}
	return strings.Join(parts, ", ")
}

// MarshalText implements encoding.TextMarshaler.
func (cs ClockSet) MarshalText() ([]byte, error) { return []byte(cs.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (cs *ClockSet) UnmarshalText(b []byte) error {
	v, err := ParseClockSet(string(b))
	if err != nil {
		return err
	}
	*cs = v
	return nil
}
