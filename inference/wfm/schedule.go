package wfm

import (
	"time"
)

// Activity is a break inside a shift.
type Activity struct {
	Name  string    `json:"name"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	Paid  bool      `json:"paid"`
}

// Shift is one agent's work on one day: from Start to End, less its
// breaks. It belongs to the day it starts on.
type Shift struct {
	Agent    string     `json:"agent"`
	Template string     `json:"template"`
	Start    time.Time  `json:"start"`
	End      time.Time  `json:"end"`
	Breaks   []Activity `json:"breaks,omitempty"`
}

// Paid is the shift's paid time: its length less unpaid breaks.
func (s *Shift) Paid() time.Duration {
	d := s.End.Sub(s.Start)
	for _, b := range s.Breaks {
		if !b.Paid {
			d -= b.End.Sub(b.Start)
		}
	}
	return d
}

// Working reports whether the agent is on contacts at t (on shift and not
// on a break).
func (s *Shift) Working(t time.Time) bool {
	if t.Before(s.Start) || !t.Before(s.End) {
		return false
	}
	for _, b := range s.Breaks {
		if !t.Before(b.Start) && t.Before(b.End) {
			return false
		}
	}
	return true
}

// Explanation says why a schedule misses something: a hard rule it had to
// break (Rule names the rule as Check does, e.g. "min_hours") or demand it
// cannot meet ("capacity", "skill_capacity", "peak").
type Explanation struct {
	Rule    string `json:"rule"`
	Agent   string `json:"agent,omitempty"`
	Queue   string `json:"queue,omitempty"`
	Week    int    `json:"week,omitempty"` // 1-based; 0 when not about one week
	Message string `json:"message"`
}

// Stats measure a schedule against the demand. Agent-intervals are in the
// period's intervals: one agent missing for one 30-minute interval is 1,
// for 15 minutes of it 0.5.
type Stats struct {
	Under float64 `json:"under_agent_intervals"`
	Over  float64 `json:"over_agent_intervals"`
	// PreferenceMisses counts missed preferences (see Rules.PreferenceWeight).
	PreferenceMisses int `json:"preference_misses"`
	// Objective is UnderWeight x Under + Over + PreferenceWeight x
	// PreferenceMisses (+ HoursPenalty per quarter hour a week falls short of
	// its contract band, when that could not be avoided).
	Objective     float64      `json:"objective"`
	ShortQuarters int          `json:"short_quarters,omitempty"`
	PaidHours     float64      `json:"paid_hours"`
	RequiredHours float64      `json:"required_hours"`
	Queues        []QueueStats `json:"queues"`
}

// QueueStats are one queue's figures.
type QueueStats struct {
	Queue         string  `json:"queue"`
	Under         float64 `json:"under_agent_intervals"`
	RequiredHours float64 `json:"required_hours"`
	// Met is the share of intervals with demand that are fully staffed.
	Met float64 `json:"met"`
}

// Objective weights: an under-staffed agent-interval costs UnderWeight
// over-staffed ones; a week short of its contract band costs HoursPenalty
// per quarter hour, far more than any coverage.
const (
	UnderWeight  = 100
	OverWeight   = 1
	HoursPenalty = 1e6
)

// Schedule is the work of a roster over a period.
type Schedule struct {
	Period Period  `json:"period"`
	Shifts []Shift `json:"shifts"`
	// Explanations give every hard rule the schedule breaks and every part
	// of the demand it cannot meet, with the reason.
	Explanations []Explanation `json:"explanations,omitempty"`
	Stats        Stats         `json:"stats"`
	Solver       SolverReport  `json:"solver"`
}

// SolverReport says how a schedule was made.
type SolverReport struct {
	Seed      uint64   `json:"seed"`
	Rounds    int      `json:"rounds"`
	StoppedBy string   `json:"stopped_by"` // "converged", "rounds", "time", "canceled"
	Elapsed   Duration `json:"elapsed"`
}
