package erlang

import (
	"encoding/json"
	"math"
	"time"
)

// The API writes durations as numbers with their unit in the name: Target
// and Interval keep time.Duration in Go and *_seconds in JSON, the names of
// the Erlang calculator's request.

func seconds(s float64) time.Duration { return time.Duration(math.Round(s * float64(time.Second))) }

type targetJSON struct {
	ServiceLevel        float64 `json:"service_level"`
	AnswerWithinSeconds float64 `json:"answer_within_seconds"`
	ASASeconds          float64 `json:"asa_seconds,omitempty"`
	MaxOccupancy        float64 `json:"max_occupancy"`
	Shrinkage           float64 `json:"shrinkage"`
	PatienceSeconds     float64 `json:"patience_seconds,omitempty"`
	MinAgents           int     `json:"min_agents,omitempty"`
}

// MarshalJSON writes the durations as *_seconds.
func (t Target) MarshalJSON() ([]byte, error) {
	return json.Marshal(targetJSON{t.ServiceLevel, t.AnswerWithin.Seconds(), t.ASA.Seconds(), t.MaxOccupancy,
		t.Shrinkage, t.Patience.Seconds(), t.MinAgents})
}

// UnmarshalJSON reads the *_seconds members.
func (t *Target) UnmarshalJSON(b []byte) error {
	var v targetJSON
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*t = Target{ServiceLevel: v.ServiceLevel, AnswerWithin: seconds(v.AnswerWithinSeconds), ASA: seconds(v.ASASeconds),
		MaxOccupancy: v.MaxOccupancy, Shrinkage: v.Shrinkage, Patience: seconds(v.PatienceSeconds), MinAgents: v.MinAgents}
	return nil
}

type intervalJSON struct {
	Contacts      float64 `json:"contacts"`
	AHTSeconds    float64 `json:"aht_seconds"`
	LengthSeconds float64 `json:"length_seconds"`
}

// MarshalJSON writes the durations as *_seconds.
func (in Interval) MarshalJSON() ([]byte, error) {
	return json.Marshal(intervalJSON{in.Contacts, in.AHT.Seconds(), in.Length.Seconds()})
}

// UnmarshalJSON reads the *_seconds members.
func (in *Interval) UnmarshalJSON(b []byte) error {
	var v intervalJSON
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*in = Interval{Contacts: v.Contacts, AHT: seconds(v.AHTSeconds), Length: seconds(v.LengthSeconds)}
	return nil
}
