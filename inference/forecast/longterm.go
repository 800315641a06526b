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
// days, else lt.DefaultAHT; without either it fails with ErrNoAHT rather
// than report an FTE of 0. Needs 90 days of history.
func LongTerm(s *Series, cfg Config, lt LongTermConfig) (*LongTermForecast, error) {
	fc, err := lt.check(cfg)
	if err != nil {
		return nil, err
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
	days := dailyTotals(g)
	if len(days) < 2 || days[len(days)-1].d-days[0].d < 89 {
		return nil, fmt.Errorf("%w: queue %q: long-term forecast needs 90 days of history", ErrTooShort, s.Queue)
	}
	dm, err := fitDaily(g, days)
	if err != nil {
		return nil, fmt.Errorf("forecast: long-term fit of %q: %w", s.Queue, err)
	}
	out := &LongTermForecast{Queue: s.Queue, ModelVersion: LongTermModelVersion}
	months := dm.monthlyLevels(days)
	for _, mm := range months {
		out.History = append(out.History, MonthActual{Month: mm.key, Volume: mm.act, Coverage: float64(mm.days) / math.Max(float64(mm.openDays), 1)})
	}
	tr := fitMonthlyTrend(months, lt.Trend == "flat")
	aht := recentAHT(days, dm.last, func(dt dayTotal) (int, float64, float64) { return dt.d, dt.aht, dt.ahW })
	if aht == 0 {
		aht = lt.DefaultAHT
	}
	if !(aht > 0) {
		return nil, fmt.Errorf("%w: queue %q: the last 90 days of history hold no AHT; give default_aht (e.g. 240s) to turn volume into FTE", ErrNoAHT, s.Queue)
	}
	firstMonth, lastMonth := dm.monthOf(days[0].d), dm.monthOf(dm.last)
	for k := 1; k <= lt.Months; k++ {
		m := lastMonth.AddDate(0, k, 0)
		base, od := dm.monthBase(m)
		mf := MonthForecast{Month: m.Format("2006-01"), OpenDays: od, AHT: aht}
		if od > 0 {
			lv, v := tr.at(monthsBetween(firstMonth, m))
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

// check validates the settings and returns the FTE conversion with its
// defaults filled in.
func (lt LongTermConfig) check(cfg Config) (FTEConfig, error) {
	if err := cfg.Validate(); err != nil {
		return FTEConfig{}, err
	}
	if lt.Months < 1 || lt.Months > 36 {
		return FTEConfig{}, fmt.Errorf("%w: months %d: must be 1..36", ErrBadConfig, lt.Months)
	}
	switch lt.Trend {
	case "", "linear", "flat":
	default:
		return FTEConfig{}, fmt.Errorf("%w: long-term trend must be linear or flat, got %q", ErrBadConfig, lt.Trend)
	}
	fc := lt.FTE.withDefaults()
	if fc.HoursPerWeek <= 0 || fc.Shrinkage < 0 || fc.Shrinkage >= 1 || fc.Occupancy <= 0 || fc.Occupancy > 1 {
		return FTEConfig{}, fmt.Errorf("%w: fte settings out of range: %+v", ErrBadConfig, fc)
	}
	return fc, nil
}

// dayTotal is one day's open-hours total and its AHT sums.
type dayTotal struct {
	d        int
	tot      float64
	aht, ahW float64
}

// dailyTotals sums the open intervals of every day with data that is not
// closed; days whose total is zero are left out.
func dailyTotals(g *grid) []dayTotal {
	var days []dayTotal
	for d := 0; d < g.nDays; d++ {
		if !g.has[d] || g.closed[d] {
			continue
		}
		wd := g.weekday(d)
		dt := dayTotal{d: d}
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
	return days
}

// dailyModel is the ridge regression of log daily totals on a trend,
// weekday effects, yearly Fourier terms and holidays.
type dailyModel struct {
	g     *grid
	last  int            // the last day with data
	order int            // Fourier pairs of the yearly seasonality (0: none)
	names map[string]int // holiday name -> its column after the Fourier terms
	p     int            // number of features
	beta  []float64
	row   []float64 // scratch row for seasonal
}

// fitDaily fits the daily model on days.
func fitDaily(g *grid, days []dayTotal) (*dailyModel, error) {
	dm := &dailyModel{g: g, last: days[len(days)-1].d, names: map[string]int{}}
	span := dm.last - days[0].d + 1
	yearPen := 0.0
	if span >= 365 {
		dm.order = 3
		yearPen = 1 / (0.1 * 0.1) // rel. to noise: see below
		if span >= 730 {
			yearPen = 1 / (0.3 * 0.3)
		}
	}
	for _, dt := range days {
		if h := g.holiday[dt.d]; h != "" {
			if _, ok := dm.names[h]; !ok {
				dm.names[h] = len(dm.names)
			}
		}
	}
	p := 2 + 7 + 2*dm.order + len(dm.names)
	dm.p, dm.row = p, make([]float64, p)
	x := make([]float64, len(days)*p)
	y := make([]float64, len(days))
	w := make([]float64, len(days))
	for i, dt := range days {
		dm.features(dt.d, x[i*p:(i+1)*p])
		y[i] = math.Log(dt.tot)
		w[i] = 1
	}
	s2 := 0.01
	pen := make([]float64, p)
	pen[0], pen[1] = 1e-9, s2/4
	for k := 0; k < 7; k++ {
		pen[2+k] = s2
	}
	for k := 0; k < 2*dm.order; k++ {
		pen[9+k] = s2 * yearPen
	}
	for k := 0; k < len(dm.names); k++ {
		pen[9+2*dm.order+k] = s2 / 0.25
	}
	var err error
	dm.beta, err = ridge(x, y, w, p, pen)
	return dm, err
}

// features writes day d's regressors into row: intercept, trend in years
// before the last day, weekday dummies, Fourier terms, holiday dummies.
func (dm *dailyModel) features(d int, row []float64) {
	g := dm.g
	clear(row)
	row[0] = 1
	row[1] = float64(d-dm.last) / 365.25
	row[2+int(g.weekday(d))] = 1
	if dm.order > 0 {
		x := 2 * math.Pi * yearFrac(civil(g.day0).AddDate(0, 0, d))
		for k := 0; k < dm.order; k++ {
			row[9+2*k] = math.Sin(float64(k+1) * x)
			row[9+2*k+1] = math.Cos(float64(k+1) * x)
		}
	}
	if h, _ := g.holidayOn(d); h != "" {
		if k, ok := dm.names[h]; ok {
			row[9+2*dm.order+k] = 1
		}
	}
}

// seasonal is the fit of day d without intercept and trend.
func (dm *dailyModel) seasonal(d int) float64 {
	dm.features(d, dm.row)
	v := 0.0
	for j := 2; j < dm.p; j++ {
		v += dm.beta[j] * dm.row[j]
	}
	return v
}

// monthOf is the first of day d's month (UTC midnight, a map key).
func (dm *dailyModel) monthOf(d int) time.Time {
	c := civil(dm.g.day0).AddDate(0, 0, d)
	return time.Date(c.Year(), c.Month(), 1, 0, 0, 0, 0, time.UTC)
}

// open reports whether day d is open under the hours and the calendar.
func (dm *dailyModel) open(d int) bool {
	if _, closed := dm.g.holidayOn(d); closed {
		return false
	}
	return dm.g.openSlots(dm.g.weekday(d)) > 0
}

// monthBase sums exp(seasonal) over month m's open days and counts them.
func (dm *dailyModel) monthBase(m time.Time) (base float64, openDays int) {
	for d := dm.g.dayIndex(time.Date(m.Year(), m.Month(), 1, 12, 0, 0, 0, dm.g.loc)); dm.monthOf(d) == m; d++ {
		if dm.open(d) {
			base += math.Exp(dm.seasonal(d))
			openDays++
		}
	}
	return base, openDays
}

// monthLevel is one month of history: its actual total and the sum of the
// seasonal fit over the same days with data, whose ratio is the month's
// deseasonalised level.
type monthLevel struct {
	key            string
	t              float64 // months since the first month
	act, base      float64
	days, openDays int
}

// monthlyLevels groups days into months, in order.
func (dm *dailyModel) monthlyLevels(days []dayTotal) []*monthLevel {
	var months []*monthLevel
	firstMonth := dm.monthOf(days[0].d)
	idx := map[string]*monthLevel{}
	for _, dt := range days {
		m := dm.monthOf(dt.d)
		k := m.Format("2006-01")
		mm := idx[k]
		if mm == nil {
			mm = &monthLevel{key: k, t: monthsBetween(firstMonth, m)}
			idx[k] = mm
			months = append(months, mm)
		}
		mm.act += dt.tot
		mm.base += math.Exp(dm.seasonal(dt.d))
		mm.days++
	}
	for _, mm := range months {
		m, _ := time.Parse("2006-01", mm.key)
		for d := dm.g.dayIndex(time.Date(m.Year(), m.Month(), 1, 12, 0, 0, 0, dm.g.loc)); dm.monthOf(d) == m; d++ {
			if dm.open(d) {
				mm.openDays++
			}
		}
	}
	return months
}

// monthlyTrend is the weighted linear trend of the monthly log levels
// (weights: days with data) with its prediction variance.
type monthlyTrend struct {
	a, b     float64 // level = a + b t
	tbar     float64 // weighted mean t
	sxx, sw  float64 // weighted Sxx and weight sum
	nm, sig2 float64 // months, residual variance of a month of average weight
}

func fitMonthlyTrend(months []*monthLevel, flat bool) monthlyTrend {
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
	tr := monthlyTrend{tbar: st / sw, sxx: stt - st*st/sw, sw: sw, nm: float64(len(months))}
	if tr.sxx > 0 && !flat && len(months) >= 3 {
		tr.b = (sty - st*sy/sw) / tr.sxx
	}
	tr.a = sy/sw - tr.b*tr.tbar
	var rss float64
	for _, mm := range months {
		e := math.Log(mm.act/mm.base) - (tr.a + tr.b*mm.t)
		rss += float64(mm.days) * e * e
	}
	npar := 2.0
	if tr.b == 0 {
		npar = 1
	}
	tr.sig2 = rss / sw * tr.nm / math.Max(tr.nm-npar, 1)
	tr.sig2 = math.Max(tr.sig2, 1e-4)
	return tr
}

// at is the predicted log level t months after the first month and its
// variance.
func (tr monthlyTrend) at(t float64) (level, variance float64) {
	v := tr.sig2 * (1 + 1/tr.nm)
	if tr.b != 0 && tr.sxx > 0 {
		v += tr.sig2 * (t - tr.tbar) * (t - tr.tbar) / (tr.sxx / (tr.sw / tr.nm))
	}
	return tr.a + tr.b*t, v
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
