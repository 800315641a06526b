package wfm

import (
	"fmt"
	"math"
	"time"
)

// Break is a pause inside a shift: Length long, starting no earlier than
// After and ending no later than Before, both measured from the shift's
// start. The optimiser places it on the quarter hour where the agent is
// missed least.
type Break struct {
	Name   string   `json:"name"`
	Length Duration `json:"length"`
	Paid   bool     `json:"paid"`
	After  Duration `json:"after"`
	Before Duration `json:"before"`
}

// ShiftTemplate is a kind of shift: its length, the times it may start and
// its breaks (in order; their windows may not overlap).
type ShiftTemplate struct {
	Name   string   `json:"name"`
	Length Duration `json:"length"`
	Starts ClockSet `json:"starts"`
	Breaks []Break  `json:"breaks,omitempty"`
}

// Paid is the template's paid time: its length less unpaid breaks.
func (t *ShiftTemplate) Paid() time.Duration {
	p := t.Length.D()
	for _, b := range t.Breaks {
		if !b.Paid {
			p -= b.Length.D()
		}
	}
	return p
}

// Working is the time on contacts: the length less every break.
func (t *ShiftTemplate) Working() time.Duration {
	p := t.Length.D()
	for _, b := range t.Breaks {
		p -= b.Length.D()
	}
	return p
}

// Rules are a site's scheduling rules. Every field is a hard rule except
// PreferenceWeight, which prices agents' preferences.
type Rules struct {
	Shifts []ShiftTemplate `json:"shifts"`
	// MinRest is the least time between the end of a shift and the start
	// of the agent's next one.
	MinRest Duration `json:"min_rest"`
	// MaxConsecutiveDays caps the days worked in a row inside the period
	// (counting those before it given as Problem.Prior).
	MaxConsecutiveDays int `json:"max_consecutive_days"`
	// MinDaysOffPerWeek is the days off in every week of the period (weeks
	// count from the period's first day).
	MinDaysOffPerWeek int `json:"min_days_off_per_week"`
	// HoursTolerance is how far a week's paid hours may stray from the
	// contract, either way.
	HoursTolerance Duration `json:"hours_tolerance"`
	// MaxWeekendShare is the share of the period's weekends one agent may
	// work (a weekend is worked when its Saturday or Sunday is), rounded
	// up: 0.5 of 4 weekends is 2. 1 means no limit.
	MaxWeekendShare float64 `json:"max_weekend_share"`
	// PreferenceWeight is the cost of one missed preference (a shift on a
	// day the agent would rather have off, or starting before or ending
	// after their preferred hours), in over-staffed agent-intervals.
	PreferenceWeight float64 `json:"preference_weight"`
}

// DefaultRules returns common rules: an 8-hour day shift with two paid
// 15-minute breaks and an unpaid 30-minute lunch (7.5 paid hours), a
// 4-hour part-time shift with one break, 11 hours' rest, at most 6 days in
// a row, 2 days off a week, contracts met exactly, every other weekend.
func DefaultRules() Rules {
	return Rules{
		Shifts: []ShiftTemplate{
			{
				Name: "day8", Length: Duration(8 * time.Hour),
				Starts: mustClockSet("07:00-13:00/30m"),
				Breaks: []Break{
					{Name: "break", Length: Duration(15 * time.Minute), Paid: true, After: Duration(90 * time.Minute), Before: Duration(3 * time.Hour)},
					{Name: "lunch", Length: Duration(30 * time.Minute), After: Duration(3*time.Hour + 30*time.Minute), Before: Duration(5 * time.Hour)},
					{Name: "break", Length: Duration(15 * time.Minute), Paid: true, After: Duration(5*time.Hour + 30*time.Minute), Before: Duration(7*time.Hour + 15*time.Minute)},
				},
			},
			{
				Name: "part4", Length: Duration(4 * time.Hour),
				Starts: mustClockSet("07:00-17:00/30m"),
				Breaks: []Break{
					{Name: "break", Length: Duration(15 * time.Minute), Paid: true, After: Duration(90 * time.Minute), Before: Duration(3 * time.Hour)},
				},
			},
		},
		MinRest:            Duration(11 * time.Hour),
		MaxConsecutiveDays: 6,
		MinDaysOffPerWeek:  2,
		MaxWeekendShare:    0.5,
		PreferenceWeight:   1,
	}
}

func mustClockSet(s string) ClockSet {
	cs, err := ParseClockSet(s)
	if err != nil {
		panic(err)
	}
	return cs
}

// MaxShiftLength bounds a template.
const MaxShiftLength = 14 * time.Hour

