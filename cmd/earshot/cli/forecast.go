package cli

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/earshot/earshot/inference/forecast"
	"github.com/earshot/earshot/inference/forecast/chart"
	"github.com/earshot/earshot/inference/forecast/erlang"
)

// cmdForecast is `earshot forecast SUB [flags] HISTORY.csv`: the workforce
// tools run offline on an ACD export, with the settings of
// /api/v1/queues/{queue}/forecast (flag names = the API's query
// parameters), parsed straight into the forecast package's types.
func cmdForecast(stdio IO, args []string) error {
	return runForecast(args, stdio.In, stdio.Out, stdio.Err)
}

const forecastUsage = `usage: earshot forecast SUB [flags] HISTORY.csv   (HISTORY "-" reads standard input)

  run       forecast every interval of the next -days days (-format csv|json|svg, -o FILE)
  staff     staffing plan per interval (Erlang C; -patience selects Erlang A)
  backtest  rolling-origin backtest: MAPE, WAPE and interval coverage per horizon
  longterm  monthly totals and FTE for the next -months months
  erlang    one interval, no history: -contacts -aht -interval [-agents]

Run 'earshot forecast SUB -h' for a subcommand's flags.`

// forecastRun is one parsed `earshot forecast SUB` command line.
type forecastRun struct {
	sub    string
	fs     *flag.FlagSet
	queue  string
	imp    forecast.ImportOptions
	cfg    forecast.Config
	days   int
	tune   bool
	axis   string
	format string
	out    string

	target   erlang.Target
	autoWait bool // -patience auto
	staffing forecast.StaffingOptions
	bt       forecast.BacktestConfig
	lt       forecast.LongTermConfig

	// erlang
	contacts float64
	interval erlang.Interval
	agents   int
}

// boolValue is a flag that takes true or false as its argument, as the
// API's query parameter of the same name does (-tune true).
func boolValue(dst *bool) func(string) error {
	return func(s string) error {
		switch s {
		case "true":
			*dst = true
		case "false":
			*dst = false
		default:
			return errors.New("must be true or false")
		}
		return nil
	}
}

