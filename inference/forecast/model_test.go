package forecast

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

func TestFitForecastSynthetic(t *testing.T) {
	sy := defaultSynth()
	s := sy.series()
	cfg := DefaultConfig()
	m, err := Fit(s, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := m.Hours.String(), "mon 08:00-18:00; tue 08:00-18:00; wed 08:00-18:00; thu 08:00-18:00; fri 08:00-18:00; sat 09:00-13:00"; got != want {
		t.Errorf("inferred hours = %q, want %q", got, want)
	}
	f, err := m.Forecast(28)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Points) != 28*48 {
		t.Fatalf("forecast has %d points, want %d", len(f.Points), 28*48)
	}
	want := sy.series // reuse the generator for "future" draws
	_ = want
	// Compare with the known expected volume, and check coverage on a fresh
	// draw of the same weeks.
	future := sy
	future.days = sy.days + 28
	future.seed = 42
	act := future.series().Between(f.Origin, f.Origin.AddDate(0, 0, 28)).Actuals(TargetVolume)
	var ape float64
	var n int
	for _, p := range f.Points {
		r := sy.rate(p.Start)
		if (r > 0) != p.Open {
			t.Fatalf("%s: open %v, expected rate %v", p.Start, p.Open, r)
		}
		if !p.Open {
			if p.Volume != (Estimate{}) {
				t.Fatalf("closed interval %s has volume %+v", p.Start, p.Volume)
			}
			continue
		}
		ape += math.Abs(p.Volume.Mean-r) / r
		n++
		if p.AHT == nil || math.Abs(p.AHT.Value-sy.aht(p.Start))/sy.aht(p.Start) > 0.1 {
			t.Fatalf("%s: AHT %+v, want about %.0f", p.Start, p.AHT, sy.aht(p.Start))
		}
	}
	if mape := 100 * ape / float64(n); mape > 5 {
		t.Errorf("error of the forecast mean vs the true rate: %.2f %%, want < 5 %%", mape)
	}
	acc := Score(f, act, TargetVolume)
	if acc.Coverage80 < 0.7 || acc.Coverage80 > 0.92 || acc.Coverage95 < 0.88 || acc.Coverage95 > 0.995 {
		t.Errorf("coverage 80/95 = %.3f/%.3f, want near nominal", acc.Coverage80, acc.Coverage95)
	}
}

func TestMissingDaysAreNotZero(t *testing.T) {
	sy := defaultSynth()
	full, err := Fit(sy.series(), DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	// A whole week without data just before the origin (an outage).
	sy.skip = map[string]bool{}
	for d := 106; d < 113; d++ {
		sy.skip[sy.start.AddDate(0, 0, d).Format("2006-01-02")] = true
	}
	gap, err := Fit(sy.series(), DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	f1, _ := full.Forecast(7)
	f2, _ := gap.Forecast(7)
	var t1, t2 float64
	for i := range f1.Points {
		t1 += f1.Points[i].Volume.Value
		t2 += f2.Points[i].Volume.Value
	}
	if r := t2 / t1; r < 0.95 || r > 1.05 {
		t.Errorf("a week of missing data changed next week's total by a factor %.3f; missing days must not read as zero", r)
	}
}

func TestHolidays(t *testing.T) {
	sy := defaultSynth()
	sy.days = 800
	sy.holidays = map[string]float64{"2024-03-15": 1.8, "2025-03-14": 1.8}
	s := sy.series()
	cfg := DefaultConfig()
	cfg.Holidays = []Holiday{
		{Date: "2024-03-15", Name: "tax-day"}, {Date: "2025-03-14", Name: "tax-day"},
		{Date: "2026-03-13", Name: "tax-day"}, {Date: "2026-03-16", Name: "closure", Closed: true},
	}
	m, err := Fit(s, cfg)
	if err != nil {
		t.Fatal(err)
	}
	f, err := m.Forecast(120)
	if err != nil {
		t.Fatal(err)
	}
	day := func(date string) (tot float64, open int) {
		for _, p := range f.Points {
			if p.Start.Format("2006-01-02") == date && p.Open {
				tot += p.Volume.Value
				open++
			}
		}
		return
	}
	hol, _ := day("2026-03-13")        // Friday, holiday
	normal, _ := day("2026-03-20")     // the Friday after
	_, openClosed := day("2026-03-16") // Monday, closed
	if r := hol / normal; r < 1.5 || r > 2.1 {
		t.Errorf("holiday / normal Friday = %.2f, want about 1.8", r)
	}
	if openClosed != 0 {
		t.Errorf("closed holiday has %d open intervals", openClosed)
	}
}

func TestFitErrors(t *testing.T) {
	sy := defaultSynth()
	sy.days = 10
	short := sy.series()
	long := defaultSynth().series()
	tests := []struct {
		name string
		s    *Series
		cfg  func(*Config)
		want error
		msg  string
	}{
		{"too short for weekly", short, nil, ErrTooShort, "need at least 14"},
		{"too short for yearly", long, func(c *Config) { c.Yearly = "on" }, ErrTooShort, "yearly seasonality needs 365 days"},
		{"empty", &Series{Queue: "q", Step: 30 * time.Minute}, nil, ErrTooShort, "empty series"},
		{"bad step", &Series{Queue: "q", Step: 7 * time.Minute, Points: long.Points}, nil, ErrBadInput, "step"},
		{"bad hours", long, func(c *Config) { c.Hours = "mon-fri 9-5" }, ErrBadConfig, "hours"},
		{"bad trend", long, func(c *Config) { c.Trend = "cubic" }, ErrBadConfig, "trend"},
		{"bad holiday", long, func(c *Config) { c.Holidays = []Holiday{{Date: "13/03/2026", Name: "x"}} }, ErrBadConfig, "holidays[0]"},
		{"negative count", &Series{Queue: "q", Step: 30 * time.Minute, Points: []Point{{Start: long.Points[0].Start, Offered: -1}}}, nil, ErrBadInput, "offered = -1"},
		{"unaligned", &Series{Queue: "q", Step: 30 * time.Minute, Points: []Point{{Start: long.Points[0].Start.Add(time.Minute)}}}, nil, ErrBadInput, "not aligned"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			if tt.cfg != nil {
				tt.cfg(&cfg)
			}
			_, err := Fit(tt.s, cfg)
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("Fit: err %v, want %v containing %q", err, tt.want, tt.msg)
			}
		})
	}
}

