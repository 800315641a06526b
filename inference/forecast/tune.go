package forecast

import (
	"fmt"
	"sort"
)

// TuneResult is one candidate setting and its backtest accuracy.
type TuneResult struct {
	ProfileHalfLifeWeeks float64  `json:"profile_half_life_weeks"`
	LevelHalfLifeWeeks   float64  `json:"level_half_life_weeks"`
	Trend                string   `json:"trend"`
	Volume               Accuracy `json:"volume"`
}

// Tune chooses a queue's short-term settings by rolling-origin backtest:
// twelve candidates (profile and weekday half-life 3 or 6 weeks, level
// half-life 1, 2 or 3 weeks, trend flat or damped) on top of base, ranked by
// volume MAPE. It returns base with the winner's settings and every
// candidate's result, best first. Cost: 12 x bt.Origins fits (bt defaults to
// 4 origins of 28 days, 7 days apart).
func Tune(s *Series, base Config, bt BacktestConfig) (Config, []TuneResult, error) {
	if bt.Origins == 0 {
		bt.Origins = 4
	}
	var res []TuneResult
	for _, ph := range []float64{3, 6} {
		for _, lh := range []float64{1, 2, 3} {
			for _, tr := range []string{"flat", "damped"} {
				cfg := base
				cfg.ProfileHalfLifeWeeks, cfg.WeekdayHalfLifeWeeks, cfg.LevelHalfLifeWeeks, cfg.Trend = ph, ph, lh, tr
				r, err := Backtest(s, cfg, bt)
				if err != nil {
					return base, nil, fmt.Errorf("forecast: tune: %w", err)
				}
				res = append(res, TuneResult{ph, lh, tr, r.Overall.Volume})
			}
		}
	}
	sort.SliceStable(res, func(i, j int) bool { return res[i].Volume.MAPE < res[j].Volume.MAPE })
	best := base
	best.ProfileHalfLifeWeeks, best.WeekdayHalfLifeWeeks = res[0].ProfileHalfLifeWeeks, res[0].ProfileHalfLifeWeeks
	best.LevelHalfLifeWeeks, best.Trend = res[0].LevelHalfLifeWeeks, res[0].Trend
	return best, res, nil
}