// newForecastRun declares the flags of sub.
func newForecastRun(sub string) (*forecastRun, error) {
	r := &forecastRun{sub: sub, fs: flag.NewFlagSet("forecast "+sub, flag.ContinueOnError)}
	fs := r.fs
	fs.SetOutput(io.Discard)
	history := sub == "run" || sub == "staff" || sub == "backtest" || sub == "longterm"
	if !history && sub != "erlang" {
		return nil, usageErr("unknown forecast command %q\n%s", sub, forecastUsage)
	}
	r.cfg = forecast.DefaultConfig()
	if history {
		r.imp = forecast.ImportOptions{Step: 30 * time.Minute, Location: time.UTC}
		fs.StringVar(&r.queue, "queue", "", "queue ID (default: the CSV's only queue)")
		fs.DurationVar(&r.imp.Step, "step", r.imp.Step, "interval length: 15m, 30m or 1h")
		fs.Func("tz", "IANA `zone` of the site, e.g. Europe/Berlin (default UTC)", func(s string) error {
			loc, err := time.LoadLocation(s)
			if err != nil {
				return fmt.Errorf("unknown time zone %q", s)
			}
			r.imp.Location = loc
			return nil
		})
		fs.Func("aggregate", "`mode` for rows finer than -step: auto sums them into their interval and says so, true also sums repeated timestamps, false refuses them (default auto)", func(s string) (err error) {
			r.imp.Aggregate, err = forecast.ParseAggregation(s)
			return err
		})
		fs.StringVar(&r.cfg.Hours, "hours", "", "opening hours, e.g. 'mon-fri 08:00-18:00; sat 09:00-13:00' (default: inferred)")
		fs.Func("holidays", "site calendar: `DATE:NAME[:closed],...`", func(s string) (err error) {
			r.cfg.Holidays, err = forecast.ParseHolidays(s)
			return err
		})
		fs.StringVar(&r.cfg.Yearly, "yearly", r.cfg.Yearly, "yearly seasonality: auto, on or off")
		fs.Func("trend", "`trend`: short-term flat, damped or linear; long-term linear or flat", func(s string) error {
			r.cfg.Trend, r.lt.Trend = s, s
			return nil
		})
		formats := "table or json"
		r.format = "table"
		if sub == "run" {
			formats, r.format = "csv, json or svg", "csv"
		}
		fs.StringVar(&r.format, "format", r.format, "output: "+formats)
		fs.StringVar(&r.out, "o", "", "write the output to this file instead of standard output")
	}
	switch sub {
	case "run", "staff":
		fs.IntVar(&r.days, "days", 28, "days to forecast")
		fs.Func("tune", "`true` to choose the model settings by backtest first (12 candidates x 4 origins)", boolValue(&r.tune))
		fs.StringVar(&r.axis, "axis", "compact", "svg time axis: compact (open intervals side by side) or time")
	}
	if sub == "staff" || sub == "erlang" {
		fs.Float64Var(&r.target.ServiceLevel, "sl", 0.8, "service level target")
		fs.DurationVar(&r.target.AnswerWithin, "within", 20*time.Second, "answer-within threshold")
		fs.DurationVar(&r.target.ASA, "asa", 0, "maximum average speed of answer, e.g. 30s")
		fs.Float64Var(&r.target.MaxOccupancy, "max_occupancy", 0.85, "maximum occupancy")
		fs.Float64Var(&r.target.Shrinkage, "shrinkage", 0.3, "share of paid time off contacts")
		patience := "mean customer `patience` (selects Erlang A), e.g. 90s"
		if sub == "staff" {
			patience += "; auto = estimated from the history"
		}
		fs.Func("patience", patience, func(s string) error {
			if s == "auto" && sub == "staff" {
				r.autoWait = true
				return nil
			}
			d, err := time.ParseDuration(s)
			r.target.Patience = d
			return err
		})
		fs.IntVar(&r.target.MinAgents, "min_agents", 0, "minimum agents per open interval")
	}
	switch sub {
	case "staff":
		fs.DurationVar(&r.staffing.DefaultAHT, "default_aht", 0, "AHT when the history has none, e.g. 240s")
		fs.StringVar(&r.staffing.Quantile, "quantile", "mean", "volume planned for: mean, upper80 or upper95")
	case "backtest":
		fs.IntVar(&r.bt.Origins, "origins", 8, fmt.Sprintf("forecast origins (1..%d)", forecast.MaxOrigins))
		fs.IntVar(&r.bt.HorizonDays, "horizon_days", 28, "days forecast from each origin")
		fs.IntVar(&r.bt.StepDays, "step_days", 7, "days between origins")
	case "longterm":
		fs.IntVar(&r.lt.Months, "months", 12, "months to forecast")
		fs.Float64Var(&r.lt.FTE.HoursPerWeek, "hours_per_week", 37.5, "paid hours of one FTE")
		fs.Float64Var(&r.lt.FTE.Shrinkage, "shrinkage", 0.3, "share of paid time off contacts")
		fs.Float64Var(&r.lt.FTE.Occupancy, "occupancy", 0.85, "planned occupancy")
		fs.Func("default_aht", "`AHT` when the history has none, e.g. 240s", func(s string) error {
			d, err := time.ParseDuration(s)
			r.lt.DefaultAHT = d.Seconds()
			return err
		})
	case "erlang":
		fs.Float64Var(&r.contacts, "contacts", -1, "contacts offered in the interval (required)")
		fs.DurationVar(&r.interval.AHT, "aht", 0, "average handle time, e.g. 180s (required)")
		fs.DurationVar(&r.interval.Length, "interval", 30*time.Minute, "interval length")
		fs.IntVar(&r.agents, "agents", 0, "evaluate this many agents instead of searching")
	}
	return r, nil
}

