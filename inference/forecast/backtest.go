package forecast

import (
	"fmt"
	"time"
)

// BacktestConfig sets up a rolling-origin backtest.
type BacktestConfig struct {
	// Origins is the number of forecast origins (default 8, at most
	// MaxOrigins: each one is a fit).
	Origins int `json:"origins"`
	// HorizonDays is how many days are forecast from each origin (default 28).
	HorizonDays int `json:"horizon_days"`
	// StepDays is the spacing of origins (default 7).
	StepDays int `json:"step_days"`
}

// MaxOrigins bounds BacktestConfig.Origins.
const MaxOrigins = 52

func (b BacktestConfig) withDefaults() BacktestConfig {
	if b.Origins == 0 {
		b.Origins = 8
	}
	if b.HorizonDays == 0 {
		b.HorizonDays = 28
	}
	if b.StepDays == 0 {
		b.StepDays = 7
	}
	return b
}

// HorizonAccuracy is the accuracy at one horizon: From..To days ahead
// (1 = the first forecast day).
type HorizonAccuracy struct {
	From     int      `json:"from_day"`
	To       int      `json:"to_day"`
	Volume   Accuracy `json:"volume"`
	AHT      Accuracy `json:"aht"`
	Baseline Accuracy `json:"baseline"` // same interval one week earlier
}

// BacktestResult reports a rolling-origin backtest.
type BacktestResult struct {
	Queue        string            `json:"queue"`
	ModelVersion string            `json:"model_version"`
	Origins      []time.Time       `json:"origins"`
	HorizonDays  int               `json:"horizon_days"`
	Overall      HorizonAccuracy   `json:"overall"`
	ByWeek       []HorizonAccuracy `json:"by_week"`
	ByDay        []HorizonAccuracy `json:"by_day"`
	MeanFit      time.Duration     `json:"-"` // JSON: mean_fit_ms
}

// Backtest refits the model at rolling origins (the latest leaves exactly
// HorizonDays of history after it; each earlier one StepDays before), forecasts
// HorizonDays from each, and scores every open interval that has an
// observation: MAPE, WAPE and 80/95 % interval coverage per horizon day, per
// week and overall, beside the seasonal-naive baseline (the same interval
// seven days earlier).
func Backtest(s *Series, cfg Config, bt BacktestConfig) (*BacktestResult, error) {
	bt = bt.withDefaults()
	if bt.Origins < 1 || bt.Origins > MaxOrigins || bt.HorizonDays < 1 || bt.HorizonDays > 366 || bt.StepDays < 1 {
		return nil, fmt.Errorf("%w: backtest needs origins 1..%d, horizon_days 1..366, step_days >= 1, got %+v", ErrBadConfig, MaxOrigins, bt)
	}
	if s == nil || len(s.Points) == 0 {
		return nil, fmt.Errorf("%w: empty series", ErrTooShort)
	}
	dates := s.Dates()
	last := dates[len(dates)-1]
	loc := s.loc()
	day := func(t time.Time, n int) time.Time {
		return time.Date(t.Year(), t.Month(), t.Day()+n, 0, 0, 0, 0, loc)
	}
	res := &BacktestResult{Queue: s.Queue, ModelVersion: ModelVersion, HorizonDays: bt.HorizonDays}
	byDay := make([][3]accum, bt.HorizonDays+1)
	var fitTotal time.Duration
	for k := bt.Origins - 1; k >= 0; k-- {
		origin := day(last, -(bt.HorizonDays-1)-k*bt.StepDays)
		train := s.Before(origin)
		m, err := Fit(train, cfg)
		if err != nil {
			return nil, fmt.Errorf("forecast: backtest origin %s: %w", origin.Format("2006-01-02"), err)
		}
		fitTotal += m.FitDuration
		// The forecast starts the day after the training data ends, which is
		// the origin unless the days before it had no data.
		f, err := m.Forecast(bt.HorizonDays + int(origin.Sub(f0(m)).Hours()/24+0.5))
		if err != nil {
			return nil, err
		}
		res.Origins = append(res.Origins, origin)
		vol := s.Between(origin, day(origin, bt.HorizonDays))
		actV := vol.Actuals(TargetVolume)
		actA := vol.Actuals(TargetAHT)
		hist := s.Before(origin).Actuals(TargetVolume)
		for _, p := range f.Points {
			if !p.Open || p.Start.Before(origin) {
				continue
			}
			h := m.g.dayIndex(p.Start) - m.g.dayIndex(origin) + 1
			if h < 1 || h > bt.HorizonDays {
				continue
			}
			if v, ok := actV[p.Start.Unix()]; ok {
				byDay[h][0].add(v, p.Volume)
				// Baseline: the latest same weekday and wall clock before the
				// origin.
				for w := 1; w <= 8; w++ {
					prev := time.Date(p.Start.Year(), p.Start.Month(), p.Start.Day()-7*w, p.Start.Hour(), p.Start.Minute(), 0, 0, loc)
					if prev.Before(origin) {
						if b, ok := hist[prev.Unix()]; ok {
							byDay[h][2].add(v, Estimate{Value: b})
						}
						break
					}
				}
			}
			if v, ok := actA[p.Start.Unix()]; ok && p.AHT != nil {
				byDay[h][1].add(v, *p.AHT)
			}
		}
	}
	res.MeanFit = fitTotal / time.Duration(bt.Origins)
	sum := func(from, to int) HorizonAccuracy {
		var a [3]accum
		for h := from; h <= to; h++ {
			for j := range a {
				a[j].merge(byDay[h][j])
			}
		}
		return HorizonAccuracy{From: from, To: to, Volume: a[0].result(), AHT: a[1].result(), Baseline: a[2].result()}
	}
	res.Overall = sum(1, bt.HorizonDays)
	for h := 1; h <= bt.HorizonDays; h++ {
		res.ByDay = append(res.ByDay, sum(h, h))
	}
	for w := 0; w*7 < bt.HorizonDays; w++ {
		res.ByWeek = append(res.ByWeek, sum(w*7+1, min(w*7+7, bt.HorizonDays)))
	}
	return res, nil
}

// f0 is the first forecast day of m.
func f0(m *Model) time.Time { return m.g.dayStart(m.last + 1) }
