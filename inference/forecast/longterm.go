package forecast

import (
	"fmt"
	"math"
	"time"
)

// LongTermConfig sets up a monthly forecast.
type LongTermConfig struct {
	// Months to forecast after the last month of history (1..36; planning
	// uses 6..24).
	Months int `json:"months"`
	// Trend is "linear" (default) or "flat".
	Trend string `json:"trend,omitempty"`
	// FTE turns workload into headcount; zero values take the defaults.
	FTE FTEConfig `json:"fte"`
	// DefaultAHT is used when the history has no AHT (seconds).
	DefaultAHT float64 `json:"default_aht_seconds,omitempty"`
}

// FTEConfig is the standard long-range staffing conversion:
// FTE = volume x AHT / (paid hours per FTE x (1 - shrinkage) x occupancy).
type FTEConfig struct {
	HoursPerWeek float64 `json:"hours_per_week"` // paid hours of one FTE (default 37.5)
	Shrinkage    float64 `json:"shrinkage"`      // share of paid time not on contacts (default 0.3)
	Occupancy    float64 `json:"occupancy"`      // planned occupancy while on contacts (default 0.85)
}

func (c FTEConfig) withDefaults() FTEConfig {
	if c.HoursPerWeek == 0 {
		c.HoursPerWeek = 37.5
	}
	if c.Shrinkage == 0 {
		c.Shrinkage = 0.3
	}
	if c.Occupancy == 0 {
		c.Occupancy = 0.85
	}
	return c
}

// MonthForecast is one forecast month. FTE's bounds follow the volume's.
type MonthForecast struct {
	Month         string   `json:"month"` // YYYY-MM
	OpenDays      int      `json:"open_days"`
	Volume        Estimate `json:"volume"`
	AHT           float64  `json:"aht_seconds"`
	WorkloadHours float64  `json:"workload_hours"`
	FTE           Estimate `json:"fte"`
}

// LongTermForecast is a monthly forecast of one queue.
type LongTermForecast struct {
	Queue        string          `json:"queue"`
	ModelVersion string          `json:"model_version"`
	History      []MonthActual   `json:"history"`
	Months       []MonthForecast `json:"months"`
}

// MonthActual is one month of history: Volume counts the days with data;
// Coverage is their share of the month's open days.
type MonthActual struct {
	Month    string  `json:"month"`
	Volume   float64 `json:"volume"`
	Coverage float64 `json:"coverage"`
}

// LongTermModelVersion names the monthly model.
const LongTermModelVersion = "earshot-monthly/1"

