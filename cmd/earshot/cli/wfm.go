package cli

import (
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/earshot/earshot/daemon/api"
	"github.com/earshot/earshot/inference/wfm"
)

// wfmCommand is `earshot wfm ACTION`: rosters, rules and schedules through
// the API (/api/v1/wfm). Rosters and rules are read and checked here first,
// so a bad CSV row or rules field is named before anything is sent.
func wfmCommand(env Env) *group {
	return &group{name: "wfm", env: env,
		summary: "Workforce management through the API: rosters (CSV), rules (JSON), schedules made from the queues' stored forecasts, intraday adjustments.",
		actions: []action{
			{name: "roster-import", args: "ID FILE.csv", nargs: 2, summary: "store a roster from CSV (columns: id,name,skills,hours_per_week,shifts,available_days,available_from,available_to,preferred_days,preferred_from,preferred_to)", setup: func(fs *flag.FlagSet) func(*call) error {
				return func(c *call) error {
					ros, err := readFileWith(c, c.args[1], wfm.ReadRosterCSV)
					if err != nil {
						return err
					}
					var rec api.WFMRecord
					if err := apiCall(c, "PUT", "/api/v1/wfm/rosters/"+url.PathEscape(c.args[0]), ros, &rec); err != nil {
						return err
					}
					fmt.Fprintf(c.Out, "stored roster %s: %s agents, queues %s\n", rec.ID, rec.Summary["agents"], strings.Join(rec.Queues, ","))
					return nil
				}
			}},
			{name: "roster-export", args: "ID", nargs: 1, summary: "print a roster as CSV (the read is audited)", setup: func(fs *flag.FlagSet) func(*call) error {
				out := fs.String("o", "", "write to this file instead of standard output")
				return func(c *call) error {
					return wfmStream(c, "/api/v1/wfm/rosters/"+url.PathEscape(c.args[0])+"?format=csv", *out)
				}
			}},
			{name: "rosters", summary: "list the rosters of your queues", setup: func(fs *flag.FlagSet) func(*call) error {
				return func(c *call) error { return wfmList(c, "/api/v1/wfm/rosters", "agents") }
			}},
			{name: "rules-put", args: "ID FILE.json", nargs: 2, summary: "store scheduling rules (JSON; fields left out keep their defaults)", setup: func(fs *flag.FlagSet) func(*call) error {
				return func(c *call) error {
					rules, err := readFileWith(c, c.args[1], wfm.ReadRules)
					if err != nil {
						return err
					}
					if err := apiCall(c, "PUT", "/api/v1/wfm/rules/"+url.PathEscape(c.args[0]), rules, nil); err != nil {
						return err
					}
					fmt.Fprintf(c.Out, "stored rules %s: %d shift templates\n", c.args[0], len(rules.Shifts))
					return nil
				}
			}},
			{name: "schedule", args: "ROSTER", nargs: 1, summary: "make and store a schedule of a roster from its queues' latest stored forecasts", setup: func(fs *flag.FlagSet) func(*call) error {
				var req api.WFMScheduleRequest
				fs.StringVar(&req.ID, "id", "", "schedule ID (default: generated)")
				fs.StringVar(&req.Rules, "rules", "", "stored rules ID (default: the built-in rules)")
				queues := fs.String("queues", "", "comma-separated queues to plan (default: the roster's)")
				fs.StringVar(&req.Start, "start", "", "first day, YYYY-MM-DD (required)")
				fs.StringVar(&req.Zone, "tz", "", "IANA time zone of the site (default UTC)")
				fs.IntVar(&req.Days, "days", 28, "days: 7, 14, 21 or 28")
				fs.StringVar(&req.Step, "step", "", "interval: 15m or 30m (default: the forecast's)")
				fs.Float64Var(&req.ServiceLevel, "sl", 0.8, "service level target")
				fs.StringVar(&req.AnswerWithin, "within", "20s", "answer-within threshold")
				shrink := fs.Float64("shrinkage", 0.3, "share of paid time off contacts")
				fs.Float64Var(&req.MaxOccupancy, "max_occupancy", 0.85, "maximum occupancy")
				fs.StringVar(&req.DefaultAHT, "default_aht", "", "handle time where the forecast has none, e.g. 180s")
				fs.StringVar(&req.After, "after", "", "an earlier schedule this one follows (rest and days in a row carry across)")
				fs.Uint64Var(&req.Seed, "seed", 1, "optimiser seed")
				fs.StringVar(&req.TimeBudget, "budget", "30s", "optimiser time budget (at most 5m)")
				return func(c *call) error {
					if req.Start == "" {
						return usageErr("wfm schedule: -start YYYY-MM-DD is required")
					}
					req.Roster, req.Shrinkage = c.args[0], shrink
					if *queues != "" {
						req.Queues = splitList(*queues)
					}
					var doc struct {
						ID       string        `json:"id"`
						Schedule *wfm.Schedule `json:"schedule"`
					}
					if err := apiCall(c, "POST", "/api/v1/wfm/schedules", req, &doc); err != nil {
						return err
					}
					s := doc.Schedule
					fmt.Fprintf(c.Out, "created schedule %s: %d shifts; under %.1f, over %.1f agent-intervals; %d preference misses (%d rounds, stopped by %s)\n",
						doc.ID, len(s.Shifts), s.Stats.Under, s.Stats.Over, s.Stats.PreferenceMisses, s.Solver.Rounds, s.Solver.StoppedBy)
					for _, e := range s.Explanations {
						fmt.Fprintf(c.Out, "  %s: %s\n", e.Rule, e.Message)
					}
					return nil
				}
			}},
			{name: "schedules", summary: "list the schedules of your queues", setup: func(fs *flag.FlagSet) func(*call) error {
				return func(c *call) error { return wfmList(c, "/api/v1/wfm/schedules", "shifts") }
			}},
			{name: "show", args: "ID", nargs: 1, summary: "print a schedule: CSV (default), JSON, or an SVG chart", setup: func(fs *flag.FlagSet) func(*call) error {
				format := fs.String("format", "csv", "csv, json or svg")
				chartName := fs.String("chart", "coverage", "svg chart: coverage or week")
				week := fs.Int("week", 1, "week of the period for -chart week")
				queue := fs.String("queue", "", "coverage of one queue (default: all)")
				out := fs.String("o", "", "write to this file instead of standard output")
				return func(c *call) error {
					q := url.Values{"format": {*format}}
					if *format == "svg" {
						q.Set("chart", *chartName)
						q.Set("week", strconv.Itoa(*week))
						if *queue != "" {
							q.Set("queue", *queue)
						}
					}
					return wfmStream(c, "/api/v1/wfm/schedules/"+url.PathEscape(c.args[0])+"?"+q.Encode(), *out)
				}
			}},
			{name: "intraday", args: "ID", nargs: 1, summary: "the rest of today: re-forecast from today's engagements, the gap, and ranked adjustments", setup: func(fs *flag.FlagSet) func(*call) error {
				now := fs.String("now", "", "the time to plan from, RFC 3339 (default: now)")
				limits := map[string]*string{}
				for _, l := range []struct{ name, usage string }{
					{"max_overtime", "most voluntary overtime offered to one agent (default 2h)"},
					{"max_time_off", "most voluntary time off offered to one agent (default 4h)"},
					{"max_call_in", "longest extra shift offered to an agent off today (default 4h)"},
					{"max_adjustments", "most adjustments listed (default 20)"},
				} {
					limits[l.name] = fs.String(l.name, "", l.usage)
				}
				return func(c *call) error {
					q := url.Values{}
					if *now != "" {
						q.Set("now", *now)
					}
					for name, v := range limits {
						if *v != "" {
							q.Set(name, *v)
						}
					}
					path := "/api/v1/wfm/schedules/" + url.PathEscape(c.args[0]) + "/intraday"
					if len(q) > 0 {
						path += "?" + q.Encode()
					}
					var in struct {
						Reforecast []struct {
							Queue              string
							Factor             float64
							Observed, Expected float64
						} `json:"reforecast"`
						wfm.Intraday
					}
					if err := apiCall(c, "GET", path, nil, &in); err != nil {
						return err
					}
					for _, r := range in.Reforecast {
						fmt.Fprintf(c.Out, "queue %s: %.0f contacts so far, %.0f forecast: the rest of the day x %.3f\n", r.Queue, r.Observed, r.Expected, r.Factor)
					}
					fmt.Fprintf(c.Out, "from %s: under %.1f, over %.1f agent-intervals; with the adjustments: under %.1f, over %.1f\n",
						in.Now.Format("15:04"), in.Under, in.Over, in.UnderAfter, in.OverAfter)
					var rows [][]string
					for _, a := range in.Adjustments {
						rows = append(rows, []string{a.Kind, a.Agent, a.Break, a.From.Format("15:04"), a.To.Format("15:04"),
							fmt.Sprintf("%+.2f", a.PaidHours), fmt.Sprintf("%.1f", a.UnderClosed), fmt.Sprintf("%.1f", a.OverClosed)})
					}
					table(c.Out, []string{"KIND", "AGENT", "BREAK", "FROM", "TO", "PAID H", "UNDER CLOSED", "OVER CLOSED"}, rows)
					return nil
				}
			}},
			{name: "what-if", args: "ID", nargs: 1, summary: "staffing, cost in agent-hours and the schedule's coverage with changed volume, handle time, service level or shrinkage", setup: func(fs *flag.FlagSet) func(*call) error {
				volume := fs.Float64("volume", 0, "multiply every interval's contacts (1.1: 10 % more)")
				aht := fs.Duration("aht", 0, "replace every interval's handle time, e.g. 210s")
				ahtFactor := fs.Float64("aht_factor", 0, "multiply every interval's handle time")
				sl := fs.Float64("sl", 0, "service level target, e.g. 0.9")
				within := fs.Duration("within", 0, "answer-within threshold, e.g. 15s")
				shrink := fs.Float64("shrinkage", 0, "share of paid time off contacts (0 is a value: set it to change it)")
				return func(c *call) error {
					sc := wfm.Scenario{VolumeFactor: *volume, AHT: wfm.Duration(*aht), AHTFactor: *ahtFactor, ServiceLevel: *sl, AnswerWithin: wfm.Duration(*within)}
					fs.Visit(func(f *flag.Flag) {
						if f.Name == "shrinkage" {
							sc.Shrinkage = shrink
						}
					})
					if sc == (wfm.Scenario{}) {
						return usageErr("wfm what-if: change something: -volume, -aht, -aht_factor, -sl, -within or -shrinkage")
					}
					var res wfm.WhatIfResult
					if err := apiCall(c, "POST", "/api/v1/wfm/schedules/"+url.PathEscape(c.args[0])+"/what-if", sc, &res); err != nil {
						return err
					}
					var rows [][]string
					for _, q := range res.Queues {
						rows = append(rows, []string{q.Queue,
							fmt.Sprintf("%.1f", q.BaseAgentHours), fmt.Sprintf("%.1f", q.AgentHours),
							fmt.Sprintf("%.1f", q.BaseScheduledHours), fmt.Sprintf("%.1f", q.ScheduledHours),
							strconv.Itoa(q.PeakAgents)})
					}
					table(c.Out, []string{"QUEUE", "AGENT H BEFORE", "AGENT H AFTER", "PAID H BEFORE", "PAID H AFTER", "PEAK AGENTS"}, rows)
					if res.Coverage != nil && res.BaseCoverage != nil {
						fmt.Fprintf(c.Out, "schedule %s: under %.1f, over %.1f agent-intervals as planned; under %.1f, over %.1f with the change\n",
							c.args[0], res.BaseCoverage.Under, res.BaseCoverage.Over, res.Coverage.Under, res.Coverage.Over)
					}
					return nil
				}
			}},
		}}
}

// readFileWith reads FILE ("-": standard input) with read.
func readFileWith[T any](c *call, name string, read func(io.Reader) (*T, error)) (*T, error) {
	var r io.Reader = c.In
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	v, err := read(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return v, nil
}

// wfmStream copies a GET answer to the file out, or standard output. A
// failed call leaves no partial file behind.
func wfmStream(c *call, path, out string) error {
	cl, err := c.api()
	if err != nil {
		return err
	}
	if out == "" {
		_, err = cl.stream("GET", path, c.Out)
		return err
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	_, err = cl.stream("GET", path, f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(out)
	}
	return err
}

// wfmList prints a list of workforce documents with one summary column.
func wfmList(c *call, path, count string) error {
	var list []api.WFMRecord
	if err := apiCall(c, "GET", path, nil, &list); err != nil {
		return err
	}
	var rows [][]string
	for _, r := range list {
		rows = append(rows, []string{r.ID, strings.Join(r.Queues, ","), r.Summary[count], r.Summary["start"], r.UpdatedBy, r.UpdatedAt.Format(time.RFC3339)})
	}
	table(c.Out, []string{"ID", "QUEUES", strings.ToUpper(count), "START", "UPDATED BY", "UPDATED"}, rows)
	return nil
}
