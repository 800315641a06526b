package forecast

import (
	"fmt"
	"time"
)

// ModelVersion names the short-term model and its revision; it is stored with
// every forecast so that a stored forecast can be traced and recomputed.
const ModelVersion = "earshot-decomp/1"

// Config holds the short-term model's settings. Start from DefaultConfig.
type Config struct {
	// Hours are the opening hours in ParseHours syntax; empty = inferred
	// from the history (InferHours).
	Hours string `json:"hours,omitempty"`
	// Holidays is the site's calendar of special days.
	Holidays []Holiday `json:"holidays,omitempty"`
	// ProfileHalfLifeWeeks is the age, in weeks, at which a day's weight in
	// the intraday profile halves.
	ProfileHalfLifeWeeks float64 `json:"profile_half_life_weeks"`
	// ProfileShrinkDays pulls each weekday's intraday profile toward the
	// profile shared by all weekdays, as this many pseudo-days.
	ProfileShrinkDays float64 `json:"profile_shrink_days"`
	// WeekdayHalfLifeWeeks is the half-life of the weekday effects on the
	// daily level.
	WeekdayHalfLifeWeeks float64 `json:"weekday_half_life_weeks"`
	// LevelHalfLifeWeeks is the half-life of the exponentially smoothed
	// daily level that the forecast starts from.
	LevelHalfLifeWeeks float64 `json:"level_half_life_weeks"`
	// Trend is "flat" (the smoothed level carries on), "damped" (a recent
	// slope, damped by TrendDamping per day) or "linear" (undamped slope).
	Trend        string  `json:"trend"`
	TrendDamping float64 `json:"trend_damping"`
	// Yearly is "auto" (on with at least two years of history), "on" (needs
	// one year) or "off"; YearlyOrder is its number of Fourier pairs.
	Yearly      string `json:"yearly"`
	YearlyOrder int    `json:"yearly_order"`
	// ChangepointDays is the spacing of the piecewise-linear trend's
	// changepoints used to separate trend from seasonality.
	ChangepointDays int `json:"changepoint_days"`
	// MinDays is the fewest days with data that Fit accepts.
	MinDays int `json:"min_days"`
}

// DefaultConfig returns the settings chosen by a rolling-origin backtest
// (8 origins, 28 days ahead) on bank_calls before its held-out weeks
// (TestEvalForecastTuning); the results are flat around them.
func DefaultConfig() Config {
	return Config{
		ProfileHalfLifeWeeks: 6,
		ProfileShrinkDays:    1,
		WeekdayHalfLifeWeeks: 6,
		LevelHalfLifeWeeks:   3,
		Trend:                "flat",
		TrendDamping:         0.97,
		Yearly:               "auto",
		YearlyOrder:          6,
		ChangepointDays:      28,
		MinDays:              14,
	}
}

// Validate reports the first invalid setting.
func (c Config) Validate() error {
	pos := []struct {
		name string
		v    float64
	}{
		{"profile_half_life_weeks", c.ProfileHalfLifeWeeks},
		{"weekday_half_life_weeks", c.WeekdayHalfLifeWeeks},
		{"level_half_life_weeks", c.LevelHalfLifeWeeks},
	}
	for _, p := range pos {
		if !(p.v > 0) {
			return fmt.Errorf("%w: %s must be positive, got %v", ErrBadConfig, p.name, p.v)
		}
	}
	if c.ProfileShrinkDays < 0 {
		return fmt.Errorf("%w: profile_shrink_days must be >= 0, got %v", ErrBadConfig, c.ProfileShrinkDays)
	}
	switch c.Trend {
	case "flat", "damped", "linear":
	default:
		return fmt.Errorf("%w: trend must be flat, damped or linear, got %q", ErrBadConfig, c.Trend)
	}
	if c.Trend == "damped" && !(c.TrendDamping > 0 && c.TrendDamping < 1) {
		return fmt.Errorf("%w: trend_damping must be in (0, 1), got %v", ErrBadConfig, c.TrendDamping)
	}
	switch c.Yearly {
	case "auto", "on", "off":
	default:
		return fmt.Errorf("%w: yearly must be auto, on or off, got %q", ErrBadConfig, c.Yearly)
	}
	if c.YearlyOrder < 1 || c.YearlyOrder > 20 {
		return fmt.Errorf("%w: yearly_order must be 1..20, got %d", ErrBadConfig, c.YearlyOrder)
	}
	if c.ChangepointDays < 7 {
		return fmt.Errorf("%w: changepoint_days must be >= 7, got %d", ErrBadConfig, c.ChangepointDays)
	}
	if c.MinDays < 7 {
		return fmt.Errorf("%w: min_days must be >= 7, got %d", ErrBadConfig, c.MinDays)
	}
	if c.Hours != "" {
		if _, err := ParseHours(c.Hours); err != nil {
			return err
		}
	}
	for i, h := range c.Holidays {
		if _, err := time.Parse("2006-01-02", h.Date); err != nil {
			return fmt.Errorf("%w: holidays[%d]: date %q: want YYYY-MM-DD", ErrBadConfig, i, h.Date)
		}
		if h.Name == "" {
			return fmt.Errorf("%w: holidays[%d]: empty name", ErrBadConfig, i)
		}
	}
	return nil
}
