package wfm

import (
	"math"
	"testing"
	"time"

	"github.com/earshot/earshot/inference/forecast"
)

// flatForecast forecasts 100 contacts per half-hour from 08:00 to 18:00 on
// two days.
func flatForecast(loc *time.Location) *forecast.Forecast {
	f := &forecast.Forecast{Queue: "billing", Step: 30 * time.Minute, Location: loc.String(), Days: 2}
	d0 := time.Date(2024, 6, 3, 0, 0, 0, 0, loc)
	f.Origin = d0
	for t := d0; t.Before(d0.AddDate(0, 0, 2)); t = t.Add(30 * time.Minute) {
		p := forecast.ForecastPoint{Start: t}
		if h := t.Hour(); h >= 8 && h < 18 {
			p.Open = true
			p.Volume = forecast.Estimate{Value: 100, Mean: 100, Lower80: 80, Upper80: 120, Lower95: 70, Upper95: 130}
			p.AHT = &forecast.Estimate{Value: 180, Mean: 180}
		}
		f.Points = append(f.Points, p)
	}
	return f
}

func TestReforecastDay(t *testing.T) {
	loc := time.UTC
	f := flatForecast(loc)
	now := time.Date(2024, 6, 3, 12, 0, 0, 0, loc)
	seen := map[int64]float64{}
	for t := time.Date(2024, 6, 3, 8, 0, 0, 0, loc); t.Before(now); t = t.Add(30 * time.Minute) {
		seen[t.Unix()] = 120 // 20 % above the forecast all morning
	}
	at := func(r *Reforecast, h, m int, day int) float64 {
		for _, p := range r.Forecast.Points {
			if p.Start.Equal(time.Date(2024, 6, 3+day, h, m, 0, 0, loc)) {
				return p.Volume.Mean
			}
		}
		t.Fatalf("no point %02d:%02d", h, m)
		return 0
	}
	for _, tc := range []struct {
		name        string
		cfg         ReforecastConfig
		factor      float64
		at1200      float64
		at1730      float64
		unchangedAM bool
	}{
		{"plain ratio", ReforecastConfig{}, 1.2, 120, 120, true},
		{"prior shrinks", ReforecastConfig{Prior: 0.4}, (960 + 800) / (800 + 800.0), 110, 110, true},
		{"recency weights", ReforecastConfig{HalfLife: Duration(time.Hour)}, 1.2, 120, 120, true},
		{"surprise fades", ReforecastConfig{Fade: Duration(2 * time.Hour)}, 1.2, 120, 100 + 20*math.Exp2(-2.75), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := ReforecastDay(f, seen, now, tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(r.Factor-tc.factor) > 1e-9 {
				t.Errorf("factor %v, want %v", r.Factor, tc.factor)
			}
			if r.Observed != 960 || r.Expected != 800 {
				t.Errorf("observed %v expected %v, want 960 and 800", r.Observed, r.Expected)
			}
			if got := at(r, 12, 0, 0); math.Abs(got-tc.at1200) > 1e-9 {
				t.Errorf("12:00 = %v, want %v", got, tc.at1200)
			}
			if got := at(r, 17, 30, 0); math.Abs(got-tc.at1730) > 1e-9 {
				t.Errorf("17:30 = %v, want %v", got, tc.at1730)
			}
			if got := at(r, 9, 0, 0); got != 100 {
				t.Errorf("elapsed 09:00 changed to %v", got)
			}
			if got := at(r, 12, 0, 1); got != 100 {
				t.Errorf("next day changed to %v", got)
			}
		})
	}
	// Recent intervals weigh more: a late-morning surge moves a
	// recency-weighted ratio further than a plain one.
	seen[time.Date(2024, 6, 3, 11, 30, 0, 0, loc).Unix()] = 300
	plain, _ := ReforecastDay(f, seen, now, ReforecastConfig{})
	recent, _ := ReforecastDay(f, seen, now, ReforecastConfig{HalfLife: Duration(30 * time.Minute)})
	if !(recent.Factor > plain.Factor) {
		t.Errorf("recency-weighted factor %v not above plain %v", recent.Factor, plain.Factor)
	}
	if _, err := ReforecastDay(f, seen, now, ReforecastConfig{Prior: -1}); err == nil {
		t.Error("negative prior accepted")
	}
}
