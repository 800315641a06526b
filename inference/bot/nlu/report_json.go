package nlu

import (
	"encoding/json"
	"math"
)

// MarshalJSON writes the report with "threshold": null when the model has
// no threshold (nothing was held out, so every message is in scope): JSON
// has no infinities, and an answer carrying one could not be sent at all.
func (r Report) MarshalJSON() ([]byte, error) {
	type plain Report
	var th *float64
	if !math.IsInf(r.Threshold, 0) && !math.IsNaN(r.Threshold) {
		th = &r.Threshold
	}
	return json.Marshal(struct {
		plain
		Threshold *float64 `json:"threshold"`
	}{plain(r), th})
}
