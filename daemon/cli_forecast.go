package daemon

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/url"
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
// tools run offline on an ACD export, with the same settings (flag names =
// the API's query parameters) as /api/v1/queues/{queue}/forecast.
func cmdForecast(args []string) error {
	return runForecastCLI(args, os.Stdin, os.Stdout, os.Stderr)
}

const forecastUsage = `earshot forecast SUB [flags] HISTORY.csv   (HISTORY "-" reads standard input)
  run       forecast every interval of the next -days days (-format csv|json|svg, -o FILE)
  staff     staffing plan per interval (Erlang C; -patience selects Erlang A)
  backtest  rolling-origin backtest: MAPE, WAPE and interval coverage per horizon
  longterm  monthly totals and FTE for the next -months months
  erlang    one interval, no history: -contacts -aht -interval [-agents]`

func runForecastCLI(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageErr("%s", forecastUsage)
	}
	sub := args[0]
	fs := flag.NewFlagSet("forecast "+sub, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	str := map[string]*string{}
	def := func(name, value, usage string) { str[name] = fs.String(name, value, usage) }
	switch sub {
	case "run", "staff", "backtest", "longterm":
		def("queue", "", "queue ID (default: the CSV's only queue)")
		def("step", "30m", "interval length: 15m, 30m or 1h")
		def("tz", "UTC", "IANA time zone of the site")
		def("aggregate", "false", "sum finer rows into -step")
		def("hours", "", "opening hours, e.g. 'mon-fri 08:00-18:00; sat 09:00-13:00' (default: inferred)")
		def("holidays", "", "DATE:NAME[:closed],...")
		def("yearly", "auto", "yearly seasonality: auto, on or off")
		def("trend", "", "short-term: flat, damped or linear; long-term: linear or flat")
		def("format", "table", "output: table, csv, json or svg (run: csv by default)")
		def("o", "", "write the output to this file instead of standard output")
	case "erlang":
	default:
		return usageErr("unknown forecast command %q\n%s", sub, forecastUsage)
	}
	switch sub {
	case "run", "staff":
		def("days", "28", "days to forecast")
		def("tune", "false", "choose the model settings by backtest first (12 candidates x 4 origins)")
		def("axis", "compact", "svg time axis: compact (open intervals side by side) or time")
	}
	switch sub {
	case "staff", "erlang":
		def("sl", "0.8", "service level target")
		def("within", "20s", "answer-within threshold")
		def("asa", "", "maximum average speed of answer, e.g. 30s")
		def("max_occupancy", "0.85", "maximum occupancy")
		def("shrinkage", "0.3", "share of paid time off contacts")
		def("patience", "", "mean customer patience (selects Erlang A), e.g. 90s; staff: auto = estimated from the history")
		def("min_agents", "0", "minimum agents per open interval")
	}
	switch sub {
	case "staff":
		def("default_aht", "", "AHT when the history has none, e.g. 240s")
		def("quantile", "mean", "volume planned for: mean, upper80 or upper95")
	case "backtest":
		def("origins", "8", "forecast origins")
		def("horizon_days", "28", "days forecast from each origin")
		def("step_days", "7", "days between origins")
	case "longterm":
		def("months", "12", "months to forecast")
		def("hours_per_week", "37.5", "paid hours of one FTE")
		def("shrinkage", "0.3", "share of paid time off contacts")
		def("occupancy", "0.85", "planned occupancy")
		def("default_aht", "", "AHT when the history has none, e.g. 240s")
	case "erlang":
		def("contacts", "", "contacts offered in the interval")
		def("aht", "", "average handle time, e.g. 180s")
		def("interval", "30m", "interval length")
		def("agents", "", "evaluate this many agents instead of searching")
	}
	if err := fs.Parse(args[1:]); err != nil {
		var b strings.Builder
		fs.SetOutput(&b)
		fs.PrintDefaults()
		return usageErr("earshot forecast %s: %v\n%s", sub, err, b.String())
	}
	q := url.Values{}
	for name, p := range str {
		if *p != "" && name != "o" && name != "format" {
			q.Set(name, *p)
		}
	}
	format := ""
	if p := str["format"]; p != nil {
		format = *p
		switch format {
		case "table", "csv", "json", "svg":
		default:
			return usageErr("-format: must be table, csv, json or svg")
		}
	}
	if sub == "erlang" {
		return cliErlang(q, stdout)
	}
	if fs.NArg() != 1 {
		return usageErr("earshot forecast %s [flags] HISTORY.csv", sub)
	}
	out := stdout
	if *str["o"] != "" {
		f, err := os.Create(*str["o"])
		if err != nil {
			return err
		}
		defer f.Close()
		out = f
	}
	// Read the history: the CSV's queue column, else -queue.
	var in io.Reader = stdin
	if name := fs.Arg(0); name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
	}
	queue := q.Get("queue")
	fp, err := parseForecastParams(orDefault(queue, "default"), q)
	if err != nil {
		return usageErr("-%v", err)
	}
	set, rep, err := forecast.ReadCSV(in, fp.imp)
	if err != nil {
		return err
	}
	var s *forecast.Series
	switch {
	case queue != "":
		if s = set[queue]; s == nil {
			return fmt.Errorf("forecast: %s has no rows for queue %q", fs.Arg(0), queue)
		}
	case len(set) == 1:
		for _, v := range set {
			s = v
		}
	default:
		var names []string
		for k := range set {
			names = append(names, k)
		}
		sort.Strings(names)
		return usageErr("the CSV holds %d queues (%s): choose one with -queue", len(set), strings.Join(names, ", "))
	}
	fmt.Fprintf(stderr, "read %d rows: %d intervals of queue %s\n", rep.Rows, len(s.Points), s.Queue)
	if fp.tune {
		cfg, res, err := forecast.Tune(s, fp.cfg, forecast.BacktestConfig{})
		if err != nil {
			return err
		}
		fp.cfg = cfg
		fmt.Fprintf(stderr, "tuned: profile half-life %gw, level half-life %gw, trend %s (backtest MAPE %.2f %%)\n",
			res[0].ProfileHalfLifeWeeks, res[0].LevelHalfLifeWeeks, res[0].Trend, res[0].Volume.MAPE)
	}
	switch sub {
	case "run":
		m, err := forecast.Fit(s, fp.cfg)
		if err != nil {
			return err
		}
		f, err := m.Forecast(fp.days)
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "model %s fitted in %v\n", m.Version, m.FitDuration.Round(time.Microsecond))
		switch format {
		case "json":
			return writeJSONTo(out, f)
		case "svg":
			return chart.SVG(out, s, f, chart.Options{Title: "Queue " + s.Queue, Hours: m.Hours, Compact: *str["axis"] != "time"})
		default:
			return forecast.WriteForecastCSV(out, f)
		}
	case "staff":
		t, opt, err := staffingTarget(q)
		if err != nil {
			return usageErr("-%v", err)
		}
		m, err := forecast.Fit(s, fp.cfg)
		if err != nil {
			return err
		}
		f, err := m.Forecast(fp.days)
		if err != nil {
			return err
		}
		if err := resolvePatience(q, &t, s); err != nil {
			return err
		}
		if q.Get("patience") == "auto" {
			fmt.Fprintf(stderr, "patience estimated from the last 90 days: %v\n", t.Patience.Round(time.Second))
		}
		plan, err := forecast.Staff(f, t, opt)
		if err != nil {
			return err
		}
		if format == "json" {
			return writeJSONTo(out, plan)
		}
		return staffTable(out, plan, f.Step)
	case "backtest":
		bt, err := backtestParams(q)
		if err != nil {
			return usageErr("-%v", err)
		}
		res, err := forecast.Backtest(s, fp.cfg, bt)
		if err != nil {
			return err
		}
		if format == "json" {
			return writeJSONTo(out, res)
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
	case "longterm":
		lt, err := longTermParams(q)
		if err != nil {
			return usageErr("-%v", err)
		}
		res, err := forecast.LongTerm(s, fp.cfg, lt)
		if err != nil {
			return err
		}
		if format == "json" {
			return writeJSONTo(out, res)
		}
		tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "month\topen days\tvolume\t80 % interval\t95 % interval\tAHT s\tFTE\tFTE 80 %\t")
		for _, m := range res.Months {
			v, f := m.Volume, m.FTE
			fmt.Fprintf(tw, "%s\t%d\t%.0f\t%.0f-%.0f\t%.0f-%.0f\t%.0f\t%.1f\t%.1f-%.1f\t\n", m.Month, m.OpenDays, v.Value, v.Lower80, v.Upper80, v.Lower95, v.Upper95, m.AHT, f.Mean, f.Lower80, f.Upper80)
		}
		return tw.Flush()
	}
	return nil
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

