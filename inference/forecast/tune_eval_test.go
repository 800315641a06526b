//go:build eval

package forecast

import (
	"fmt"
	"sort"
	"testing"
)

// TestEvalForecastTuning shows how DefaultConfig's half-lives were chosen:
// a rolling-origin backtest (8 origins, 28 days each) on bank_calls without
// its last 20 weekdays, so the held-out weeks play no part in the choice.
func TestEvalForecastTuning(t *testing.T) {
	s := loadBankCalls(t, evalDir(t))
	dates := s.Dates()
	train := s.Before(dates[len(dates)-20])
	type row struct {
		name string
		r    *BacktestResult
	}
	var rows []row
	for _, ph := range []float64{2, 3, 6} {
		for _, lh := range []float64{1, 2, 3} {
			for _, tr := range []string{"flat", "damped"} {
				cfg := DefaultConfig()
				cfg.Hours = bankHours
				cfg.ProfileHalfLifeWeeks, cfg.WeekdayHalfLifeWeeks, cfg.LevelHalfLifeWeeks, cfg.Trend = ph, ph, lh, tr
				r, err := Backtest(train, cfg, BacktestConfig{Origins: 8, HorizonDays: 28, StepDays: 7})
				if err != nil {
					t.Fatal(err)
				}
				rows = append(rows, row{fmt.Sprintf("profile/weekday %gw, level %gw, %s", ph, lh, tr), r})
			}
		}
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].r.Overall.Volume.MAPE < rows[j].r.Overall.Volume.MAPE })
	b := fmt.Appendf(nil, "\nbank_calls before the last 20 weekdays, backtest 8 origins x 28 days\n%-45s %7s %7s %6s %6s\n", "config", "MAPE%", "WAPE%", "cov80", "cov95")
	for _, r := range rows {
		a := r.r.Overall.Volume
		b = fmt.Appendf(b, "%-45s %7.2f %7.2f %6.3f %6.3f\n", r.name, a.MAPE, a.WAPE, a.Coverage80, a.Coverage95)
	}
	b = fmt.Appendf(b, "%-45s %7.2f %7.2f\n", "same interval last week (baseline)", rows[0].r.Overall.Baseline.MAPE, rows[0].r.Overall.Baseline.WAPE)
	t.Log(string(b))
}
