package forecast

import (
	"fmt"
	"math"
	"sort"
	"time"
)

// Target names a forecast quantity.
type Target string

// The quantities the short-term model forecasts.
const (
	TargetVolume Target = "volume"
	TargetAHT    Target = "aht"
)

// Model is a fitted short-term model of one queue. It is immutable and safe
// for concurrent use.
type Model struct {
	Queue   string
	Version string
	Config  Config
	Hours   Hours
	// FitDuration is how long Fit took.
	FitDuration time.Duration

	g      *grid
	last   int // index of the last day of history
	volume *component
	aht    *component // nil without AHT data
}

// component is the fitted decomposition of one target in log space:
// z[d,s] = level(d) + profile[wd][s] + noise, level(d) = local + weekday[wd]
// + yearly(d) + holiday(d) + trend(h).
type component struct {
	profile  [7][]float64
	shared   []float64
	hasProf  [7][]bool
	sig2     [7][]float64
	neff     [7]float64
	weekday  [7]float64
	yearly   []float64 // sin, cos pairs
	holiday  map[string]float64
	local    float64
	slope    float64
	damp     float64 // trend damping per day (1 = linear)
	levA     float64 // variance of the level error at horizon h: levA + levB*h
	levB     float64
	transOff float64 // z = log(y + transOff)
}

