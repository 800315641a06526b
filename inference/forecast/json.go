package forecast

import (
	"encoding/json"
	"fmt"
	"math"
	"time"
)

// The API writes durations as numbers with their unit in the name: the
// types below keep time.Duration in Go and step_seconds, mean_fit_ms, ...
// in JSON.

// withMember encodes v (a plain copy of the type, without JSON methods)
// and adds one member.
func withMember(v any, name string, value float64, omitZero bool) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil || (omitZero && value == 0) {
		return b, err
	}
	if len(b) < 2 || b[len(b)-1] != '}' {
		return nil, fmt.Errorf("forecast: json: %T is not an object", v)
	}
	num, err := json.Marshal(value)
	if err != nil {
		return nil, err
	}
	member := fmt.Sprintf("%q:%s", name, num)
	if len(b) > 2 {
		member = "," + member
	}
	return append(b[:len(b)-1:len(b)-1], member+"}"...), nil
}

// member decodes b into v (a plain copy of the type) and returns the
// number named name (0 when absent).
func member(b []byte, v any, name string) (float64, error) {
	if err := json.Unmarshal(b, v); err != nil {
		return 0, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return 0, err
	}
	var x float64
	if raw, ok := m[name]; ok {
		if err := json.Unmarshal(raw, &x); err != nil {
			return 0, fmt.Errorf("forecast: json: %s: %w", name, err)
		}
	}
	return x, nil
}

func seconds(s float64) time.Duration { return time.Duration(math.Round(s * float64(time.Second))) }

type (
	plainForecast        Forecast
	plainSeries          Series
	plainBacktestResult  BacktestResult
	plainStaffingOptions StaffingOptions
)

// MarshalJSON writes Step as step_seconds.
func (f Forecast) MarshalJSON() ([]byte, error) {
	return withMember(plainForecast(f), "step_seconds", f.Step.Seconds(), false)
}

// UnmarshalJSON reads step_seconds into Step.
func (f *Forecast) UnmarshalJSON(b []byte) error {
	s, err := member(b, (*plainForecast)(f), "step_seconds")
	f.Step = seconds(s)
	return err
}

// MarshalJSON writes Step as step_seconds.
func (s Series) MarshalJSON() ([]byte, error) {
	return withMember(plainSeries(s), "step_seconds", s.Step.Seconds(), false)
}

// UnmarshalJSON reads step_seconds into Step.
func (s *Series) UnmarshalJSON(b []byte) error {
	v, err := member(b, (*plainSeries)(s), "step_seconds")
	s.Step = seconds(v)
	return err
}

// MarshalJSON writes MeanFit as mean_fit_ms.
func (r BacktestResult) MarshalJSON() ([]byte, error) {
	return withMember(plainBacktestResult(r), "mean_fit_ms", float64(r.MeanFit)/float64(time.Millisecond), false)
}

// UnmarshalJSON reads mean_fit_ms into MeanFit.
func (r *BacktestResult) UnmarshalJSON(b []byte) error {
	ms, err := member(b, (*plainBacktestResult)(r), "mean_fit_ms")
	r.MeanFit = time.Duration(math.Round(ms * float64(time.Millisecond)))
	return err
}

// MarshalJSON writes DefaultAHT as default_aht_seconds.
func (o StaffingOptions) MarshalJSON() ([]byte, error) {
	return withMember(plainStaffingOptions(o), "default_aht_seconds", o.DefaultAHT.Seconds(), true)
}

// UnmarshalJSON reads default_aht_seconds into DefaultAHT.
func (o *StaffingOptions) UnmarshalJSON(b []byte) error {
	s, err := member(b, (*plainStaffingOptions)(o), "default_aht_seconds")
	o.DefaultAHT = seconds(s)
	return err
}
