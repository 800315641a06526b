package forecast

import (
	"encoding/json"
	"math"
	"time"
)

// The API writes durations as numbers with their unit in the name: the
// types below keep time.Duration in Go and step_seconds, mean_fit_ms, ...
// in JSON.

func seconds(s float64) time.Duration { return time.Duration(math.Round(s * float64(time.Second))) }

// MarshalJSON writes Step as step_seconds.
func (f Forecast) MarshalJSON() ([]byte, error) {
	type plain Forecast
	return json.Marshal(struct {
		plain
		StepSeconds float64 `json:"step_seconds"`
	}{plain(f), f.Step.Seconds()})
}

// UnmarshalJSON reads step_seconds into Step.
func (f *Forecast) UnmarshalJSON(b []byte) error {
	type plain Forecast
	var v struct {
		plain
		StepSeconds float64 `json:"step_seconds"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*f = Forecast(v.plain)
	f.Step = seconds(v.StepSeconds)
	return nil
}

// MarshalJSON writes Step as step_seconds.
func (s Series) MarshalJSON() ([]byte, error) {
	type plain Series
	return json.Marshal(struct {
		plain
		StepSeconds float64 `json:"step_seconds"`
	}{plain(s), s.Step.Seconds()})
}

// UnmarshalJSON reads step_seconds into Step.
func (s *Series) UnmarshalJSON(b []byte) error {
	type plain Series
	var v struct {
		plain
		StepSeconds float64 `json:"step_seconds"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*s = Series(v.plain)
	s.Step = seconds(v.StepSeconds)
	return nil
}

// MarshalJSON writes MeanFit as mean_fit_ms.
func (r BacktestResult) MarshalJSON() ([]byte, error) {
	type plain BacktestResult
	return json.Marshal(struct {
		plain
		MeanFitMs float64 `json:"mean_fit_ms"`
	}{plain(r), float64(r.MeanFit) / float64(time.Millisecond)})
}

// UnmarshalJSON reads mean_fit_ms into MeanFit.
func (r *BacktestResult) UnmarshalJSON(b []byte) error {
	type plain BacktestResult
	var v struct {
		plain
		MeanFitMs float64 `json:"mean_fit_ms"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*r = BacktestResult(v.plain)
	r.MeanFit = time.Duration(math.Round(v.MeanFitMs * float64(time.Millisecond)))
	return nil
}

// MarshalJSON writes DefaultAHT as default_aht_seconds.
func (o StaffingOptions) MarshalJSON() ([]byte, error) {
	type plain StaffingOptions
	return json.Marshal(struct {
		plain
		DefaultAHTSeconds float64 `json:"default_aht_seconds,omitempty"`
	}{plain(o), o.DefaultAHT.Seconds()})
}

// UnmarshalJSON reads default_aht_seconds into DefaultAHT.
func (o *StaffingOptions) UnmarshalJSON(b []byte) error {
	type plain StaffingOptions
	var v struct {
		plain
		DefaultAHTSeconds float64 `json:"default_aht_seconds"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*o = StaffingOptions(v.plain)
	o.DefaultAHT = seconds(v.DefaultAHTSeconds)
	return nil
}