// given reports whether the flag was on the command line.
func (r *forecastRun) given(name string) bool {
	found := false
	r.fs.Visit(func(f *flag.Flag) { found = found || f.Name == name })
	return found
}

// check validates what the flags' types do not.
func (r *forecastRun) check() error {
	if r.fs.Lookup("step") != nil && !forecast.ValidStep(r.imp.Step) {
		return usageErr("-step: must be 15m, 30m or 1h")
	}
	if r.fs.Lookup("format") != nil {
		ok := r.format == "json"
		if r.sub == "run" {
			ok = ok || r.format == "csv" || r.format == "svg"
		} else {
			ok = ok || r.format == "table"
		}
		if !ok {
			return usageErr("-format %q: forecast %s writes %s", r.format, r.sub, map[bool]string{true: "csv, json or svg", false: "table or json"}[r.sub == "run"])
		}
	}
	if r.fs.Lookup("sl") != nil {
		if err := r.target.Validate(); err != nil {
			return usageErr("%v", err)
		}
	}
	if err := r.cfg.Validate(); err != nil {
		return usageErr("%v", err)
	}
	return nil
}

func runForecast(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageErr("%s", forecastUsage)
	}
	if isHelp(args) {
		fmt.Fprintln(stdout, forecastUsage)
		return flag.ErrHelp
	}
	r, err := newForecastRun(args[0])
	if err != nil {
		return err
	}
	if err := r.fs.Parse(args[1:]); err != nil {
		var b strings.Builder
		r.fs.SetOutput(&b)
		r.fs.PrintDefaults()
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(stdout, "usage: earshot forecast %s [flags]%s\n\nflags:\n%s", r.sub, map[bool]string{true: " HISTORY.csv"}[r.sub != "erlang"], b.String())
			return err
		}
		return usageErr("earshot forecast %s: %v\n%s", r.sub, err, b.String())
	}
	if err := r.check(); err != nil {
		return err
	}
	if r.sub == "erlang" {
		return r.erlang(stdout)
	}
	if r.fs.NArg() != 1 {
		return usageErr("earshot forecast %s [flags] HISTORY.csv", r.sub)
	}
	out := stdout
	if r.out != "" {
		f, err := os.Create(r.out)
		if err != nil {
			return err
		}
		defer f.Close()
		out = f
	}
	s, err := r.history(stdin, stderr)
	if err != nil {
		return err
	}
	if r.tune {
		cfg, res, err := forecast.Tune(s, r.cfg, forecast.BacktestConfig{})
		if err != nil {
			return err
		}
		r.cfg = cfg
		fmt.Fprintf(stderr, "tuned: profile half-life %gw, level half-life %gw, trend %s (backtest MAPE %.2f %%)\n",
			res[0].ProfileHalfLifeWeeks, res[0].LevelHalfLifeWeeks, res[0].Trend, res[0].Volume.MAPE)
	}
	switch r.sub {
	case "run":
		return r.run(s, out, stderr)
	case "staff":
		return r.staff(s, out, stderr)
	case "backtest":
		return r.backtest(s, out)
	default:
		return r.longTerm(s, out)
	}
}

