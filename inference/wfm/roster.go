package wfm

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
)

// Errors returned by this package. Field-level failures are *FieldError
// values that match ErrBadInput with errors.Is.
var (
	ErrBadInput = errors.New("wfm: bad input")
)

// FieldError is bad input in one field, named as a JSON path
// ("agents[3].hours_per_week", "rules.shifts[0].starts").
type FieldError struct {
	Field string
	Err   error
}

func (e *FieldError) Error() string { return "wfm: " + e.Field + ": " + e.Err.Error() }

// Unwrap returns the underlying error.
func (e *FieldError) Unwrap() error { return e.Err }

// Is makes a FieldError match ErrBadInput.
func (e *FieldError) Is(target error) bool { return target == ErrBadInput }

func fieldErr(field, format string, a ...any) *FieldError {
	return &FieldError{Field: field, Err: fmt.Errorf(format, a...)}
}

// Window is a span of time on a set of weekdays: the hours an agent can
// work (Agent.Available, hard) or would like to (Agent.Preferred, soft). A
// shift fits the window when it starts on one of Days at or after From and
// ends by To on the same day's clock (To may pass 24:00 for overnight work).
// Zero fields mean no limit: Days 0 is every day, To 0 is 48:00.
type Window struct {
	Days Days  `json:"days"`
	From Clock `json:"from"`
	To   Clock `json:"to"`
}

// IsZero reports whether the window sets no limit at all.
func (w Window) IsZero() bool { return w == Window{} }

func (w Window) days() Days {
	if w.Days == 0 {
		return AllDays
	}
	return w.Days
}

func (w Window) to() Clock {
	if w.To == 0 {
		return MaxClock
	}
	return w.To
}

// Length is the time between From and To.
func (w Window) length() Clock { return w.to() - w.From }

func (w Window) validate(field string) error {
	if w.From < 0 || w.From >= 24*60 || !w.From.onGrid() {
		return fieldErr(field+".from", "%s must be a quarter hour before 24:00", w.From)
	}
	if w.To != 0 && (w.To <= w.From || w.To > MaxClock || !w.To.onGrid()) {
		return fieldErr(field+".to", "%s must be a quarter hour after from (%s), at most 48:00", w.To, w.From)
	}
	return nil
}

// Agent is one person on the roster. Name is personal data: the package
// never logs it.
type Agent struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
	// Skills are the queues the agent can take.
	Skills []string `json:"skills"`
	// HoursPerWeek is the contracted paid hours per week (unpaid breaks
	// excluded); Rules.HoursTolerance allows a band around it.
	HoursPerWeek float64 `json:"hours_per_week"`
	// Shifts restricts the agent to these shift templates; empty means any.
	Shifts []string `json:"shifts,omitempty"`
	// Available is when the agent can work at all (a hard rule).
	Available Window `json:"available"`
	// Preferred is when the agent would rather work (soft: each shift on
	// another day, starting earlier or ending later costs
	// Rules.PreferenceWeight).
	Preferred Window `json:"preferred"`
}

// Roster is the agents a schedule is made for.
type Roster struct {
	Agents []Agent `json:"agents"`
}

var idRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$`)

// MaxHoursPerWeek bounds a contract.
const MaxHoursPerWeek = 80

// Validate checks every agent on its own (shift names are checked against
// the rules by Problem.Validate) and that IDs are unique.
func (r *Roster) Validate() error {
	seen := map[string]int{}
	for i, a := range r.Agents {
		f := fmt.Sprintf("agents[%d]", i)
		if err := a.validate(f); err != nil {
			return err
		}
		if j, dup := seen[a.ID]; dup {
			return fieldErr(f+".id", "%q already used by agents[%d]", a.ID, j)
		}
		seen[a.ID] = i
	}
	return nil
}

func (a *Agent) validate(f string) error {
	if !idRE.MatchString(a.ID) {
		return fieldErr(f+".id", "%q must be 1-64 letters, digits or ._@- starting with a letter or digit", a.ID)
	}
	if len(a.Name) > 200 {
		return fieldErr(f+".name", "longer than 200 bytes")
	}
	if len(a.Skills) == 0 {
		return fieldErr(f+".skills", "an agent needs at least one skill (queue)")
	}
	for j, s := range a.Skills {
		if !idRE.MatchString(s) {
			return fieldErr(fmt.Sprintf("%s.skills[%d]", f, j), "%q is not a queue ID", s)
		}
		if slices.Index(a.Skills, s) != j {
			return fieldErr(fmt.Sprintf("%s.skills[%d]", f, j), "%q listed twice", s)
		}
	}
	if !(a.HoursPerWeek > 0) || a.HoursPerWeek > MaxHoursPerWeek || math.IsInf(a.HoursPerWeek, 0) {
		return fieldErr(f+".hours_per_week", "%v must be in (0, %d]", a.HoursPerWeek, MaxHoursPerWeek)
	}
	if q := a.HoursPerWeek * 4; math.Abs(q-math.Round(q)) > 1e-9 {
		return fieldErr(f+".hours_per_week", "%v must be a whole number of quarter hours", a.HoursPerWeek)
	}
	for j, s := range a.Shifts {
		if s == "" || slices.Index(a.Shifts, s) != j {
			return fieldErr(fmt.Sprintf("%s.shifts[%d]", f, j), "%q is empty or listed twice", s)
		}
	}
	if err := a.Available.validate(f + ".available"); err != nil {
		return err
	}
	return a.Preferred.validate(f + ".preferred")
}

// allows reports whether the agent may work template name.
func (a *Agent) allows(name string) bool {
	return len(a.Shifts) == 0 || slices.Contains(a.Shifts, name)
}
