package api

import "time"

// WFMRecord describes a stored workforce document (a roster, rules or a
// schedule) in lists and after a write; the documents themselves are those
// of package inference/wfm.
type WFMRecord struct {
	Kind      string            `json:"kind"`
	ID        string            `json:"id"`
	Queues    []string          `json:"queues,omitempty"`
	UpdatedAt time.Time         `json:"updated_at"`
	UpdatedBy string            `json:"updated_by"`
	Summary   map[string]string `json:"summary,omitempty"`
}

// WFMScheduleRequest asks for a schedule of a stored roster over a period,
// against the demand of each queue's latest stored forecast staffed with
// Erlang (C, or A with patience) for the target given.
type WFMScheduleRequest struct {
	// ID names the schedule (default: generated).
	ID     string `json:"id,omitempty"`
	Roster string `json:"roster"`
	// Rules names stored rules (default: the built-in defaults).
	Rules string `json:"rules,omitempty"`
	// Queues to plan (default: every queue among the roster's skills).
	Queues []string `json:"queues,omitempty"`
	// Start is the first day (YYYY-MM-DD) in Zone (default UTC); Days is
	// 7, 14, 21 or 28; Step the interval, 15m or 30m (default: the
	// forecast's, 30m for hourly forecasts).
	Start string `json:"start"`
	Zone  string `json:"zone,omitempty"`
	Days  int    `json:"days"`
	Step  string `json:"step,omitempty"`
	// Staffing target; defaults 0.8 within 20s, shrinkage 0.3, maximum
	// occupancy 0.85, no patience (Erlang C).
	ServiceLevel float64  `json:"service_level,omitempty"`
	AnswerWithin string   `json:"answer_within,omitempty"`
	Shrinkage    *float64 `json:"shrinkage,omitempty"`
	MaxOccupancy float64  `json:"max_occupancy,omitempty"`
	Patience     string   `json:"patience,omitempty"`
	// DefaultAHT is used where the forecast has no handle time.
	DefaultAHT string `json:"default_aht,omitempty"`
	// After names an earlier stored schedule this one follows: its agents'
	// rest and days in a row carry across the new period's start.
	After string `json:"after,omitempty"`
	// Seed and TimeBudget (default 30s, at most 5m) drive the optimiser.
	Seed       uint64 `json:"seed,omitempty"`
	TimeBudget string `json:"time_budget,omitempty"`
}
