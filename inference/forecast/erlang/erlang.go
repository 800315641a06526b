// Package erlang computes contact-centre staffing: the agents needed per
// interval to meet a service level (X % answered within Y seconds) or an
// average speed of answer, under a maximum occupancy, and the scheduled
// headcount once shrinkage is added. Erlang C (M/M/N, callers wait forever)
// is the default; Erlang A (M/M/N+M, callers abandon after an exponential
// patience) is used when a patience is given, and EstimatePatience derives
// one from abandoned engagements.
//
// All computations are in float64 with recurrences that never form
// factorials or powers, so they hold for very large N (tens of thousands of
// agents) without overflow.
package erlang

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Errors returned by this package.
var (
	ErrBadInput = errors.New("erlang: bad input")
	// ErrUnreachable means no agent count up to MaxAgents meets the target.
	ErrUnreachable = errors.New("erlang: target unreachable")
)

// MaxAgents bounds the search in Staff.
const MaxAgents = 100000

// Interval is the demand of one planning interval.
type Interval struct {
	Contacts float64       `json:"contacts"` // contacts offered in the interval
	AHT      time.Duration `json:"-"`        // average handle time; JSON: aht_seconds
	Length   time.Duration `json:"-"`        // interval length, e.g. 30m; JSON: length_seconds
}

// Traffic returns the offered load in Erlangs.
func (in Interval) Traffic() float64 {
	if in.Length <= 0 {
		return 0
	}
	return in.Contacts * in.AHT.Seconds() / in.Length.Seconds()
}

func (in Interval) validate() error {
	switch {
	case in.Length <= 0:
		return fmt.Errorf("%w: interval length %v must be positive", ErrBadInput, in.Length)
	case in.Contacts < 0 || math.IsNaN(in.Contacts) || math.IsInf(in.Contacts, 0):
		return fmt.Errorf("%w: contacts %v must be finite and >= 0", ErrBadInput, in.Contacts)
	case in.AHT < 0:
		return fmt.Errorf("%w: aht %v must be >= 0", ErrBadInput, in.AHT)
	case in.Contacts > 0 && in.AHT == 0:
		return fmt.Errorf("%w: aht must be positive when there are contacts", ErrBadInput)
	}
	return nil
}

// Target is a staffing goal. ServiceLevel/AnswerWithin and ASA may be set
// together (both must hold); at least one must be set.
type Target struct {
	ServiceLevel float64       `json:"service_level"`        // e.g. 0.8 (80 %)
	AnswerWithin time.Duration `json:"-"`                    // e.g. 20s; JSON: answer_within_seconds
	ASA          time.Duration `json:"-"`                    // max average speed of answer; JSON: asa_seconds
	MaxOccupancy float64       `json:"max_occupancy"`        // e.g. 0.85; 0 = no cap
	Shrinkage    float64       `json:"shrinkage"`            // e.g. 0.3: share of paid time not on contacts
	Patience     time.Duration `json:"-"`                    // > 0 selects Erlang A; JSON: patience_seconds
	MinAgents    int           `json:"min_agents,omitempty"` // floor per open interval
}

// Validate reports the first invalid field.
func (t Target) Validate() error {
	switch {
	case t.ServiceLevel == 0 && t.ASA == 0:
		return fmt.Errorf("%w: set service_level (with answer_within) or asa", ErrBadInput)
	case t.ServiceLevel < 0 || t.ServiceLevel >= 1:
		return fmt.Errorf("%w: service_level %v must be in [0, 1)", ErrBadInput, t.ServiceLevel)
	case t.ServiceLevel > 0 && t.AnswerWithin < 0:
		return fmt.Errorf("%w: answer_within %v must be >= 0", ErrBadInput, t.AnswerWithin)
	case t.ASA < 0:
		return fmt.Errorf("%w: asa %v must be >= 0", ErrBadInput, t.ASA)
	case t.MaxOccupancy < 0 || t.MaxOccupancy > 1:
		return fmt.Errorf("%w: max_occupancy %v must be in (0, 1], or 0 for none", ErrBadInput, t.MaxOccupancy)
	case t.Shrinkage < 0 || t.Shrinkage >= 1:
		return fmt.Errorf("%w: shrinkage %v must be in [0, 1)", ErrBadInput, t.Shrinkage)
	case t.Patience < 0:
		return fmt.Errorf("%w: patience %v must be >= 0", ErrBadInput, t.Patience)
	case t.MinAgents < 0:
		return fmt.Errorf("%w: min_agents %d must be >= 0", ErrBadInput, t.MinAgents)
	}
	return nil
}

// Result is the performance of an agent count for one interval.
type Result struct {
	Traffic      float64 `json:"traffic_erlangs"`
	Agents       int     `json:"agents"`    // agents on contacts
	Scheduled    int     `json:"scheduled"` // Agents / (1 - shrinkage), rounded up
	ServiceLevel float64 `json:"service_level"`
	// ASA is the mean wait of all offered contacts in seconds; -1 when the
	// queue is unstable (Erlang C with traffic >= agents: waits grow without
	// bound).
	ASA       float64 `json:"asa_seconds"`
	Occupancy float64 `json:"occupancy"`
	PWait     float64 `json:"p_wait"`            // probability a contact waits
	Abandon   float64 `json:"abandon,omitempty"` // Erlang A: share of contacts abandoning
	Model     string  `json:"model"`             // "erlang-c" or "erlang-a"
	Stable    bool    `json:"stable"`
}