// LongTerm forecasts monthly totals and FTE from a series. Daily totals
// (open hours only) are explained by a linear trend, weekday effects, a
// yearly Fourier seasonality (order 3, with a year of history or more;
// shrunk by ridge until two years) and holidays; the monthly deseasonalised
// level then gets its own linear trend, whose classical regression
// prediction interval (residual variance x (1 + 1/n + (t - mean t)²/Sxx))
// gives the uncertainty. A month total sums the days that are open under
// cfg's hours and calendar. AHT is the handled-weighted mean of the last 90
// days (lt.DefaultAHT without AHT data; FTE is 0 when both are 0). Needs 90
// days of history.
func LongTerm(s *Series, cfg Config, lt LongTermConfig) (*LongTermForecast, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if lt.Months < 1 || lt.Months > 36 {
		return nil, fmt.Errorf("%w: months %d: must be 1..36", ErrBadConfig, lt.Months)
	}
	switch lt.Trend {
	case "", "linear", "flat":
	default:
		return nil, fmt.Errorf("%w: long-term trend must be linear or flat, got %q", ErrBadConfig, lt.Trend)
	}
	fc := lt.FTE.withDefaults()
	if fc.HoursPerWeek <= 0 || fc.Shrinkage < 0 || fc.Shrinkage >= 1 || fc.Occupancy <= 0 || fc.Occupancy > 1 {
		return nil, fmt.Errorf("%w: fte settings out of range: %+v", ErrBadConfig, fc)
	}
	if s == nil || len(s.Points) == 0 {
		return nil, fmt.Errorf("%w: empty series", ErrTooShort)
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	hours := InferHours(s)
	if cfg.Hours != "" {
		hours, _ = ParseHours(cfg.Hours)
	}
	g := newGrid(s, hours, cfg.Holidays)
	type dayTot struct {
		d        int
		tot      float64
		aht, ahW float64
	}
	var days []dayTot
	for d := 0; d < g.nDays; d++ {
		if !g.has[d] || g.closed[d] {
			continue
		}
		wd := g.weekday(d)
		var dt dayTot
		dt.d = d
		for sl, o := range g.open[wd] {
			if o {
				i := d*g.spd + sl
				dt.tot += g.vol[i]
				dt.aht += g.aht[i]
				dt.ahW += g.ahtW[i]
			}
		}
		if dt.tot > 0 {
			days = append(days, dt)
		}
	}
	if len(days) < 2 || days[len(days)-1].d-days[0].d < 89 {
		return nil, fmt.Errorf("%w: queue %q: long-term forecast needs 90 days of history", ErrTooShort, s.Queue)
	}
	span := days[len(days)-1].d - days[0].d + 1
	last := days[len(days)-1].d
	order := 0
	yearPen := 0.0
	if span >= 365 {
		order = 3
		yearPen = 1 / (0.1 * 0.1) // rel. to noise: see below
		if span >= 730 {
			yearPen = 1 / (0.3 * 0.3)
		}
	}
	names := map[string]int{}
	for _, dt := range days {
		if h := g.holiday[dt.d]; h != "" {
			if _, ok := names[h]; !ok {
				names[h] = len(names)
			}
		}
	}
	p := 2 + 7 + 2*order + len(names)
	feat := func(d int, row []float64) {
		clear(row)
		row[0] = 1
		row[1] = float64(d-last) / 365.25
		row[2+int(g.weekday(d))] = 1
		if order > 0 {
			x := 2 * math.Pi * yearFrac(civil(g.day0).AddDate(0, 0, d))
			for k := 0; k < order; k++ {
				row[9+2*k] = math.Sin(float64(k+1) * x)
				row[9+2*k+1] = math.Cos(float64(k+1) * x)
			}
		}
		if h, _ := g.holidayOn(d); h != "" {
			if k, ok := names[h]; ok {
				row[9+2*order+k] = 1
			}
		}
	}
	x := make([]float64, len(days)*p)
	y := make([]float64, len(days))
	w := make([]float64, len(days))
	for i, dt := range days {
		feat(dt.d, x[i*p:(i+1)*p])
		y[i] = math.Log(dt.tot)
		w[i] = 1
	}
	s2 := 0.01
	pen := make([]float64, p)
	pen[0], pen[1] = 1e-9, s2/4
	for k := 0; k < 7; k++ {
		pen[2+k] = s2
	}
	for k := 0; k < 2*order; k++ {
		pen[9+k] = s2 * yearPen
	}
	for k := 0; k < len(names); k++ {
		pen[9+2*order+k] = s2 / 0.25
	}
	beta, err := ridge(x, y, w, p, pen)
	if err != nil {
		return nil, fmt.Errorf("forecast: long-term fit of %q: %w", s.Queue, err)
	}
	// seasonal(d): the fit without intercept and trend.
	row := make([]float64, p)
	seasonal := func(d int) float64 {
		feat(d, row)
		v := 0.0
		for j := 2; j < p; j++ {
			v += beta[j] * row[j]
		}
		return v
	}
	// Monthly deseasonalised levels: log(Σ actual / Σ exp(seasonal)) over the
	// month's days with data.
	type mon struct {
		key            string
		t              float64 // months since the first month
		act, base      float64
		days, openDays int
	}
	var months []*mon
	monthOf := func(d int) time.Time {
		c := civil(g.day0).AddDate(0, 0, d)
		return time.Date(c.Year(), c.Month(), 1, 0, 0, 0, 0, time.UTC)
	}
	firstMonth := monthOf(days[0].d)
	idx := map[string]*mon{}
	for _, dt := range days {
		m := monthOf(dt.d)
		k := m.Format("2006-01")
		mm := idx[k]
		if mm == nil {
			mm = &mon{key: k, t: monthsBetween(firstMonth, m)}
			idx[k] = mm
			months = append(months, mm)
		}
		mm.act += dt.tot
		mm.base += math.Exp(seasonal(dt.d))
		mm.days++
	}
	open := func(d int) bool {
		if _, closed := g.holidayOn(d); closed {
			return false
		}
		return g.openSlots(g.weekday(d)) > 0
	}
	out := &LongTermForecast{Queue: s.Queue, ModelVersion: LongTermModelVersion}
	for _, mm := range months {
		m, _ := time.Parse("2006-01", mm.key)
		for d := g.dayIndex(time.Date(m.Year(), m.Month(), 1, 12, 0, 0, 0, g.loc)); ; d++ {
			if monthOf(d) != m {
				break
			}
			if open(d) {
				mm.openDays++
			}
		}
		out.History = append(out.History, MonthActual{Month: mm.key, Volume: mm.act, Coverage: float64(mm.days) / math.Max(float64(mm.openDays), 1)})
	}
	// Weighted linear trend of the monthly level (weights: days with data).
	var sw, st, sy, stt, sty float64
	for _, mm := range months {
		lv := math.Log(mm.act / mm.base)
		wt := float64(mm.days)
		sw += wt
		st += wt * mm.t
		sy += wt * lv
		stt += wt * mm.t * mm.t
		sty += wt * mm.t * lv
	}
	tbar := st / sw
	sxx := stt - st*st/sw
	b := 0.0
	if sxx > 0 && lt.Trend != "flat" && len(months) >= 3 {
		b = (sty - st*sy/sw) / sxx
	}
	a := sy/sw - b*tbar
	var rss float64
	for _, mm := range months {
		e := math.Log(mm.act/mm.base) - (a + b*mm.t)
		rss += float64(mm.days) * e * e
	}
	npar := 2.0
	if b == 0 {
		npar = 1
	}
	// Residual variance of a month's level, per month of average weight.
	nm := float64(len(months))
	sig2 := rss / sw * nm / math.Max(nm-npar, 1)
	sig2 = math.Max(sig2, 1e-4)
	lastMonth := monthOf(last)
	aht := recentAHT(days, last, func(dt dayTot) (int, float64, float64) { return dt.d, dt.aht, dt.ahW })
	if aht == 0 {
		aht = lt.DefaultAHT
	}
	for k := 1; k <= lt.Months; k++ {
		m := lastMonth.AddDate(0, k, 0)
		t := monthsBetween(firstMonth, m)
		lv := a + b*t
		v := sig2 * (1 + 1/nm)
		if b != 0 && sxx > 0 {
			v += sig2 * (t - tbar) * (t - tbar) / (sxx / (sw / nm))
		}
		var base float64
		od := 0
		for d := g.dayIndex(time.Date(m.Year(), m.Month(), 1, 12, 0, 0, 0, g.loc)); monthOf(d) == m; d++ {
			if open(d) {
				base += math.Exp(seasonal(d))
				od++
			}
		}
		mf := MonthForecast{Month: m.Format("2006-01"), OpenDays: od, AHT: aht}
		if od > 0 {
			sd := math.Sqrt(v)
			e := func(z float64) float64 { return base * math.Exp(lv+z) }
			mf.Volume = Estimate{Value: e(0), Mean: e(v / 2), Lower80: e(-z80 * sd), Upper80: e(z80 * sd), Lower95: e(-z95 * sd), Upper95: e(z95 * sd)}
		}
		paid := fc.HoursPerWeek * 52 / 12 * (1 - fc.Shrinkage) * fc.Occupancy
		fte := func(vol float64) float64 { return vol * aht / 3600 / paid }
		mf.WorkloadHours = mf.Volume.Mean * aht / 3600
		mf.FTE = Estimate{Value: fte(mf.Volume.Value), Mean: fte(mf.Volume.Mean), Lower80: fte(mf.Volume.Lower80), Upper80: fte(mf.Volume.Upper80), Lower95: fte(mf.Volume.Lower95), Upper95: fte(mf.Volume.Upper95)}
		out.Months = append(out.Months, mf)
	}
	return out, nil
}

func monthsBetween(a, b time.Time) float64 {
	return float64((b.Year()-a.Year())*12 + int(b.Month()) - int(a.Month()))
}

// recentAHT is the handled-weighted AHT of the last 90 days.
func recentAHT[T any](days []T, last int, get func(T) (int, float64, float64)) float64 {
	var num, den float64
	for _, dt := range days {
		d, a, w := get(dt)
		if last-d < 90 {
			num += a
			den += w
		}
	}
	if den == 0 {
		return 0
	}
	return num / den
}