// history reads the CSV named on the command line and picks the queue:
// -queue, else the CSV's only one.
func (r *forecastRun) history(stdin io.Reader, stderr io.Writer) (*forecast.Series, error) {
	in, name := stdin, r.fs.Arg(0)
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		in = f
	}
	r.imp.Queue = r.queue
	if r.imp.Queue == "" {
		r.imp.Queue = "default" // for a CSV without a queue column
	}
	set, rep, err := forecast.ReadCSV(in, r.imp)
	if err != nil {
		return nil, err
	}
	var s *forecast.Series
	switch {
	case r.queue != "":
		if s = set[r.queue]; s == nil {
			return nil, fmt.Errorf("forecast: %s has no rows for queue %q", name, r.queue)
		}
	case len(set) == 1:
		for _, v := range set {
			s = v
		}
	default:
		names := make([]string, 0, len(set))
		for k := range set {
			names = append(names, k)
		}
		sort.Strings(names)
		return nil, usageErr("the CSV holds %d queues (%s): choose one with -queue", len(set), strings.Join(names, ", "))
	}
	fmt.Fprintf(stderr, "read %d rows: %d intervals of queue %s\n", rep.Rows, len(s.Points), s.Queue)
	if rep.Summed > 0 {
		fmt.Fprintf(stderr, "the history is finer than -step %s: %d rows were summed into the intervals they fall in (-aggregate false refuses this)\n", shortDuration(r.imp.Step), rep.Summed)
	}
	return s, nil
}

func (r *forecastRun) fit(s *forecast.Series, stderr io.Writer) (*forecast.Model, *forecast.Forecast, error) {
	m, err := forecast.Fit(s, r.cfg)
	if err != nil {
		return nil, nil, err
	}
	f, err := m.Forecast(r.days)
	if err != nil {
		return nil, nil, err
	}
	fmt.Fprintf(stderr, "model %s fitted in %v\n", m.Version, m.FitDuration.Round(time.Microsecond))
	return m, f, nil
}

func (r *forecastRun) run(s *forecast.Series, out, stderr io.Writer) error {
	m, f, err := r.fit(s, stderr)
	if err != nil {
		return err
	}
	switch r.format {
	case "json":
		return writeJSON(out, f)
	case "svg":
		return chart.SVG(out, s, f, chart.Options{Title: "Queue " + s.Queue, Hours: m.Hours, Compact: r.axis != "time"})
	default:
		return forecast.WriteForecastCSV(out, f)
	}
}

func (r *forecastRun) staff(s *forecast.Series, out, stderr io.Writer) error {
	_, f, err := r.fit(s, stderr)
	if err != nil {
		return err
	}
	if r.autoWait {
		if r.target.Patience, err = s.RecentPatience(90); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "patience estimated from the last 90 days: %v\n", r.target.Patience.Round(time.Second))
	}
	plan, err := forecast.Staff(f, r.target, r.staffing)
	if err != nil {
		return err
	}
	if r.format == "json" {
		return writeJSON(out, plan)
	}
	return staffTable(out, plan, f.Step)
}