func writeJSONTo(w io.Writer, v any) error {
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

func cliErlang(q url.Values, w io.Writer) error {
	contacts, err := getFloat(q, "contacts", -1)
	if err != nil || contacts < 0 {
		return usageErr("earshot forecast erlang -contacts N -aht 180s [-interval 30m] [-sl 0.8 -within 20s] [-agents N]")
	}
	in := erlang.Interval{Contacts: contacts}
	if in.AHT, err = getDuration(q, "aht", 0); err != nil {
		return usageErr("-%v", err)
	}
	if in.Length, err = getDuration(q, "interval", 30*time.Minute); err != nil {
		return usageErr("-%v", err)
	}
	t, _, err := staffingTarget(q)
	if err != nil {
		return usageErr("-%v", err)
	}
	var r erlang.Result
	if q.Get("agents") != "" {
		n, err := getInt(q, "agents", 0)
		if err != nil {
			return usageErr("-%v", err)
		}
		r, err = erlang.Evaluate(n, in, t)
		if err != nil {
			return err
		}
	} else if r, err = erlang.Staff(in, t); err != nil {
		return err
	}
	asa := fmt.Sprintf("%.1f s", r.ASA)
	if !r.Stable {
		asa = "unbounded (traffic >= agents)"
	}
	fmt.Fprintf(w, "%s: traffic %.2f Erlangs, %d agents (%d scheduled with %.0f %% shrinkage): service level %.3f, ASA %s, occupancy %.3f, P(wait) %.3f",
		r.Model, r.Traffic, r.Agents, r.Scheduled, 100*t.Shrinkage, r.ServiceLevel, asa, r.Occupancy, r.PWait)
	if r.Model == "erlang-a" {
		fmt.Fprintf(w, ", abandon %.3f", r.Abandon)
	}
	fmt.Fprintln(w)
	return nil
}
