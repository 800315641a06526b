package forecast

import (
	"math"
	"testing"
)

// A small queue (about 1-3 contacts per interval, many zeros): the forecast
// mean must track the expected volume, not the log-space median. (Below
// about one contact per interval the log model's level noise is amplified:
// at 0.3 per interval the mean is 15-20 % off; use 60-minute intervals.)
func TestLowVolume(t *testing.T) {
	sy := defaultSynth()
	sy.base = 1.5
	sy.days = 150
	m, err := Fit(sy.series(), DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	f, _ := m.Forecast(28)
	var fm, tr float64
	for _, p := range f.Points {
		if p.Open {
			fm += p.Volume.Mean
			tr += sy.rate(p.Start)
		}
	}
	t.Logf("mean/expected %.3f", fm/tr)
	if r := fm / tr; math.Abs(r-1) > 0.08 {
		t.Errorf("low volume: forecast mean / expected = %.3f, want within 8 %%", r)
	}
}