// A 24/7 queue in a zone with daylight saving: no duplicate or missing
// wall-clock intervals beyond the hour the clock skips.
func TestForecastDST(t *testing.T) {
	loc := mustLoc(t, "America/New_York")
	h, _ := ParseHours("sun-sat 00:00-24:00")
	sy := synth{start: time.Date(2025, 1, 20, 0, 0, 0, 0, loc), days: 45, step: time.Hour, hours: h, base: 20, seed: 3}
	m, err := Fit(sy.series(), DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	f, err := m.Forecast(14) // covers 2025-03-09, 23 hours long
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int64]bool{}
	perDay := map[string]int{}
	for _, p := range f.Points {
		if seen[p.Start.Unix()] {
			t.Fatalf("duplicate interval %s", p.Start)
		}
		seen[p.Start.Unix()] = true
		perDay[p.Start.Format("2006-01-02")]++
	}
	if perDay["2025-03-09"] != 23 || perDay["2025-03-08"] != 24 {
		t.Errorf("intervals on the DST day = %d, day before = %d; want 23, 24", perDay["2025-03-09"], perDay["2025-03-08"])
	}
}

func TestLongTermSynthetic(t *testing.T) {
	sy := defaultSynth()
	sy.days = 3 * 365
	sy.yearly = 0.15
	sy.step = time.Hour
	all := sy.series()
	cut := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	lt, err := LongTerm(all.Before(cut), DefaultConfig(), LongTermConfig{Months: 12})
	if err != nil {
		t.Fatal(err)
	}
	if len(lt.Months) != 12 || lt.Months[0].Month != "2026-01" {
		t.Fatalf("months = %d starting %v", len(lt.Months), lt.Months[0].Month)
	}
	truth := map[string]float64{}
	for _, p := range all.Between(cut, cut.AddDate(1, 0, 0)).Points {
		truth[p.Start.Format("2006-01")] += p.Offered
	}
	var in80 int
	for _, m := range lt.Months {
		tv := truth[m.Month]
		if tv == 0 {
			continue // beyond the generated data
		}
		if e := math.Abs(m.Volume.Value-tv) / tv; e > 0.06 {
			t.Errorf("%s: forecast %.0f, actual %.0f (%.1f %%)", m.Month, m.Volume.Value, tv, 100*e)
		}
		if tv >= m.Volume.Lower80 && tv <= m.Volume.Upper80 {
			in80++
		}
		if m.AHT < 200 || m.AHT > 300 || m.FTE.Value <= 0 {
			t.Errorf("%s: AHT %.0f, FTE %.1f", m.Month, m.AHT, m.FTE.Value)
		}
		// FTE = workload / (37.5 h x 52/12 x 0.7 x 0.85).
		want := m.Volume.Mean * m.AHT / 3600 / (37.5 * 52 / 12 * 0.7 * 0.85)
		if math.Abs(m.FTE.Mean-want) > 1e-9 {
			t.Errorf("%s: FTE %.3f, want %.3f", m.Month, m.FTE.Mean, want)
		}
	}
	if in80 < 6 {
		t.Errorf("only %d of 12 months inside the 80 %% interval", in80)
	}
	if _, err := LongTerm(sy.series().Before(sy.start.AddDate(0, 0, 60)), DefaultConfig(), LongTermConfig{Months: 6}); !errors.Is(err, ErrTooShort) {
		t.Errorf("60 days: err %v, want ErrTooShort", err)
	}
}

