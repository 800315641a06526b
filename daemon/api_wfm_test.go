package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/earshot/earshot/daemon/api"
	"github.com/earshot/earshot/inference/forecast"
	"github.com/earshot/earshot/inference/wfm"
	"github.com/earshot/earshot/store"
)

// wfmHistory is ten weeks of a queue open every day 08:00-18:00 at 30
// minutes, ending the day before today (UTC), so that the forecast starts
// today.
func wfmHistory() []forecast.Point {
	today := time.Now().UTC().Truncate(24 * time.Hour)
	var pts []forecast.Point
	for d := 70; d >= 1; d-- {
		day := today.AddDate(0, 0, -d)
		for s := 16; s < 36; s++ {
			v := math.Round(20 + 10*math.Sin(float64(s-16)/20*math.Pi))
			pts = append(pts, forecast.Point{Start: day.Add(time.Duration(s) * 30 * time.Minute), Offered: v, Handled: v, AHT: 240})
		}
	}
	return pts
}

// wfmRosterCSV is a roster of n agents of queue q.
func wfmRosterCSV(n int, q string) string {
	var b strings.Builder
	b.WriteString("id,name,skills,hours_per_week,shifts,available_from,available_to\n")
	for i := range n {
		switch i % 3 {
		case 0:
			fmt.Fprintf(&b, "a%02d,Agent Number%02d,%s,37.5,day8,,\n", i, i, q)
		case 1:
			fmt.Fprintf(&b, "a%02d,Agent Number%02d,%s,20,part4,07:00,14:00\n", i, i, q)
		default:
			fmt.Fprintf(&b, "a%02d,Agent Number%02d,%s,20,part4,12:00,21:00\n", i, i, q)
		}
	}
	return b.String()
}

