package daemon

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/earshot/earshot/inference/forecast"
	"github.com/earshot/earshot/inference/forecast/erlang"
	"github.com/earshot/earshot/inference/forecast/forecasttest"
	"github.com/earshot/earshot/store"
)

// forecastHistory is 100 weekdays of a 08:00-18:00 queue at 30 minutes with
// a smooth intraday curve and a weekly pattern: enough for the backtest's
// default 8 origins x 28 days and the long-term model's 90 days.
func forecastHistory() []forecast.Point { return forecasttest.Weekdays() }

var forecastHistoryBody = map[string]any{"points": forecastHistory()}

func historyCSV(pts []forecast.Point) string { return forecasttest.CSV(pts) }

func TestForecastAPI(t *testing.T) {
	td := startDaemon(t, nil)
	td.mustCall(t, td.Admin, "POST", "/api/v1/queues", queueRequest{ID: "cards"}, 201)
	td.mustCall(t, td.Admin, "POST", "/api/v1/queues", queueRequest{ID: "loans"}, 201)
	analyst := td.tokenFor(t, "ana", RoleAnalyst, "cards")
	csv := historyCSV(forecastHistory())

	// JSON forecast from CSV history.
	var f forecast.Forecast
	raw := td.mustCall(t, analyst, "POST", "/api/v1/queues/cards/forecast?days=14&hours=mon-fri+08:00-18:00", csv, 200)
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	if f.Queue != "cards" || f.ModelVersion != forecast.ModelVersion || len(f.Points) != 14*48 {
		t.Fatalf("forecast: queue %q version %q, %d points", f.Queue, f.ModelVersion, len(f.Points))
	}
	open := 0
	for _, p := range f.Points {
		if p.Open {
			open++
			if p.Volume.Value <= 0 || p.AHT == nil || p.Volume.Lower95 > p.Volume.Value || p.Volume.Upper95 < p.Volume.Value {
				t.Fatalf("bad point %+v", p)
			}
		}
	}
	if open != 10*20 {
		t.Errorf("%d open intervals, want 200 (10 weekdays x 20)", open)
	}

	// The forecast was stored for the queue with its model version.
	var stored []store.StoredForecast
	json.Unmarshal(td.mustCall(t, analyst, "GET", "/api/v1/queues/cards/forecasts", nil, 200), &stored)
	if len(stored) != 1 || stored[0].ModelVersion != forecast.ModelVersion || stored[0].CreatedBy != "ana" || stored[0].Payload != nil {
		t.Fatalf("stored forecasts = %+v", stored)
	}
	var latest store.StoredForecast
	json.Unmarshal(td.mustCall(t, analyst, "GET", "/api/v1/queues/cards/forecasts/latest", nil, 200), &latest)
	var lf forecast.Forecast
	if json.Unmarshal(latest.Payload, &lf) != nil || len(lf.Points) != len(f.Points) {
		t.Errorf("latest stored forecast has %d points, want %d", len(lf.Points), len(f.Points))
	}
	td.mustCall(t, analyst, "GET", "/api/v1/queues/loans/forecasts/latest", nil, 404)

	// Tuned by backtest: the settings travel with the forecast.
	var tuned forecast.Forecast
	json.Unmarshal(td.mustCall(t, analyst, "POST", "/api/v1/queues/cards/forecast?days=7&tune=true", csv, 200), &tuned)
	if tuned.Settings.Trend == "" || tuned.Settings.LevelHalfLifeWeeks == 0 || len(tuned.Points) != 7*48 {
		t.Errorf("tuned forecast settings %+v, %d points", tuned.Settings, len(tuned.Points))
	}

	// The same as CSV and as an SVG chart.
	code, body := td.call(t, analyst, "POST", "/api/v1/queues/cards/forecast?days=7&format=csv", csv)
	if code != 200 || !strings.HasPrefix(string(body), "start,queue,open,volume") || strings.Count(string(body), "\n") != 1+7*48 {
		t.Errorf("csv forecast = %d, %d lines", code, strings.Count(string(body), "\n"))
	}
	code, body = td.call(t, analyst, "POST", "/api/v1/queues/cards/forecast?days=7&format=svg", csv)
	if code != 200 || xml.Unmarshal(body, new(struct{})) != nil || !strings.Contains(string(body), `class="band95"`) {
		t.Errorf("svg forecast = %d %.200s", code, body)
	}

	// Staffing plan: Erlang C, then Erlang A needs no more agents.
	var plan, planA forecast.StaffingPlan
	json.Unmarshal(td.mustCall(t, analyst, "POST", "/api/v1/queues/cards/forecast/staffing?days=7&sl=0.8&within=20s&shrinkage=0.3", csv, 200), &plan)
	json.Unmarshal(td.mustCall(t, analyst, "POST", "/api/v1/queues/cards/forecast/staffing?days=7&sl=0.8&within=20s&shrinkage=0.3&patience=60s", csv, 200), &planA)
	if plan.PeakAgents < 3 || plan.AgentHours <= 0 || planA.AgentHours > plan.AgentHours {
		t.Errorf("plan peak %d hours %.1f; Erlang A hours %.1f", plan.PeakAgents, plan.AgentHours, planA.AgentHours)
	}
	// patience=auto: the history carries abandons and waits (asa, abandon_time).
	var withWaits strings.Builder
	withWaits.WriteString("timestamp,count,handled,abandoned,aht,asa,abandon_time\n")
	for _, p := range forecastHistory() {
		ab := math.Round(p.Offered / 10)
		fmt.Fprintf(&withWaits, "%s,%g,%g,%g,%g,15,45\n", p.Start.Format("2006-01-02 15:04"), p.Offered, p.Offered-ab, ab, p.AHT)
	}
	var planAuto forecast.StaffingPlan
	json.Unmarshal(td.mustCall(t, analyst, "POST", "/api/v1/queues/cards/forecast/staffing?days=7&patience=auto", withWaits.String(), 200), &planAuto)
	// 15 s x 0.9 + 45 s x 0.1 waited per contact, 0.1 abandoned: 180 s.
	model := ""
	for _, p := range planAuto.Points {
		if p.Open {
			model = p.Result.Model
			break
		}
	}
	if planAuto.Target.Patience < 170*time.Second || planAuto.Target.Patience > 190*time.Second || model != "erlang-a" {
		t.Errorf("patience=auto: target %+v", planAuto.Target)
	}
	if code, _ := td.call(t, analyst, "POST", "/api/v1/queues/cards/forecast/staffing?days=7&patience=auto", csv); code != 422 {
		t.Errorf("patience=auto without waits = %d, want 422", code)
	}

	// Backtest and long-term.
	var bt forecast.BacktestResult
	json.Unmarshal(td.mustCall(t, analyst, "POST", "/api/v1/queues/cards/forecast/backtest?origins=4&horizon_days=14", csv, 200), &bt)
	if len(bt.Origins) != 4 || bt.Overall.Volume.N == 0 || bt.Overall.Volume.MAPE <= 0 || len(bt.ByWeek) != 2 {
		t.Errorf("backtest = %+v", bt.Overall)
	}
	var lt forecast.LongTermForecast
	json.Unmarshal(td.mustCall(t, analyst, "POST", "/api/v1/queues/cards/forecast/longterm?months=6", csv, 200), &lt)
	if len(lt.Months) != 6 || lt.Months[0].FTE.Value <= 0 {
		t.Errorf("long-term = %+v", lt.Months)
	}

	// Erlang calculator: the published example.
	var r erlang.Result
	json.Unmarshal(td.mustCall(t, analyst, "POST", "/api/v1/forecast/erlang", erlangRequest{Contacts: 100, AHTSeconds: 180, ServiceLevel: 0.8, AnswerWithinSec: 20, Shrinkage: 0.3}, 200), &r)
	if r.Agents != 14 || r.Scheduled != 20 {
		t.Errorf("erlang = %+v, want 14 agents, 20 scheduled", r)
	}
	// The interval in seconds, or under its former name in minutes: 100
	// contacts in 15 minutes need more agents than in 30.
	var r15, r15m erlang.Result
	json.Unmarshal(td.mustCall(t, analyst, "POST", "/api/v1/forecast/erlang", map[string]any{"contacts": 100, "aht_seconds": 180, "service_level": 0.8, "answer_within_seconds": 20, "interval_seconds": 900}, 200), &r15)
	json.Unmarshal(td.mustCall(t, analyst, "POST", "/api/v1/forecast/erlang", map[string]any{"contacts": 100, "aht_seconds": 180, "service_level": 0.8, "answer_within_seconds": 20, "interval_minutes": 15}, 200), &r15m)
	if r15.Agents <= r.Agents || r15 != r15m {
		t.Errorf("15-minute interval: %+v (interval_minutes: %+v), want more than %d agents and the same answer", r15, r15m, r.Agents)
	}
}

