package wfm

import (
	"fmt"
	"math"
	"time"

	"github.com/earshot/earshot/inference/forecast"
)

// ReforecastConfig sets how a day's forecast follows the arrivals seen so
// far. The day's ratio is the elapsed intervals' observed contacts over
// their forecast, each interval weighted by 2^(-age/HalfLife) (all alike
// when HalfLife is 0), with a prior of Prior times the whole day's forecast
// contacts added to both sums, so that the early morning moves the
// forecast little, whatever the queue's size. A remaining interval
// starting h after now is the start-of-day forecast times 1 + (ratio-1) x
// 2^(-h/Fade): the morning's surprise fades toward the forecast over the
// afternoon (it holds all day when Fade is 0).
type ReforecastConfig struct {
	Prior    float64  `json:"prior"`
	HalfLife Duration `json:"half_life"`
	Fade     Duration `json:"fade"`
}

// DefaultReforecastConfig is the setting chosen on development days of
// bank_calls (see the package README): recent intervals weigh most (1 hour
// half-life), with a prior of 5 % of the day's forecast; the surprise holds
// all day.
func DefaultReforecastConfig() ReforecastConfig {
	return ReforecastConfig{Prior: 0.05, HalfLife: Duration(time.Hour)}
}

// Validate checks the settings.
func (c ReforecastConfig) Validate() error {
	if c.Prior < 0 || c.Prior > 10 || math.IsNaN(c.Prior) {
		return fieldErr("prior", "%v must be in [0, 10] (a share of the day's forecast)", c.Prior)
	}
	if c.HalfLife.D() < 0 {
		return fieldErr("half_life", "%s must be >= 0", c.HalfLife)
	}
	if c.Fade.D() < 0 {
		return fieldErr("fade", "%s must be >= 0", c.Fade)
	}
	return nil
}

// Reforecast is a day's forecast updated with the arrivals seen so far.
type Reforecast struct {
	// Factor is the day's ratio: it scales the start-of-day forecast of
	// the next interval (and, with Fade, less and less of later ones).
	Factor float64 `json:"factor"`
	// Observed and Forecast are the (unweighted) contacts of the elapsed
	// open intervals.
	Observed float64 `json:"observed"`
	Expected float64 `json:"expected"`
	// Forecast is the day's forecast with the remaining intervals scaled;
	// elapsed intervals keep the start-of-day figures.
	Forecast *forecast.Forecast `json:"forecast"`
}

// ReforecastDay updates f for the rest of the day of now: observed maps
// interval starts (Unix seconds) to contacts seen, for the elapsed
// intervals (those ending by now); an elapsed open interval missing from
// observed had none. Intervals of other days are returned unchanged.
func ReforecastDay(f *forecast.Forecast, observed map[int64]float64, now time.Time, cfg ReforecastConfig) (*Reforecast, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if f == nil || len(f.Points) == 0 {
		return nil, fmt.Errorf("%w: no forecast", ErrBadInput)
	}
	loc, err := time.LoadLocation(f.Location)
	if err != nil {
		loc = f.Points[0].Start.Location()
	}
	n := now.In(loc)
	day0 := time.Date(n.Year(), n.Month(), n.Day(), 0, 0, 0, 0, loc)
	day1 := day0.AddDate(0, 0, 1)
	var wObs, wFc, day float64
	r := &Reforecast{}
	for _, p := range f.Points {
		if p.Open && !p.Start.Before(day0) && p.Start.Before(day1) {
			day += p.Volume.Mean
		}
	}
	for _, p := range f.Points {
		if !p.Open || p.Start.Before(day0) || !p.Start.Add(f.Step).After(day0) || p.Start.Add(f.Step).After(now) {
			continue
		}
		obs := observed[p.Start.Unix()]
		w := 1.0
		if hl := cfg.HalfLife.D(); hl > 0 {
			age := now.Sub(p.Start.Add(f.Step))
			w = math.Exp2(-age.Seconds() / hl.Seconds())
		}
		wObs += w * obs
		wFc += w * p.Volume.Mean
		r.Observed += obs
		r.Expected += p.Volume.Mean
	}
	r.Factor = 1
	if prior := cfg.Prior * day; wFc+prior > 0 {
		r.Factor = (wObs + prior) / (wFc + prior)
	}
	out := *f
	out.Points = make([]forecast.ForecastPoint, len(f.Points))
	for i, p := range f.Points {
		if p.Open && !p.Start.Before(day0) && p.Start.Before(day1) && p.Start.Add(f.Step).After(now) {
			k := r.Factor
			if fade := cfg.Fade.D(); fade > 0 {
				h := max(p.Start.Sub(now), 0)
				k = 1 + (k-1)*math.Exp2(-h.Seconds()/fade.Seconds())
			}
			p.Volume = scaleEstimate(p.Volume, k)
		}
		out.Points[i] = p
	}
	r.Forecast = &out
	return r, nil
}

func scaleEstimate(e forecast.Estimate, k float64) forecast.Estimate {
	return forecast.Estimate{Value: e.Value * k, Mean: e.Mean * k, Lower80: e.Lower80 * k, Upper80: e.Upper80 * k, Lower95: e.Lower95 * k, Upper95: e.Upper95 * k}
}
