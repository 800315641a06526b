package wfm

import (
	"math"
	"testing"
	"time"
)

func TestDurationString(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{8 * time.Hour, "8h"}, {7*time.Hour + 30*time.Minute, "7h30m"}, {45 * time.Minute, "45m"},
		{0, "0s"}, {90 * time.Second, "1m30s"}, {2*time.Second + 3*time.Millisecond, "2.003s"},
		{-90 * time.Minute, "-1h30m"}, {-time.Hour, "-1h"}, {30*time.Hour + 15*time.Minute, "30h15m"},
		{time.Duration(math.MinInt64), time.Duration(math.MinInt64).String()},
	} {
		if got := Duration(tc.d).String(); got != tc.want {
			t.Errorf("Duration(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}