// Validate checks the rules on their own.
func (r *Rules) Validate() error {
	if len(r.Shifts) == 0 {
		return fieldErr("shifts", "at least one shift template is needed")
	}
	seen := map[string]bool{}
	var latest time.Duration // latest end of any shift after its day's midnight
	for i := range r.Shifts {
		t := &r.Shifts[i]
		f := fmt.Sprintf("shifts[%d]", i)
		if !idRE.MatchString(t.Name) {
			return fieldErr(f+".name", "%q must be 1-64 letters, digits or ._@-", t.Name)
		}
		if seen[t.Name] {
			return fieldErr(f+".name", "%q used twice", t.Name)
		}
		seen[t.Name] = true
		L := t.Length.D()
		if L <= 0 || L > MaxShiftLength || L%Quarter != 0 {
			return fieldErr(f+".length", "%s must be a multiple of 15m in (0, %s]", t.Length, fmtDuration(MaxShiftLength))
		}
		if len(t.Starts) == 0 {
			return fieldErr(f+".starts", "no start times")
		}
		for _, c := range t.Starts {
			if !c.onGrid() || c < 0 || c >= 24*60 {
				return fieldErr(f+".starts", "%s must be a quarter hour before 24:00", c)
			}
		}
		latest = max(latest, t.Starts[len(t.Starts)-1].Duration()+L)
		if len(t.Breaks) > maxBreaks {
			return fieldErr(f+".breaks", "%d breaks: at most %d", len(t.Breaks), maxBreaks)
		}
		var prevEnd time.Duration
		for j, b := range t.Breaks {
			bf := fmt.Sprintf("%s.breaks[%d]", f, j)
			if b.Name == "" || len(b.Name) > 32 {
				return fieldErr(bf+".name", "must be 1-32 bytes")
			}
			bl := b.Length.D()
			if bl <= 0 || bl%Quarter != 0 {
				return fieldErr(bf+".length", "%s must be a positive multiple of 15m", b.Length)
			}
			if b.After.D() < 0 || b.After.D()%Quarter != 0 {
				return fieldErr(bf+".after", "%s must be a multiple of 15m from the shift start", b.After)
			}
			if b.Before.D()%Quarter != 0 || b.Before.D() > L {
				return fieldErr(bf+".before", "%s must be a multiple of 15m within the shift (%s)", b.Before, t.Length)
			}
			if b.Before.D()-b.After.D() < bl {
				return fieldErr(bf+".before", "window %s-%s is shorter than the break (%s)", b.After, b.Before, b.Length)
			}
			if j > 0 && b.After.D() < prevEnd {
				return fieldErr(bf+".after", "window starts at %s, before the previous break's window ends (%s): windows must follow each other", b.After, fmtDuration(prevEnd))
			}
			prevEnd = b.Before.D()
		}
		if t.Working() <= 0 {
			return fieldErr(f+".breaks", "breaks fill the whole shift")
		}
	}
	rest := r.MinRest.D()
	if rest < 0 || rest > 24*time.Hour {
		return fieldErr("min_rest", "%s must be in [0, 24h]", r.MinRest)
	}
	// Rest is checked between consecutive days only; that suffices when no
	// shift ends so late that the day after next could start too soon.
	if latest > 48*time.Hour-rest {
		return fieldErr("min_rest", "a shift may end %s after its day starts; with %s rest the day after next would need checking too: shorten late shifts or the rest", fmtDuration(latest), r.MinRest)
	}
	if r.MaxConsecutiveDays < 1 || r.MaxConsecutiveDays > 14 {
		return fieldErr("max_consecutive_days", "%d must be in [1, 14]", r.MaxConsecutiveDays)
	}
	if r.MinDaysOffPerWeek < 0 || r.MinDaysOffPerWeek > 6 {
		return fieldErr("min_days_off_per_week", "%d must be in [0, 6]", r.MinDaysOffPerWeek)
	}
	if r.HoursTolerance.D() < 0 || r.HoursTolerance.D() > 40*time.Hour {
		return fieldErr("hours_tolerance", "%s must be in [0, 40h]", r.HoursTolerance)
	}
	if !(r.MaxWeekendShare > 0 && r.MaxWeekendShare <= 1) {
		return fieldErr("max_weekend_share", "%v must be in (0, 1] (1: no limit)", r.MaxWeekendShare)
	}
	if r.PreferenceWeight < 0 || r.PreferenceWeight > 1000 || math.IsNaN(r.PreferenceWeight) {
		return fieldErr("preference_weight", "%v must be in [0, 1000]", r.PreferenceWeight)
	}
	return nil
}

// template returns the template named name.
func (r *Rules) template(name string) (*ShiftTemplate, bool) {
	for i := range r.Shifts {
		if r.Shifts[i].Name == name {
			return &r.Shifts[i], true
		}
	}
	return nil, false
}

// weekendLimit is the most weekends an agent may work out of n.
func (r *Rules) weekendLimit(n int) int {
	return int(math.Ceil(r.MaxWeekendShare*float64(n) - 1e-9))
}

// hoursBand returns a contract's weekly paid-time band in quarters.
func (r *Rules) hoursBand(hoursPerWeek float64) (lo, hi int) {
	c := hoursPerWeek * 4
	tol := float64(r.HoursTolerance.D()) / float64(Quarter)
	lo = int(math.Ceil(c - tol - 1e-9))
	hi = int(math.Floor(c + tol + 1e-9))
	return max(lo, 0), hi
}