// ErlangB returns the blocking probability of n servers offered a Erlangs,
// by the recurrence B(k) = a B(k-1) / (k + a B(k-1)).
func ErlangB(n int, a float64) float64 {
	b := 1.0
	for k := 1; k <= n; k++ {
		b = a * b / (float64(k) + a*b)
	}
	return b
}

// ErlangC returns the probability that a contact waits with n agents and a
// Erlangs offered; 1 when a >= n.
func ErlangC(n int, a float64) float64 {
	if a <= 0 {
		return 0
	}
	if float64(n) <= a {
		return 1
	}
	return cFromB(n, a, ErlangB(n, a))
}

func cFromB(n int, a, b float64) float64 {
	return float64(n) * b / (float64(n) - a*(1-b))
}

// Evaluate returns the performance of agents agents on interval in: Erlang C,
// or Erlang A when t.Patience > 0. t supplies AnswerWithin, Shrinkage and
// Patience.
func Evaluate(agents int, in Interval, t Target) (Result, error) {
	if err := in.validate(); err != nil {
		return Result{}, err
	}
	if err := t.Validate(); err != nil {
		return Result{}, err
	}
	if agents < 0 {
		return Result{}, fmt.Errorf("%w: agents %d must be >= 0", ErrBadInput, agents)
	}
	var r Result
	if t.Patience > 0 {
		r = evalA(agents, in, t)
	} else {
		r = evalC(agents, ErlangB(agents, in.Traffic()), in, t)
	}
	r.Scheduled = scheduled(agents, t.Shrinkage)
	return r, nil
}

func scheduled(agents int, shrink float64) int {
	// The epsilon keeps exact quotients (14 / 0.7 = 20) from rounding up.
	return int(math.Ceil(float64(agents)/(1-shrink) - 1e-9))
}

func evalC(n int, b float64, in Interval, t Target) Result {
	a := in.Traffic()
	r := Result{Traffic: a, Agents: n, Model: "erlang-c"}
	switch {
	case a == 0:
		r.ServiceLevel, r.Stable = 1, true
	case float64(n) <= a:
		r.PWait, r.ASA = 1, -1
		if n > 0 {
			r.Occupancy = 1
		}
	default:
		c := cFromB(n, a, b)
		aht := in.AHT.Seconds()
		r.PWait = c
		r.ServiceLevel = 1 - c*math.Exp(-(float64(n)-a)*t.AnswerWithin.Seconds()/aht)
		r.ASA = c * aht / (float64(n) - a)
		r.Occupancy = a / float64(n)
		r.Stable = true
	}
	return r
}

func meets(r Result, t Target) bool {
	if !r.Stable {
		return false
	}
	if t.ServiceLevel > 0 && r.ServiceLevel < t.ServiceLevel {
		return false
	}
	if t.ASA > 0 && r.ASA > t.ASA.Seconds() {
		return false
	}
	if t.MaxOccupancy > 0 && r.Occupancy > t.MaxOccupancy {
		return false
	}
	return true
}

// Staff returns the fewest agents that meet t on interval in, with the
// performance they achieve. Zero contacts need t.MinAgents agents.
func Staff(in Interval, t Target) (Result, error) {
	if err := in.validate(); err != nil {
		return Result{}, err
	}
	if err := t.Validate(); err != nil {
		return Result{}, err
	}
	a := in.Traffic()
	var r Result
	if t.Patience > 0 {
		// SL and occupancy improve and ASA falls as agents are added, so
		// the fewest agents that meet t are found by doubling then
		// bisection: O(log N) evaluations.
		lo := t.MinAgents
		if a > 0 && lo < 1 {
			lo = 1
		}
		if t.MaxOccupancy > 0 {
			lo = max(lo, int(a/t.MaxOccupancy))
		}
		// At most N/A of the contacts are served (carried load <= N), so a
		// service level target needs N >= SL x A.
		lo = max(lo, int(t.ServiceLevel*a))
		r = evalA(lo, in, t)
		if a > 0 && !meets(r, t) {
			hi := lo
			var rh Result
			for {
				hi = min(2*hi+1, MaxAgents)
				rh = evalA(hi, in, t)
				if meets(rh, t) || hi == MaxAgents {
					break
				}
				lo = hi
			}
			for hi-lo > 1 {
				mid := (lo + hi) / 2
				if rm := evalA(mid, in, t); meets(rm, t) {
					hi, rh = mid, rm
				} else {
					lo = mid
				}
			}
			r = rh
		}
	} else {
		// Walk n upward, carrying Erlang B along: O(n) in all.
		b := 1.0
		n := 0
		for ; n <= MaxAgents; n++ {
			if n > 0 {
				b = a * b / (float64(n) + a*b)
			}
			if n < t.MinAgents {
				continue
			}
			r = evalC(n, b, in, t)
			if a == 0 || meets(r, t) {
				break
			}
		}
	}
	if r.Agents > MaxAgents || (a > 0 && !meets(r, t)) {
		return Result{}, fmt.Errorf("%w: %.1f Erlangs need more than %d agents", ErrUnreachable, a, MaxAgents)
	}
	r.Scheduled = scheduled(r.Agents, t.Shrinkage)
	return r, nil
}

// Plan staffs each interval independently (see Staff).
func Plan(ins []Interval, t Target) ([]Result, error) {
	out := make([]Result, len(ins))
	for i, in := range ins {
		r, err := Staff(in, t)
		if err != nil {
			return nil, fmt.Errorf("erlang: interval %d: %w", i, err)
		}
		out[i] = r
	}
	return out, nil
}