// Fit fits the short-term model to a series. A last day whose rows stop
// more than a quarter of its open intervals before closing is taken as still
// in progress: it is left out of the fit and the forecast starts with it.
// Errors name the problem:
// ErrTooShort with the days found and needed, ErrBadInput for an invalid
// series, ErrBadConfig for settings.
func Fit(s *Series, cfg Config) (*Model, error) {
	start := time.Now()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if s == nil || len(s.Points) == 0 {
		return nil, fmt.Errorf("%w: empty series", ErrTooShort)
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	var hours Hours
	if cfg.Hours != "" {
		hours, _ = ParseHours(cfg.Hours)
	} else {
		hours = InferHours(s)
	}
	if hours.IsZero() {
		return nil, fmt.Errorf("%w: queue %q: no interval had contacts often enough to infer opening hours", ErrNoOpenHours, s.Queue)
	}
	g := newGrid(s, hours, cfg.Holidays)
	m := &Model{Queue: s.Queue, Version: ModelVersion, Config: cfg, Hours: hours, g: g, last: g.nDays - 1}
	// A last day whose rows stop more than a quarter of its open intervals
	// before closing is still going on (an intraday refresh): it is left out
	// of the fit and forecast whole. (A shorter tail is read as quiet
	// closing intervals, which ACD exports often omit.)
	lastT := s.Points[len(s.Points)-1].Start.In(g.loc)
	lastWd := g.weekday(g.nDays - 1)
	after := 0
	for sl := slotOf(lastT, g.step) + 1; sl < g.spd; sl++ {
		if g.open[lastWd][sl] {
			after++
		}
	}
	if n := g.openSlots(lastWd); n > 0 && float64(after) > 0.25*float64(n) && g.nDays > 1 {
		m.last = g.nDays - 2
		g.has[g.nDays-1] = false
	}

	// Days that count: some data, not a closed holiday, and some volume in
	// open intervals: an open day with none is an outage, not zero demand,
	// unless the weekday's volume is so low that an empty day is plausible
	// (a mean under 5 contacts: P(no contact) above 0.7 %).
	var days []int
	totals := make([]float64, g.nDays)
	var wsum, wn [7]float64
	for d := 0; d < g.nDays; d++ {
		if !g.has[d] || g.closed[d] {
			continue
		}
		wd := g.weekday(d)
		for sl, o := range g.open[wd] {
			if o {
				totals[d] += g.vol[d*g.spd+sl]
			}
		}
		wsum[wd] += totals[d]
		wn[wd]++
	}
	for d := 0; d < g.nDays; d++ {
		if !g.has[d] || g.closed[d] {
			continue
		}
		wd := g.weekday(d)
		if totals[d] > 0 || wsum[wd] < 5*wn[wd] {
			days = append(days, d)
		}
	}
	if len(days) < cfg.MinDays {
		return nil, fmt.Errorf("%w: queue %q: %d days with data in open hours, need at least %d for weekly seasonality", ErrTooShort, s.Queue, len(days), cfg.MinDays)
	}
	yearly := false
	span := days[len(days)-1] - days[0] + 1
	switch cfg.Yearly {
	case "on":
		if span < 365 {
			return nil, fmt.Errorf("%w: queue %q: yearly seasonality needs 365 days of history, have %d", ErrTooShort, s.Queue, span)
		}
		yearly = true
	case "auto":
		yearly = span >= 730
	}

	vol := func(d, sl int) (float64, float64, bool) { return g.vol[d*g.spd+sl], 1, true }
	var err error
	m.volume, err = fitComponent(g, days, cfg, yearly, vol, 1)
	if err != nil {
		return nil, fmt.Errorf("forecast: fit volume of %q: %w", s.Queue, err)
	}
	var ahtDays []int
	for _, d := range days {
		for sl := 0; sl < g.spd; sl++ {
			if g.ahtW[d*g.spd+sl] > 0 {
				ahtDays = append(ahtDays, d)
				break
			}
		}
	}
	if len(ahtDays) >= cfg.MinDays {
		aht := func(d, sl int) (float64, float64, bool) {
			w := g.ahtW[d*g.spd+sl]
			if w <= 0 {
				return 0, 0, false
			}
			return g.aht[d*g.spd+sl] / w, w, true
		}
		m.aht, err = fitComponent(g, ahtDays, cfg, yearly, aht, 0)
		if err != nil {
			return nil, fmt.Errorf("forecast: fit aht of %q: %w", s.Queue, err)
		}
	}
	m.FitDuration = time.Since(start)
	return m, nil
}

type cellFunc func(d, sl int) (value, weight float64, ok bool)

type cell struct {
	sl   int
	z, w float64
}

func decay(age, halfLifeDays float64) float64 { return math.Exp2(-age / halfLifeDays) }

func fitComponent(g *grid, days []int, cfg Config, yearly bool, val cellFunc, off float64) (*component, error) {
	c := &component{transOff: off, holiday: map[string]float64{}}
	last := days[len(days)-1]
	// Cells per day, with weights normalised to mean 1.
	cells := make([][]cell, len(days))
	var wsum float64
	var ncell int
	for i, d := range days {
		wd := g.weekday(d)
		for sl, o := range g.open[wd] {
			if !o {
				continue
			}
			v, w, ok := val(d, sl)
			if !ok {
				continue
			}
			cells[i] = append(cells[i], cell{sl: sl, z: math.Log(v + off), w: w})
			wsum += w
			ncell++
		}
	}
	if ncell == 0 {
		return nil, ErrTooShort
	}
	mw := wsum / float64(ncell)
	for i := range cells {
		for j := range cells[i] {
			cells[i][j].w /= mw
		}
	}
	dayW := make([]float64, len(days))
	for i, d := range days {
		dayW[i] = decay(float64(last-d), 7*cfg.ProfileHalfLifeWeeks)
	}
	spd := g.spd
	for wd := 0; wd < 7; wd++ {
		c.profile[wd] = make([]float64, spd)
		c.hasProf[wd] = make([]bool, spd)
		c.sig2[wd] = make([]float64, spd)
	}
	c.shared = make([]float64, spd)
	L := make([]float64, len(days))
	dayLevel := func() {
		for i, d := range days {
			wd := g.weekday(d)
			var num, den float64
			for _, ce := range cells[i] {
				num += ce.w * (ce.z - c.profile[wd][ce.sl])
				den += ce.w
			}
			L[i] = num / den
		}
	}
	dayLevel()
	var num, den [7][]float64
	for wd := range num {
		num[wd] = make([]float64, spd)
		den[wd] = make([]float64, spd)
	}
	numC := make([]float64, spd)
	denC := make([]float64, spd)
	for iter := 0; iter < 4; iter++ {
		for wd := range num {
			clear(num[wd])
			clear(den[wd])
		}
		clear(numC)
		clear(denC)
		for i, d := range days {
			wd := g.weekday(d)
			for _, ce := range cells[i] {
				r := ce.z - L[i]
				w := dayW[i] * ce.w
				num[wd][ce.sl] += w * r
				den[wd][ce.sl] += w
				numC[ce.sl] += w * r
				denC[ce.sl] += w
			}
		}
		for sl := range c.shared {
			if denC[sl] > 0 {
				c.shared[sl] = numC[sl] / denC[sl]
			}
		}
		lam := cfg.ProfileShrinkDays
		for wd := 0; wd < 7; wd++ {
			var mean, n float64
			for sl := 0; sl < spd; sl++ {
				if !g.open[wd][sl] {
					continue
				}
				p := c.shared[sl]
				if den[wd][sl] > 0 {
					p = (num[wd][sl] + lam*c.shared[sl]) / (den[wd][sl] + lam)
					c.hasProf[wd][sl] = true
				}
				c.profile[wd][sl] = p
				mean += p
				n++
			}
			if n > 0 {
				mean /= n
				for sl := 0; sl < spd; sl++ {
					if g.open[wd][sl] {
						c.profile[wd][sl] -= mean
					}
				}
			}
		}
		dayLevel()
	}
	// Interval residual variance per weekday and slot, shrunk toward the
	// slot's pooled variance, inflated for the profile's own estimation error
	// and for the degrees of freedom the fit used.
	var rs, rw [7][]float64
	pooled := make([]float64, spd)
	pooledW := make([]float64, spd)
	for wd := range rs {
		rs[wd] = make([]float64, spd)
		rw[wd] = make([]float64, spd)
	}
	var w1, w2 [7]float64
	for i, d := range days {
		wd := g.weekday(d)
		w1[wd] += dayW[i]
		w2[wd] += dayW[i] * dayW[i]
		for _, ce := range cells[i] {
			e := ce.z - L[i] - c.profile[wd][ce.sl]
			w := dayW[i]
			rs[wd][ce.sl] += w * ce.w * e * e
			rw[wd][ce.sl] += w
			pooled[ce.sl] += w * ce.w * e * e
			pooledW[ce.sl] += w
		}
	}
	openCells := 0
	for wd := 0; wd < 7; wd++ {
		openCells += g.openSlots(time.Weekday(wd))
	}
	dfInfl := float64(ncell) / math.Max(float64(ncell-len(days)-openCells), float64(ncell)/2)
	for wd := 0; wd < 7; wd++ {
		if w2[wd] > 0 {
			c.neff[wd] = w1[wd]*w1[wd]/w2[wd] + cfg.ProfileShrinkDays
		}
		for sl := 0; sl < spd; sl++ {
			if pooledW[sl] == 0 {
				continue
			}
			p := pooled[sl] / pooledW[sl]
			v := (rs[wd][sl] + 2*p) / (rw[wd][sl] + 2)
			n := math.Max(c.neff[wd], 1)
			c.sig2[wd][sl] = v * dfInfl * (1 + 1/n)
		}
	}
	c.fitLevel(g, days, L, cfg, yearly)
	return c, nil
}

func yearFrac(t time.Time) float64 {
	return float64(t.YearDay()-1) / 365.25
}

func (c *component) yearlyAt(g *grid, d int) float64 {
	if len(c.yearly) == 0 {
		return 0
	}
	x := 2 * math.Pi * yearFrac(civil(g.day0).AddDate(0, 0, d))
	var v float64
	for k := 0; k < len(c.yearly)/2; k++ {
		f := float64(k+1) * x
		v += c.yearly[2*k]*math.Sin(f) + c.yearly[2*k+1]*math.Cos(f)
	}
	return v
}

// fitLevel explains the daily levels L (of days) by trend, weekday, yearly
// and holiday terms, then smooths the deseasonalised level.
func (c *component) fitLevel(g *grid, days []int, L []float64, cfg Config, yearly bool) {
	last := days[len(days)-1]
	first := days[0]
	// Robust noise scale of the daily level: same-weekday differences.
	var dv []float64
	for i := 1; i < len(days); i++ {
		for j := i - 1; j >= 0 && days[i]-days[j] <= 7; j-- {
			if days[i]-days[j] == 7 {
				dv = append(dv, math.Abs(L[i]-L[j]))
			}
		}
	}
	sig := 0.05
	if len(dv) > 3 {
		sig = median(dv) / 0.6745 / math.Sqrt2
		sig = math.Max(sig, 1e-3)
	}
	s2 := sig * sig
	// Design: intercept, t, hinges, 7 weekdays, yearly pairs, holidays.
	var cps []float64
	for d := first + cfg.ChangepointDays; d <= last-14; d += cfg.ChangepointDays {
		cps = append(cps, float64(d-last)/365.25)
	}
	names := map[string]int{}
	for _, d := range days {
		if h := g.holiday[d]; h != "" {
			if _, ok := names[h]; !ok {
				names[h] = len(names)
			}
		}
	}
	ny := 0
	if yearly {
		ny = 2 * cfg.YearlyOrder
	}
	p := 2 + len(cps) + 7 + ny + len(names)
	x := make([]float64, len(days)*p)
	w := make([]float64, len(days))
	for i, d := range days {
		row := x[i*p : (i+1)*p]
		t := float64(d-last) / 365.25
		row[0], row[1] = 1, t
		for k, cp := range cps {
			row[2+k] = math.Max(0, t-cp)
		}
		row[2+len(cps)+int(g.weekday(d))] = 1
		if ny > 0 {
			xx := 2 * math.Pi * yearFrac(civil(g.day0).AddDate(0, 0, d))
			for k := 0; k < ny/2; k++ {
				row[2+len(cps)+7+2*k] = math.Sin(float64(k+1) * xx)
				row[2+len(cps)+7+2*k+1] = math.Cos(float64(k+1) * xx)
			}
		}
		if h := g.holiday[d]; h != "" {
			row[2+len(cps)+7+ny+names[h]] = 1
		}
		w[i] = 1
	}
	pen := make([]float64, p)
	pen[1] = s2 / 4 // slope prior sd 2 log-units per year
	for k := range cps {
		pen[2+k] = s2 / (0.5 * 0.5)
	}
	for k := 0; k < 7; k++ {
		pen[2+len(cps)+k] = s2 / 1
	}
	for k := 0; k < ny; k++ {
		pen[2+len(cps)+7+k] = s2 / (0.1 * 0.1)
	}
	for k := 0; k < len(names); k++ {
		pen[2+len(cps)+7+ny+k] = s2 / (0.5 * 0.5)
	}
	pen[0] = 1e-9
	beta, err := ridge(x, L, w, p, pen)
	if err != nil {
		beta = make([]float64, p) // degenerate: keep weekday means below
	}
	if ny > 0 {
		c.yearly = append([]float64(nil), beta[2+len(cps)+7:2+len(cps)+7+ny]...)
	}
	for h, k := range names {
		c.holiday[h] = beta[2+len(cps)+7+ny+k]
	}
	trendAt := func(i int) float64 {
		row := x[i*p : (i+1)*p]
		v := beta[0] + beta[1]*row[1]
		for k := range cps {
			v += beta[2+k] * row[2+k]
		}
		return v
	}
	// Weekday effects from recent weeks, shrunk toward the regression's.
	var wn, wdn [7]float64
	for i, d := range days {
		wd := g.weekday(d)
		r := L[i] - trendAt(i) - c.yearlyAt(g, d) - c.holiday[g.holiday[d]]
		ww := decay(float64(last-d), 7*cfg.WeekdayHalfLifeWeeks)
		wn[wd] += ww * r
		wdn[wd] += ww
	}
	for wd := 0; wd < 7; wd++ {
		reg := beta[2+len(cps)+wd]
		c.weekday[wd] = (wn[wd] + reg) / (wdn[wd] + 1)
	}
	// Deseasonalised level u and its exponential smoothing; the smoothing's
	// own out-of-sample errors by horizon give the level's error variance.
	u := make([]float64, len(days))
	for i, d := range days {
		u[i] = L[i] - c.weekday[g.weekday(d)] - c.yearlyAt(g, d) - c.holiday[g.holiday[d]]
	}
	hl := 7 * cfg.LevelHalfLifeWeeks
	var num, den float64
	for i, d := range days {
		ww := decay(float64(last-d), hl)
		num += ww * u[i]
		den += ww
	}
	c.local = num / den
	if cfg.Trend != "flat" {
		c.damp = 1
		if cfg.Trend == "damped" {
			c.damp = cfg.TrendDamping
		}
		// Weighted least-squares slope over the recent level.
		var sw, st, su, stt, stu float64
		for i, d := range days {
			ww := decay(float64(last-d), 2*hl)
			t := float64(d - last)
			sw += ww
			st += ww * t
			su += ww * u[i]
			stt += ww * t * t
			stu += ww * t * u[i]
		}
		if v := stt - st*st/sw; v > 0 {
			c.slope = (stu - st*su/sw) / v
			c.local = su/sw - c.slope*st/sw // the line's value at the last day
		}
	}
	c.levelErrors(days, u, hl)
}

// levelErrors measures the smoothed level's forecast error at horizons of
// 1..42 days over rolling origins and fits variance = levA + levB*h.
func (c *component) levelErrors(days []int, u []float64, hl float64) {
	const maxH = 42
	var se [maxH + 1]float64
	var cnt [maxH + 1]float64
	first := days[0]
	byDay := map[int]float64{}
	for i, d := range days {
		byDay[d] = u[i]
	}
	last := days[len(days)-1]
	var num, den float64
	delta := math.Exp2(-1 / hl)
	for o := first; o < last; o++ {
		num *= delta
		den *= delta
		if v, ok := byDay[o]; ok {
			num += v
			den++
		}
		if o-first < 14 || den == 0 {
			continue
		}
		lev := num / den
		for h := 1; h <= maxH && o+h <= last; h++ {
			if v, ok := byDay[o+h]; ok {
				e := v - lev
				se[h] += e * e
				cnt[h]++
			}
		}
	}
	// Fit variance(h) = a + b*h over horizons with enough origins.
	var sw, sh, sv, shh, shv float64
	for h := 1; h <= maxH; h++ {
		if cnt[h] < 5 {
			continue
		}
		v := se[h] / cnt[h]
		wt := cnt[h]
		sw += wt
		sh += wt * float64(h)
		sv += wt * v
		shh += wt * float64(h*h)
		shv += wt * float64(h) * v
	}
	switch {
	case sw == 0:
		c.levA, c.levB = 0.01, 0
	default:
		d := shh - sh*sh/sw
		b := 0.0
		if d > 0 {
			b = (shv - sh*sv/sw) / d
		}
		b = math.Max(b, 0)
		a := sv/sw - b*sh/sw
		if a < 0 {
			a = math.Max(sv/sw*0.5, 1e-6)
		}
		c.levA, c.levB = a, b
	}
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}