func (r *forecastRun) backtest(s *forecast.Series, out io.Writer) error {
	res, err := forecast.Backtest(s, r.cfg, r.bt)
	if err != nil {
		return err
	}
	if r.format == "json" {
		return writeJSON(out, res)
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(out, "queue %s, model %s, %d origins x %d days, mean fit %v\n", res.Queue, res.ModelVersion, len(res.Origins), res.HorizonDays, res.MeanFit.Round(time.Microsecond))
	fmt.Fprintln(tw, "days ahead\tintervals\tMAPE %\tWAPE %\tcover 80\tcover 95\tAHT MAPE %\tlast-week MAPE %\t")
	for _, h := range append(res.ByWeek, res.Overall) {
		v := h.Volume
		aht := "-"
		if h.AHT.N > 0 {
			aht = fmt.Sprintf("%.2f", h.AHT.MAPE)
		}
		fmt.Fprintf(tw, "%d-%d\t%d\t%.2f\t%.2f\t%.3f\t%.3f\t%s\t%.2f\t\n", h.From, h.To, v.N, v.MAPE, v.WAPE, v.Coverage80, v.Coverage95, aht, h.Baseline.MAPE)
	}
	return tw.Flush()
}

func (r *forecastRun) longTerm(s *forecast.Series, out io.Writer) error {
	res, err := forecast.LongTerm(s, r.cfg, r.lt)
	if err != nil {
		return err
	}
	if r.format == "json" {
		return writeJSON(out, res)
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "month\topen days\tvolume\t80 % interval\t95 % interval\tAHT s\tFTE\tFTE 80 %\t")
	for _, m := range res.Months {
		v, f := m.Volume, m.FTE
		fmt.Fprintf(tw, "%s\t%d\t%.0f\t%.0f-%.0f\t%.0f-%.0f\t%.0f\t%.1f\t%.1f-%.1f\t\n", m.Month, m.OpenDays, v.Value, v.Lower80, v.Upper80, v.Lower95, v.Upper95, m.AHT, f.Mean, f.Lower80, f.Upper80)
	}
	return tw.Flush()
}

// shortDuration writes 30m for 30m0s and 1h for 1h0m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// staffTable prints one line per day: contacts, agent hours, peak agents.
func staffTable(w io.Writer, plan *forecast.StaffingPlan, step time.Duration) error {
	type day struct {
		contacts, hours, sched float64
		peak, peakSched        int
		minSL                  float64
	}
	var keys []string
	days := map[string]*day{}
	for _, p := range plan.Points {
		if !p.Open {
			continue
		}
		k := p.Start.Format("Mon 2006-01-02")
		dd := days[k]
		if dd == nil {
			dd = &day{minSL: 1}
			days[k] = dd
			keys = append(keys, k)
		}
		dd.contacts += p.Contacts
		dd.hours += float64(p.Result.Agents) * step.Hours()
		dd.sched += float64(p.Result.Scheduled) * step.Hours()
		dd.peak = max(dd.peak, p.Result.Agents)
		dd.peakSched = max(dd.peakSched, p.Result.Scheduled)
		if p.Contacts > 0 {
			dd.minSL = min(dd.minSL, p.Result.ServiceLevel)
		}
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(w, "queue %s: target %.0f %% in %v, shrinkage %.0f %%\n", plan.Queue, 100*plan.Target.ServiceLevel, plan.Target.AnswerWithin, 100*plan.Target.Shrinkage)
	fmt.Fprintln(tw, "day\tcontacts\tagent hours\tscheduled hours\tpeak agents\tpeak scheduled\tlowest SL\t")
	for _, k := range keys {
		dd := days[k]
		fmt.Fprintf(tw, "%s\t%.0f\t%.1f\t%.1f\t%d\t%d\t%.3f\t\n", k, dd.contacts, dd.hours, dd.sched, dd.peak, dd.peakSched, dd.minSL)
	}
	fmt.Fprintf(tw, "total\t\t%.1f\t%.1f\t%d\t\t\t\n", plan.AgentHours, plan.ScheduledHours, plan.PeakAgents)
	return tw.Flush()
}

// erlang answers one interval, no history.
func (r *forecastRun) erlang(w io.Writer) error {
	if r.contacts < 0 || !r.given("aht") {
		return usageErr("earshot forecast erlang -contacts N -aht 180s [-interval 30m] [-sl 0.8 -within 20s] [-agents N]")
	}
	r.interval.Contacts = r.contacts
	var res erlang.Result
	var err error
	if r.given("agents") {
		res, err = erlang.Evaluate(r.agents, r.interval, r.target)
	} else {
		res, err = erlang.Staff(r.interval, r.target)
	}
	if err != nil {
		return err
	}
	asa := fmt.Sprintf("%.1f s", res.ASA)
	if !res.Stable {
		asa = "unbounded (traffic >= agents)"
	}
	fmt.Fprintf(w, "%s: traffic %.2f Erlangs, %d agents (%d scheduled with %.0f %% shrinkage): service level %.3f, ASA %s, occupancy %.3f, P(wait) %.3f",
		res.Model, res.Traffic, res.Agents, res.Scheduled, 100*r.target.Shrinkage, res.ServiceLevel, asa, res.Occupancy, res.PWait)
	if res.Model == "erlang-a" {
		fmt.Fprintf(w, ", abandon %.3f", res.Abandon)
	}
	fmt.Fprintln(w)
	return nil
}