func TestWFMAPI(t *testing.T) {
	td := startDaemon(t, nil)
	ctx := context.Background()
	for _, q := range []string{"billing", "loans"} {
		td.mustCall(t, td.Admin, "POST", "/api/v1/queues", queueRequest{ID: q}, 201)
	}
	analyst := td.tokenFor(t, "ana", RoleAnalyst, "billing")
	other := td.tokenFor(t, "sam", RoleSupervisor, "loans")
	agent := td.tokenFor(t, "al", RoleAgent, "billing")
	td.mustCall(t, analyst, "POST", "/api/v1/queues/billing/forecast?days=21", map[string]any{"points": wfmHistory()}, 200)

	// A roster with bad rows is refused, naming every row.
	bad := "id,skills,hours_per_week\nok,billing,20\nb1,billing,lots\nb2,billing,20\nb3,billing,20,extra\n"
	code, body := td.call(t, analyst, "PUT", "/api/v1/wfm/rosters/team-a", bad)
	if code != 400 || !strings.Contains(string(body), "line 3, column hours_per_week") || !strings.Contains(string(body), "line 5") || !strings.Contains(string(body), `"field":"hours_per_week"`) {
		t.Errorf("bad roster = %d %s", code, body)
	}
	code, body = td.call(t, analyst, "PUT", "/api/v1/wfm/rosters/team-a", `{"agents":[{"id":"a1","skills":["mortgages"],"hours_per_week":20}]}`)
	if code != 400 || !strings.Contains(string(body), `"field":"agents[0].skills[0]"`) {
		t.Errorf("roster of an unknown queue = %d %s", code, body)
	}
	var rec api.WFMRecord
	json.Unmarshal(td.mustCall(t, analyst, "PUT", "/api/v1/wfm/rosters/team-a", wfmRosterCSV(27, "billing"), 200), &rec)
	if rec.ID != "team-a" || rec.Summary["agents"] != "27" || strings.Join(rec.Queues, ",") != "billing" || rec.UpdatedBy != "ana" {
		t.Errorf("roster stored as %+v", rec)
	}
	var ros wfm.Roster
	json.Unmarshal(td.mustCall(t, analyst, "GET", "/api/v1/wfm/rosters/team-a", nil, 200), &ros)
	if len(ros.Agents) != 27 || ros.Agents[4].Name != "Agent Number04" {
		t.Errorf("roster read back: %d agents", len(ros.Agents))
	}
	if out := string(td.mustCall(t, analyst, "GET", "/api/v1/wfm/rosters/team-a?format=csv", nil, 200)); !strings.HasPrefix(out, "id,name,skills") || strings.Count(out, "\n") != 28 {
		t.Errorf("roster CSV:\n%s", out)
	}

	// Rules: JSON over the defaults; a bad field is named.
	code, body = td.call(t, analyst, "PUT", "/api/v1/wfm/rules/site", `{"min_rest":12}`)
	if code != 400 || !strings.Contains(string(body), `"field":"min_rest"`) {
		t.Errorf("bad rules = %d %s", code, body)
	}
	td.mustCall(t, analyst, "PUT", "/api/v1/wfm/rules/site", `{"min_rest":"12h","max_weekend_share":1}`, 200)
	var rules wfm.Rules
	json.Unmarshal(td.mustCall(t, agent, "GET", "/api/v1/wfm/rules/site", nil, 403), &rules)

	// A schedule from the stored forecast.
	today := time.Now().UTC().Truncate(24 * time.Hour)
	req := api.WFMScheduleRequest{ID: "week-1", Roster: "team-a", Rules: "site", Start: today.Format(time.DateOnly), Days: 7, TimeBudget: "2s"}
	code, body = td.call(t, analyst, "POST", "/api/v1/wfm/schedules", map[string]any{"roster": "team-a", "start": today.Format(time.DateOnly), "days": 35})
	if code != 400 || !strings.Contains(string(body), `"field":"period.days"`) {
		t.Errorf("35-day schedule = %d %s", code, body)
	}
	code, body = td.call(t, analyst, "POST", "/api/v1/wfm/schedules", map[string]any{"roster": "team-a", "start": today.AddDate(0, 0, 20).Format(time.DateOnly), "days": 7})
	if code != 400 || !strings.Contains(string(body), "not the whole of") {
		t.Errorf("schedule beyond the forecast = %d %s", code, body)
	}
	var doc scheduleDoc
	if err := json.Unmarshal(td.mustCall(t, analyst, "POST", "/api/v1/wfm/schedules", req, 201), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.ID != "week-1" || doc.Schedule == nil || len(doc.Schedule.Shifts) == 0 || time.Duration(doc.Problem.Rules.MinRest) != 12*time.Hour {
		t.Fatalf("schedule: %+v", doc.Schedule)
	}
	if v := wfm.Check(&doc.Problem, doc.Schedule); len(v) > 0 {
		t.Errorf("the stored schedule breaks rules: %v", v)
	}
	var list []api.WFMRecord
	json.Unmarshal(td.mustCall(t, analyst, "GET", "/api/v1/wfm/schedules", nil, 200), &list)
	if len(list) != 1 || list[0].Summary["shifts"] != fmt.Sprint(len(doc.Schedule.Shifts)) {
		t.Errorf("schedules list %+v", list)
	}
	if out := string(td.mustCall(t, analyst, "GET", "/api/v1/wfm/schedules/week-1?format=csv", nil, 200)); strings.Count(out, "\n") != len(doc.Schedule.Shifts)+1 {
		t.Errorf("schedule CSV has %d lines for %d shifts", strings.Count(out, "\n"), len(doc.Schedule.Shifts))
	}
	for _, q := range []string{"format=svg", "format=svg&chart=week&week=1"} {
		if out := string(td.mustCall(t, analyst, "GET", "/api/v1/wfm/schedules/week-1?"+q, nil, 200)); !strings.HasPrefix(out, "<svg") || strings.Contains(out, "Agent Number") {
			t.Errorf("%s: %.200s", q, out)
		}
	}

	// The next week follows this one: its first shifts keep the rest
	// after this week's last ones.
	next := req
	next.ID, next.Start, next.After = "week-2", today.AddDate(0, 0, 7).Format(time.DateOnly), "week-1"
	next.TimeBudget = "1s"
	var doc2 scheduleDoc
	if err := json.Unmarshal(td.mustCall(t, analyst, "POST", "/api/v1/wfm/schedules", next, 201), &doc2); err != nil {
		t.Fatal(err)
	}
	if doc2.After != "week-1" || len(doc2.Problem.Prior) == 0 {
		t.Errorf("week-2 follows %q with %d agents' prior work", doc2.After, len(doc2.Problem.Prior))
	}
	if v := wfm.Check(&doc2.Problem, doc2.Schedule); len(v) > 0 {
		t.Errorf("week-2 breaks rules: %v", v)
	}
	lastEnd := map[string]time.Time{}
	for _, sh := range doc.Schedule.Shifts {
		if sh.End.After(lastEnd[sh.Agent]) {
			lastEnd[sh.Agent] = sh.End
		}
	}
	for _, sh := range doc2.Schedule.Shifts {
		if e, ok := lastEnd[sh.Agent]; ok && sh.Start.Sub(e) < 12*time.Hour {
			t.Errorf("agent %s: %s rest between the weeks", sh.Agent, sh.Start.Sub(e))
		}
	}
	next.ID, next.After = "week-3", "nope"
	code, body = td.call(t, analyst, "POST", "/api/v1/wfm/schedules", next)
	if code != 400 || !strings.Contains(string(body), `"field":"after"`) {
		t.Errorf("schedule after no schedule = %d %s", code, body)
	}
	next.After, next.Start = "week-2", today.Format(time.DateOnly)
	code, body = td.call(t, analyst, "POST", "/api/v1/wfm/schedules", next)
	if code != 400 || !strings.Contains(string(body), "does not start before") {
		t.Errorf("schedule after a later one = %d %s", code, body)
	}
	td.mustCall(t, analyst, "DELETE", "/api/v1/wfm/schedules/week-2", nil, 204)

	// Intraday: this morning the queue took a third more calls than
	// forecast; the re-forecast follows.
	noon := today.Add(12 * time.Hour)
	f, err := td.latestStoredForecast(ctx, "billing")
	if err != nil {
		t.Fatal(err)
	}
	created := 0
	for _, p := range f.Points {
		if !p.Open || p.Start.Before(today) || !p.Start.Before(noon) {
			continue
		}
		n := int(math.Round(p.Volume.Mean * 4 / 3))
		for i := range n {
			st := p.Start.Add(time.Duration(i) * 30 * time.Minute / time.Duration(n))
			if _, err := td.store.CreateEngagement(ctx, store.Engagement{Queue: "billing", Channel: "voice", Direction: "inbound", Start: st, End: st.Add(4 * time.Minute)}); err != nil {
				t.Fatal(err)
			}
			created++
		}
	}
	var in intradayAnswer
	json.Unmarshal(td.mustCall(t, analyst, "GET", "/api/v1/wfm/schedules/week-1/intraday?now="+noon.Format(time.RFC3339), nil, 200), &in)
	if len(in.Reforecast) != 1 || in.Reforecast[0].Observed != float64(created) || in.Reforecast[0].Factor <= 1.1 {
		t.Errorf("reforecast %+v, %d engagements created", in.Reforecast, created)
	}
	if in.Intraday == nil || len(in.Intervals) != 24 || !in.Intervals[0].Start.Equal(noon) {
		t.Fatalf("intraday: %+v", in.Intraday)
	}
	for _, a := range in.Adjustments {
		if a.From.Before(noon) || (a.UnderClosed <= 0 && a.OverClosed <= 0) {
			t.Errorf("adjustment %v", a)
		}
	}

	// The adjustments' limits are the caller's.
	all := len(in.Adjustments)
	var one intradayAnswer
	json.Unmarshal(td.mustCall(t, analyst, "GET", "/api/v1/wfm/schedules/week-1/intraday?max_adjustments=1&max_overtime=1h&now="+noon.Format(time.RFC3339), nil, 200), &one)
	if all < 2 || len(one.Adjustments) != 1 {
		t.Errorf("intraday: %d adjustments, %d with max_adjustments=1", all, len(one.Adjustments))
	}
	for q, field := range map[string]string{"max_call_in=7m": "max_call_in", "max_overtime=long": "max_overtime", "max_adjustments=many": "max_adjustments", "max_adjustments=900": "max_adjustments"} {
		code, body := td.call(t, analyst, "GET", "/api/v1/wfm/schedules/week-1/intraday?"+q, nil)
		if code != 400 || !strings.Contains(string(body), `"field":"`+field+`"`) {
			t.Errorf("intraday?%s = %d %s", q, code, body)
		}
	}

	// What-if: more calls, same schedule: more under-staffing.
	var wi wfm.WhatIfResult
	json.Unmarshal(td.mustCall(t, analyst, "POST", "/api/v1/wfm/schedules/week-1/what-if", map[string]any{"volume_factor": 1.5}, 200), &wi)
	if len(wi.Queues) != 1 || wi.Queues[0].ScheduledHours <= wi.Queues[0].BaseScheduledHours || wi.Coverage == nil || wi.Coverage.Under <= wi.BaseCoverage.Under {
		t.Errorf("what-if: %+v", wi)
	}
	code, body = td.call(t, analyst, "POST", "/api/v1/wfm/schedules/week-1/what-if", map[string]any{"service_level": 2})
	if code != 400 || !strings.Contains(string(body), `"field":"service_level"`) {
		t.Errorf("bad what-if = %d %s", code, body)
	}

	// A newer forecast that starts tomorrow: intraday re-forecasts tomorrow
	// from it and keeps the rest of the schedule's demand; today, and a
	// what-if over the whole week, are refused with the reason.
	newer := wfmHistory()
	for _, p := range wfmHistory() {
		if !p.Start.Before(today.AddDate(0, 0, -1)) {
			p.Start = p.Start.AddDate(0, 0, 1)
			newer = append(newer, p)
		}
	}
	td.mustCall(t, analyst, "POST", "/api/v1/queues/billing/forecast?days=21", map[string]any{"points": newer}, 200)
	tomorrowNoon := noon.AddDate(0, 0, 1)
	json.Unmarshal(td.mustCall(t, analyst, "GET", "/api/v1/wfm/schedules/week-1/intraday?now="+tomorrowNoon.Format(time.RFC3339), nil, 200), &in)
	if len(in.Reforecast) != 1 || in.Reforecast[0].Observed != 0 || in.Intraday == nil || !in.Intervals[0].Start.Equal(tomorrowNoon) {
		t.Errorf("intraday tomorrow from the newer forecast: %+v %+v", in.Reforecast, in.Intraday)
	}
	code, body = td.call(t, analyst, "GET", "/api/v1/wfm/schedules/week-1/intraday?now="+noon.Format(time.RFC3339), nil)
	if code != 400 || !strings.Contains(string(body), `"field":"now"`) || !strings.Contains(string(body), "forecast further") {
		t.Errorf("intraday today without a forecast of today = %d %s", code, body)
	}
	code, body = td.call(t, analyst, "POST", "/api/v1/wfm/schedules/week-1/what-if", map[string]any{"volume_factor": 1.5})
	if code != 400 || !strings.Contains(string(body), `"field":"id"`) {
		t.Errorf("what-if with a forecast that misses the schedule's first day = %d %s", code, body)
	}

	// Scope: a supervisor of another queue neither sees nor writes them.
	td.mustCall(t, other, "GET", "/api/v1/wfm/rosters/team-a", nil, 404)
	td.mustCall(t, other, "GET", "/api/v1/wfm/schedules/week-1", nil, 404)
	td.mustCall(t, other, "PUT", "/api/v1/wfm/rosters/team-a", wfmRosterCSV(2, "billing"), 403)
	td.mustCall(t, other, "PUT", "/api/v1/wfm/rosters/team-a", wfmRosterCSV(2, "loans"), 403) // replacing one of billing
	json.Unmarshal(td.mustCall(t, other, "GET", "/api/v1/wfm/rosters", nil, 200), &list)
	if len(list) != 0 {
		t.Errorf("other queue's supervisor lists %v", list)
	}
	// Forecasting switched off for the queue closes its documents.
	td.mustCall(t, td.Admin, "PUT", "/api/v1/settings/features/queues/billing/forecasting", map[string]any{"enabled": false}, 200)
	td.mustCall(t, analyst, "GET", "/api/v1/wfm/schedules/week-1", nil, 403)
	td.mustCall(t, td.Admin, "DELETE", "/api/v1/settings/features/queues/billing/forecasting", nil, 204)

	// Reads of rosters and schedules, and every change, are audited.
	es, err := td.store.QueryAudit(ctx, store.AuditQuery{Actor: "ana"})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, e := range es {
		seen[e.Action] = true
	}
	for _, a := range []string{"wfm.roster.put", "wfm.roster.read", "wfm.rules.put", "wfm.schedule.create", "wfm.schedule.read"} {
		if !seen[a] {
			t.Errorf("no %s in the audit log (%v)", a, seen)
		}
	}
	td.mustCall(t, analyst, "DELETE", "/api/v1/wfm/schedules/week-1", nil, 204)
	td.mustCall(t, analyst, "GET", "/api/v1/wfm/schedules/week-1", nil, 404)
	td.mustCall(t, analyst, "DELETE", "/api/v1/wfm/rosters/team-a", nil, 204)
}
