package forecast

import (
	"math"
	"math/rand/v2"
	"time"
)

// synth describes a synthetic queue with a known expected volume.
type synth struct {
	start    time.Time
	days     int
	step     time.Duration
	hours    Hours
	base     float64 // contacts per open interval at the start
	growth   float64 // per year, multiplicative (0.1 = +10 %/year)
	yearly   float64 // amplitude of the yearly cycle
	holidays map[string]float64
	skip     map[string]bool // dates with no data
	seed     uint64
}

var weekdayMult = [7]float64{0.3, 1.25, 1.05, 1.0, 0.95, 0.9, 0.5}

// rate is the expected volume of the interval starting at t.
func (s synth) rate(t time.Time) float64 {
	if !s.hours.Open(t, s.step) {
		return 0
	}
	years := t.Sub(s.start).Hours() / 24 / 365.25
	doy := float64(t.YearDay()) / 365.25
	h := float64(t.Hour()) + float64(t.Minute())/60
	prof := 0.6 + 0.8*math.Exp(-(h-10.5)*(h-10.5)/4) + 0.5*math.Exp(-(h-15)*(h-15)/3)
	if t.Weekday() == time.Monday {
		prof *= 1 + 0.3*math.Exp(-(h-9)*(h-9)/2) // Monday mornings peak harder
	}
	r := s.base * math.Pow(1+s.growth, years) * (1 + s.yearly*math.Sin(2*math.Pi*doy)) * weekdayMult[t.Weekday()] * prof
	if m, ok := s.holidays[t.Format("2006-01-02")]; ok {
		r *= m
	}
	return r
}

func (s synth) aht(t time.Time) float64 {
	return 240 + 60*math.Sin(float64(t.Hour())/24*2*math.Pi)
}

func poisson(rng *rand.Rand, mean float64) float64 {
	if mean <= 0 {
		return 0
	}
	if mean > 50 {
		return math.Max(0, math.Round(mean+math.Sqrt(mean)*rng.NormFloat64()))
	}
	l, k, p := math.Exp(-mean), 0.0, 1.0
	for {
		p *= rng.Float64()
		if p <= l {
			return k
		}
		k++
	}
}

// series draws the history: Poisson counts with a day-level noise of 3 %,
// AHT around its slot mean.
func (s synth) series() *Series {
	rng := rand.New(rand.NewPCG(s.seed, 99))
	out := &Series{Queue: "synthetic", Step: s.step, Location: s.start.Location()}
	for d := 0; d < s.days; d++ {
		day := time.Date(s.start.Year(), s.start.Month(), s.start.Day()+d, 0, 0, 0, 0, s.start.Location())
		if s.skip[day.Format("2006-01-02")] {
			continue
		}
		noise := math.Exp(0.03 * rng.NormFloat64())
		for t := day; t.Day() == day.Day(); t = t.Add(s.step) {
			r := s.rate(t)
			if r == 0 {
				continue
			}
			n := poisson(rng, r*noise)
			p := Point{Start: t, Offered: n, Handled: n}
			if n > 0 {
				p.AHT = s.aht(t) * math.Exp(0.1*rng.NormFloat64()/math.Sqrt(n))
			}
			out.Points = append(out.Points, p)
		}
	}
	return out
}

func defaultSynth() synth {
	h, _ := ParseHours("mon-fri 08:00-18:00; sat 09:00-13:00")
	return synth{
		start: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), days: 120, step: 30 * time.Minute,
		hours: h, base: 40, growth: 0.1, seed: 1,
	}
}
