package forecast

import (
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"strconv"
	"time"
)

// Estimate is a forecast quantity: Value is the point forecast (the median),
// Mean the expected value (use it for staffing and totals), and the bounds of
// the central 80 % and 95 % prediction intervals.
type Estimate struct {
	Value   float64 `json:"value"`
	Mean    float64 `json:"mean"`
	Lower80 float64 `json:"lower80"`
	Upper80 float64 `json:"upper80"`
	Lower95 float64 `json:"lower95"`
	Upper95 float64 `json:"upper95"`
}

// ForecastPoint is one future interval. A closed interval (outside opening
// hours, or a closed holiday) has Open false and zero estimates.
type ForecastPoint struct {
	Start   time.Time `json:"start"`
	Open    bool      `json:"open"`
	Holiday string    `json:"holiday,omitempty"`
	Volume  Estimate  `json:"volume"`
	AHT     *Estimate `json:"aht,omitempty"` // seconds; nil without AHT history
}

// Forecast is a model's forecast for one queue, as stored and served.
type Forecast struct {
	Queue        string        `json:"queue"`
	ModelVersion string        `json:"model_version"`
	Step         time.Duration `json:"-"` // JSON: step_seconds
	Location     string        `json:"location"`
	Origin       time.Time     `json:"origin"` // first forecast day, local midnight
	Days         int           `json:"days"`
	// Settings are the model settings that produced the forecast.
	Settings Config          `json:"settings"`
	Points   []ForecastPoint `json:"points"`
}

var (
	z80 = normQuantile(0.80)
	z95 = normQuantile(0.95)
)

// Forecast forecasts every interval of the days days that follow the last
// day of history (1..366; short-term use is 7..42).
func (m *Model) Forecast(days int) (*Forecast, error) {
	if days < 1 || days > 366 {
		return nil, fmt.Errorf("%w: horizon %d days: must be 1..366", ErrBadInput, days)
	}
	g := m.g
	f := &Forecast{
		Queue: m.Queue, ModelVersion: m.Version, Step: g.step, Location: g.loc.String(),
		Origin: g.dayStart(m.last + 1), Days: days, Settings: m.Config,
	}
	f.Points = make([]ForecastPoint, 0, days*g.spd)
	for h := 1; h <= days; h++ {
		d := m.last + h
		wd := g.weekday(d)
		hol, closed := g.holidayOn(d)
		for sl := 0; sl < g.spd; sl++ {
			st := g.slotStart(d, sl)
			if slotOf(st, g.step) != sl || g.dayIndex(st) != d {
				continue // wall-clock slot skipped by daylight saving
			}
			p := ForecastPoint{Start: st, Holiday: hol}
			if g.open[wd][sl] && !closed {
				p.Open = true
				p.Volume = m.volume.estimate(g, d, h, wd, sl)
				if m.aht != nil {
					e := m.aht.estimate(g, d, h, wd, sl)
					p.AHT = &e
				}
			}
			f.Points = append(f.Points, p)
		}
	}
	return f, nil
}

// logMoments returns the forecast's mean and variance in log space.
func (c *component) logMoments(g *grid, d, h int, wd time.Weekday, sl int) (mu, v float64) {
	trend := 0.0
	switch {
	case c.slope == 0:
	case c.damp >= 1:
		trend = c.slope * float64(h)
	default:
		trend = c.slope * c.damp * (1 - math.Pow(c.damp, float64(h))) / (1 - c.damp)
	}
	mu = c.local + trend + c.weekday[wd] + c.yearlyAt(g, d) + c.holiday[g.holiday0(d)] + c.profile[wd][sl]
	v = c.sig2[wd][sl] + c.levA + c.levB*float64(h)
	if v <= 0 {
		v = c.levA + 1e-6
	}
	return mu, v
}

func (c *component) estimate(g *grid, d, h int, wd time.Weekday, sl int) Estimate {
	mu, v := c.logMoments(g, d, h, wd, sl)
	sd := math.Sqrt(v)
	back := func(z float64) float64 { return math.Max(0, math.Exp(z)-c.transOff) }
	return Estimate{
		Value:   back(mu),
		Mean:    back(mu + v/2),
		Lower80: back(mu - z80*sd),
		Upper80: back(mu + z80*sd),
		Lower95: back(mu - z95*sd),
		Upper95: back(mu + z95*sd),
	}
}

// holiday0 returns the name of the holiday on day d, past or future.
func (g *grid) holiday0(d int) string {
	if d >= 0 && d < g.nDays {
		return g.holiday[d]
	}
	n, _ := g.holidayOn(d)
	return n
}

// WriteForecastCSV writes a forecast as CSV: one row per interval with the
// volume's median, mean and 80/95 % bounds, and the same for AHT (empty
// without AHT history). Closed intervals have open=false and empty values.
func WriteForecastCSV(w io.Writer, f *Forecast) error {
	cw := csv.NewWriter(w)
	head := []string{"start", "queue", "open", "volume", "volume_mean", "volume_lower80", "volume_upper80", "volume_lower95", "volume_upper95",
		"aht", "aht_mean", "aht_lower80", "aht_upper80", "aht_lower95", "aht_upper95", "model_version"}
	if err := cw.Write(head); err != nil {
		return fmt.Errorf("forecast: write csv: %w", err)
	}
	est := func(e *Estimate) []string {
		if e == nil {
			return make([]string, 6)
		}
		r := func(v float64) string { return strconv.FormatFloat(v, 'f', 3, 64) }
		return []string{r(e.Value), r(e.Mean), r(e.Lower80), r(e.Upper80), r(e.Lower95), r(e.Upper95)}
	}
	for _, p := range f.Points {
		rec := []string{p.Start.Format(time.RFC3339), f.Queue, strconv.FormatBool(p.Open)}
		if p.Open {
			v := p.Volume
			rec = append(rec, est(&v)...)
			rec = append(rec, est(p.AHT)...)
		} else {
			rec = append(rec, make([]string, 12)...)
		}
		rec = append(rec, f.ModelVersion)
		if err := cw.Write(rec); err != nil {
			return fmt.Errorf("forecast: write csv: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("forecast: write csv: %w", err)
	}
	return nil
}