func TestForecastAPIErrors(t *testing.T) {
	td := startDaemon(t, nil)
	td.mustCall(t, td.Admin, "POST", "/api/v1/queues", queueRequest{ID: "cards"}, 201)
	td.mustCall(t, td.Admin, "POST", "/api/v1/queues", queueRequest{ID: "loans"}, 201)
	analyst := td.tokenFor(t, "ana", RoleAnalyst, "cards")
	csv := historyCSV(forecastHistory())
	tests := []struct {
		name, path, body string
		code             int
		field, detail    string
	}{
		{"other queue", "/api/v1/queues/loans/forecast", csv, 403, "", "not scoped"},
		{"bad step", "/api/v1/queues/cards/forecast?step=20m", csv, 400, "step", "15m, 30m or 1h"},
		{"bad tz", "/api/v1/queues/cards/forecast?tz=Mars/Olympus", csv, 400, "tz", "unknown time zone"},
		{"bad hours", "/api/v1/queues/cards/forecast?hours=weekdays", csv, 400, "hours", "hours"},
		{"bad days", "/api/v1/queues/cards/forecast?days=0", csv, 400, "days", "1..366"},
		{"bad format", "/api/v1/queues/cards/forecast?format=pdf", csv, 400, "format", "json, csv or svg"},
		{"bad csv row", "/api/v1/queues/cards/forecast", "timestamp,count\n2026-01-05 08:00,3\n2026-01-05 08:30,-2\n", 400, "offered", "csv line 3, column offered: negative"},
		{"huge count", "/api/v1/queues/cards/forecast", csv + "2026-05-26 08:00,1e308,200\n", 400, "offered", "csv line 2002, column offered: out of range: 1e308"},
		{"overflowing count", "/api/v1/queues/cards/forecast/staffing", csv + "2026-05-26 08:00,1e400,200\n", 400, "offered", "column offered: out of range: 1e400"},
		{"nan count", "/api/v1/queues/cards/forecast/backtest", csv + "2026-05-26 08:00,NaN,200\n", 400, "offered", "csv line 2002, column offered: not finite"},
		{"infinite aht", "/api/v1/queues/cards/forecast/longterm", csv + "2026-05-26 08:00,3,Inf\n", 400, "aht", "csv line 2002, column aht: not finite"},
		{"absurd aht", "/api/v1/queues/cards/forecast?format=csv", csv + "2026-05-26 08:00,3,1e12\n", 400, "aht", "csv line 2002, column aht: out of range"},
		{"negative count", "/api/v1/queues/cards/forecast?format=svg", csv + "2026-05-26 08:00,-1,200\n", 400, "offered", "csv line 2002, column offered: negative"},
		{"huge json count", "/api/v1/queues/cards/forecast", `{"points":[{"start":"2026-01-05T08:00:00Z","offered":1e308}]}`, 400, "points", "point 0 (2026-01-05T08:00:00Z): offered = 1e+308"},
		{"duplicate timestamp", "/api/v1/queues/cards/forecast", csv + "2026-01-05 08:00,3,200\n", 400, "timestamp", "csv line 2002, column timestamp: duplicate timestamp 2026-01-05 08:00"},
		{"5-minute rows refused", "/api/v1/queues/cards/forecast?aggregate=false", "timestamp,count\n2026-01-05 08:00,3\n2026-01-05 08:05,3\n2026-01-05 08:10,3\n", 400, "timestamp", "(and 1 more rows like it: lines 4)"},
		{"bad aggregate", "/api/v1/queues/cards/forecast?aggregate=yes", csv, 400, "aggregate", "auto, true or false"},
		{"longterm without aht", "/api/v1/queues/cards/forecast/longterm", strings.ReplaceAll(csv, "aht", "x"), 422, "default_aht", "give default_aht"},
		{"too short", "/api/v1/queues/cards/forecast", "timestamp,count\n2026-01-05 08:00,3\n", 422, "", "need at least 14"},
		{"yearly on short history", "/api/v1/queues/cards/forecast?yearly=on", csv, 422, "", "yearly seasonality needs 365 days"},
		{"bad json history", "/api/v1/queues/cards/forecast", `{"points":[{"start":"2026-01-05T08:10:00Z","offered":1}]}`, 400, "points", "not aligned"},
		{"bad sl", "/api/v1/queues/cards/forecast/staffing?sl=1.5", csv, 400, "sl", "service_level"},
		{"erlang bad aht", "/api/v1/forecast/erlang", `{"contacts":10,"aht_seconds":0,"service_level":0.8}`, 422, "", "aht must be positive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := td.call(t, analyst, "POST", tt.path, tt.body)
			var p Problem
			json.Unmarshal(body, &p)
			if code != tt.code || p.Field != tt.field || !strings.Contains(p.Detail, tt.detail) {
				t.Errorf("POST %s = %d %+v; want %d field %q detail containing %q", tt.path, code, p, tt.code, tt.field, tt.detail)
			}
		})
	}
	// Rejected CSV rows (one per bad CSV above, two in the 5-minute one) and
	// failed fits are counted.
	_, metrics := td.call(t, "", "GET", "/metrics", nil)
	for _, want := range []string{"earshot_forecast_import_rows_total{result=\"rejected\"} 10\n", "earshot_forecast_fits_total{kind=\"short\",result=\"too_short\"} 2\n"} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	// Forecasting switched off for the queue.
	td.mustCall(t, td.Admin, "PUT", "/api/v1/settings/features/queues/cards/forecasting", map[string]any{"enabled": false}, 200)
	if code, _ := td.call(t, analyst, "POST", "/api/v1/queues/cards/forecast", csv); code != http.StatusForbidden {
		t.Errorf("forecasting off: %d, want 403", code)
	}
}

