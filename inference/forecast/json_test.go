package forecast

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestJSONDurations: durations travel as numbers named with their unit and
// read back to the same value.
func TestJSONDurations(t *testing.T) {
	start := time.Date(2026, 1, 5, 8, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		v, back any
		want    string
	}{
		{Forecast{Queue: "q", Step: 30 * time.Minute, Origin: start}, &Forecast{}, `"step_seconds":1800`},
		{Series{Queue: "q", Step: time.Hour}, &Series{}, `"step_seconds":3600`},
		{BacktestResult{Queue: "q", MeanFit: 2500 * time.Microsecond}, &BacktestResult{}, `"mean_fit_ms":2.5`},
		{StaffingOptions{DefaultAHT: 4 * time.Minute, Quantile: "mean"}, &StaffingOptions{}, `"default_aht_seconds":240`},
	} {
		b, err := json.Marshal(tt.v)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), tt.want) || strings.Contains(string(b), `"step":`) || strings.Contains(string(b), `"mean_fit":`) {
			t.Errorf("%T = %s, want %s and no nanoseconds", tt.v, b, tt.want)
		}
		if err := json.Unmarshal(b, tt.back); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tt.v, deref(tt.back)); diff != "" {
			t.Errorf("%T round trip (-want +got):\n%s", tt.v, diff)
		}
	}
}

func deref(v any) any {
	switch x := v.(type) {
	case *Forecast:
		return *x
	case *Series:
		return *x
	case *BacktestResult:
		return *x
	case *StaffingOptions:
		return *x
	}
	return nil
}