func BenchmarkFitTwoYears30Min(b *testing.B) {
	h, _ := ParseHours("sun-sat 00:00-24:00")
	sy := synth{start: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), days: 730, step: 30 * time.Minute, hours: h, base: 30, growth: 0.05, yearly: 0.1, seed: 5}
	s := sy.series()
	cfg := DefaultConfig()
	b.ReportMetric(float64(len(s.Points)), "intervals")
	for b.Loop() {
		if _, err := Fit(s, cfg); err != nil {
			b.Fatal(err)
		}
	}
}

func TestWriteForecastCSV(t *testing.T) {
	m, err := Fit(defaultSynth().series(), DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	f, _ := m.Forecast(2)
	var b strings.Builder
	if err := WriteForecastCSV(&b, f); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 1+2*48 {
		t.Fatalf("%d lines, want %d", len(lines), 1+2*48)
	}
	open := 0
	for _, l := range lines[1:] {
		f := strings.Split(l, ",")
		if len(f) != 16 {
			t.Fatalf("row %q has %d fields", l, len(f))
		}
		if f[2] == "true" {
			open++
			if f[3] == "" || f[9] == "" {
				t.Fatalf("open row without values: %q", l)
			}
		}
	}
	if open != 40 { // two weekdays of 08:00-18:00
		t.Errorf("%d open rows, want 40", open)
	}
}

// An intraday refresh: history up to 12:00 today. Today is forecast whole
// and its missing afternoon does not pull the level down.
func TestPartialLastDay(t *testing.T) {
	sy := defaultSynth()
	full := sy.series()
	m0, err := Fit(full, DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	f0, _ := m0.Forecast(7)
	// Cut at noon of the day after the last one (a Tuesday, open 08-18).
	next := sy
	next.days++
	s := next.series()
	cut := f0.Origin.Add(12 * time.Hour)
	s = s.Before(cut)
	m, err := Fit(s, DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	f, _ := m.Forecast(7)
	if !f.Origin.Equal(f0.Origin) {
		t.Fatalf("origin %s, want the partial day %s", f.Origin, f0.Origin)
	}
	var a, b float64
	for i := range f.Points {
		a += f0.Points[i].Volume.Value
		b += f.Points[i].Volume.Value
	}
	if r := b / a; r < 0.97 || r > 1.03 {
		t.Errorf("partial day moved the week's forecast by a factor %.3f", r)
	}
}

// TestLongTermWithoutAHT: a history without AHT gives no FTE of 0; it
// asks for default_aht, and with it the FTE follows from that AHT.
func TestLongTermWithoutAHT(t *testing.T) {
	sy := defaultSynth()
	sy.days = 120
	sy.step = time.Hour
	s := sy.series()
	for i := range s.Points {
		s.Points[i].AHT = 0
	}
	_, err := LongTerm(s, DefaultConfig(), LongTermConfig{Months: 3})
	if !errors.Is(err, ErrNoAHT) || !strings.Contains(err.Error(), "default_aht") {
		t.Fatalf("no AHT: err %v, want ErrNoAHT naming default_aht", err)
	}
	lt, err := LongTerm(s, DefaultConfig(), LongTermConfig{Months: 3, DefaultAHT: 240})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range lt.Months {
		if m.AHT != 240 || !(m.FTE.Mean > 0) {
			t.Errorf("%s: AHT %v, FTE %v; want 240 and a positive FTE", m.Month, m.AHT, m.FTE.Mean)
		}
	}
}