// History from the queue's stored engagements: three weeks of weekday
// contacts at 09:00-12:00, created in the store the daemon serves.
func TestForecastFromStoredEngagements(t *testing.T) {
	td := startDaemon(t, nil)
	td.mustCall(t, td.Admin, "POST", "/api/v1/queues", queueRequest{ID: "cards"}, 201)
	analyst := td.tokenFor(t, "ana", RoleAnalyst, "cards")
	start := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	created := 0
	for d := 0; d < 21; d++ {
		day := start.AddDate(0, 0, d)
		if day.Weekday() == time.Saturday || day.Weekday() == time.Sunday {
			continue
		}
		for h := 9; h < 12; h++ {
			for k := 0; k < 2+h%2; k++ {
				st := day.Add(time.Duration(h)*time.Hour + time.Duration(k*13)*time.Minute)
				e := store.Engagement{Queue: "cards", Channel: "voice", Direction: "inbound", Start: st, End: st.Add(4 * time.Minute)}
				if _, err := td.store.CreateEngagement(t.Context(), e); err != nil {
					t.Fatal(err)
				}
				created++
			}
		}
		// Outbound calls are not demand.
		if _, err := td.store.CreateEngagement(t.Context(), store.Engagement{Queue: "cards", Channel: "voice", Direction: "outbound", Start: day.Add(10 * time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	q := "/api/v1/queues/cards/forecast?source=engagements&step=1h&days=7&from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00Z"
	var f forecast.Forecast
	json.Unmarshal(td.mustCall(t, analyst, "POST", q, nil, 200), &f)
	var total float64
	for _, p := range f.Points {
		if p.Open {
			total += p.Volume.Value
			if p.AHT == nil || math.Abs(p.AHT.Value-240) > 1 {
				t.Fatalf("%s: AHT %+v, want 240 s", p.Start, p.AHT)
			}
		}
	}
	// 3 + 2 + 3 inbound contacts a weekday, 5 weekdays.
	if total < 36 || total > 44 || created != 15*8 {
		t.Errorf("forecast total %.1f over 5 weekdays, want about 40 (created %d)", total, created)
	}
	code, body := td.call(t, analyst, "POST", "/api/v1/queues/cards/forecast?source=engagements&from=2025-01-01T00:00:00Z&to=2025-02-01T00:00:00Z", nil)
	if code != 422 || !strings.Contains(string(body), "no stored inbound engagements") {
		t.Errorf("empty range = %d %s", code, body)
	}
}
