package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/earshot/earshot/inference/forecast"
)

// storeForecast stores a forecast for queue on the daemon of cfg, from ten
// weeks of history ending yesterday (so that it starts today).
func storeForecast(t *testing.T, cfg, queue string) {
	t.Helper()
	site, err := testEnv.LoadSite(cfg)
	if err != nil {
		t.Fatal(err)
	}
	token, err := os.ReadFile(site.AdminTokenFile)
	if err != nil {
		t.Fatal(err)
	}
	today := time.Now().UTC().Truncate(24 * time.Hour)
	var pts []forecast.Point
	for d := 70; d >= 1; d-- {
		day := today.AddDate(0, 0, -d)
		for s := 16; s < 36; s++ {
			v := math.Round(12 + 6*math.Sin(float64(s-16)/20*math.Pi))
			pts = append(pts, forecast.Point{Start: day.Add(time.Duration(s) * 30 * time.Minute), Offered: v, Handled: v, AHT: 240})
		}
	}
	body, _ := json.Marshal(map[string]any{"points": pts})
	req, _ := http.NewRequest("POST", site.API+"/api/v1/queues/"+queue+"/forecast?days=14", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("store a forecast: %s", resp.Status)
	}
}

func TestWFMCommands(t *testing.T) {
	cfg := startDaemon(t)
	c := "--config=" + cfg
	mustRun(t, "queue", "create", "billing", c)
	storeForecast(t, cfg, "billing")
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}

	// A bad row is named before anything reaches the daemon.
	bad := write("bad.csv", "id,skills,hours_per_week\nana,billing,20\nben,billing,many\n")
	if _, _, err := runCommand(t, "wfm", "roster-import", "team", bad, c); err == nil || !strings.Contains(err.Error(), "line 3, column hours_per_week") {
		t.Errorf("roster-import of a bad file: %v", err)
	}
	var b strings.Builder
	b.WriteString("id,name,skills,hours_per_week,shifts,available_from,available_to\n")
	for i := range 12 {
		if i%2 == 0 {
			fmt.Fprintf(&b, "a%02d,Person %02d,billing,37.5,day8,,\n", i, i)
		} else {
			fmt.Fprintf(&b, "a%02d,Person %02d,billing,20,part4,10:00,20:00\n", i, i)
		}
	}
	roster := write("team.csv", b.String())
	if out := mustRun(t, "wfm", "roster-import", "team", roster, c); out != "stored roster team: 12 agents, queues billing\n" {
		t.Errorf("roster-import printed %q", out)
	}
	if out := mustRun(t, "wfm", "roster-export", "team", c); !strings.HasPrefix(out, "id,name,skills") || !strings.Contains(out, "Person 03") {
		t.Errorf("roster-export printed %q", out)
	}
	rules := write("rules.json", `{"min_rest":"12h","max_weekend_share":1}`)
	if out := mustRun(t, "wfm", "rules-put", "site", rules, c); out != "stored rules site: 2 shift templates\n" {
		t.Errorf("rules-put printed %q", out)
	}
	today := time.Now().UTC().Format(time.DateOnly)
	out := mustRun(t, "wfm", "schedule", "team", "-id", "w1", "-rules", "site", "-start", today, "-days", "7", "-budget", "2s", c)
	if !strings.HasPrefix(out, "created schedule w1: ") || !strings.Contains(out, "agent-intervals") {
		t.Errorf("schedule printed %q", out)
	}
	next := time.Now().UTC().AddDate(0, 0, 7).Format(time.DateOnly)
	if out := mustRun(t, "wfm", "schedule", "team", "-id", "w2", "-after", "w1", "-rules", "site", "-start", next, "-days", "7", "-budget", "1s", c); !strings.HasPrefix(out, "created schedule w2: ") {
		t.Errorf("schedule -after printed %q", out)
	}
	if _, _, err := runCommand(t, "wfm", "schedule", "team", "-id", "w3", "-after", "w9", "-start", next, "-days", "7", c); err == nil || !strings.Contains(err.Error(), "no schedule w9") {
		t.Errorf("schedule -after an unknown schedule: %v", err)
	}
	if _, _, err := runCommand(t, "wfm", "schedule", "team", "-days", "7", c); err == nil || !strings.Contains(err.Error(), "-start") {
		t.Errorf("schedule without -start: %v", err)
	}
	if out := mustRun(t, "wfm", "schedules", c); !strings.Contains(out, "w1") || !strings.Contains(out, today) {
		t.Errorf("schedules printed %q", out)
	}
	csv := mustRun(t, "wfm", "show", "w1", c)
	if !strings.HasPrefix(csv, "agent,date,template,start,end,paid_hours,breaks\n") || strings.Count(csv, "\n") < 10 {
		t.Errorf("show printed %q", csv)
	}
	svg := filepath.Join(dir, "week.svg")
	mustRun(t, "wfm", "show", "w1", "-format", "svg", "-chart", "week", "-o", svg, c)
	if raw, err := os.ReadFile(svg); err != nil || !bytes.HasPrefix(raw, []byte("<svg")) || bytes.Contains(raw, []byte("Person")) {
		t.Errorf("week chart: %v %.100s", err, raw)
	}
	noon := time.Now().UTC().Truncate(24 * time.Hour).Add(12 * time.Hour).Format(time.RFC3339)
	if out := mustRun(t, "wfm", "intraday", "w1", "-now", noon, c); !strings.HasPrefix(out, "queue billing: 0 contacts so far") || !strings.Contains(out, "KIND") {
		t.Errorf("intraday printed %q", out)
	}
	if _, _, err := runCommand(t, "wfm", "intraday", "w1", "-now", noon, "-max_call_in", "7m", c); err == nil || !strings.Contains(err.Error(), "max_call_in") {
		t.Errorf("intraday -max_call_in 7m: %v", err)
	}
	// Half as many contacts again needs more agent-hours and leaves the
	// schedule further short; asking for no change is a usage error.
	whatIf := func(args ...string) (before, after, paidBefore, paidAfter, underBefore, underAfter float64) {
		t.Helper()
		out := mustRun(t, "wfm", append([]string{"what-if", "w1"}, append(args, c)...)...)
		var peak int
		var overBefore, overAfter float64
		if _, err := fmt.Sscanf(out[strings.Index(out, "\nbilling")+1:], "billing %g %g %g %g %d", &before, &after, &paidBefore, &paidAfter, &peak); err != nil || peak < 1 {
			t.Fatalf("what-if %v printed %q: %v", args, out, err)
		}
		line := out[strings.Index(out, "schedule w1:"):]
		if _, err := fmt.Sscanf(line, "schedule w1: under %g, over %g agent-intervals as planned; under %g, over %g with the change", &underBefore, &overBefore, &underAfter, &overAfter); err != nil {
			t.Fatalf("what-if %v coverage line %q: %v", args, line, err)
		}
		return
	}
	if before, after, paidBefore, paidAfter, underBefore, underAfter := whatIf("-volume", "1.5"); !(after > before) || !(paidAfter > paidBefore) || !(underAfter > underBefore) {
		t.Errorf("what-if -volume 1.5: agent-hours %g -> %g, paid %g -> %g, under %g -> %g", before, after, paidBefore, paidAfter, underBefore, underAfter)
	}
	// No shrinkage: the paid hours are the hours on contacts.
	if before, after, paidBefore, paidAfter, _, _ := whatIf("-shrinkage", "0"); after != before || paidAfter != after || !(paidBefore > before) {
		t.Errorf("what-if -shrinkage 0: agent-hours %g -> %g, paid %g -> %g", before, after, paidBefore, paidAfter)
	}
	if _, _, err := runCommand(t, "wfm", "what-if", "w1", c); err == nil || !strings.Contains(err.Error(), "-volume") {
		t.Errorf("what-if with no change: %v", err)
	}
	if _, _, err := runCommand(t, "wfm", "what-if", "w1", "-sl", "2", c); err == nil || !strings.Contains(err.Error(), "service_level") {
		t.Errorf("what-if with a bad service level: %v", err)
	}
	if out, _, err := runCommand(t, "wfm", "show", "nope", c); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("show of no schedule: %v %q", err, out)
	}
	// A failed call leaves no partial file behind.
	none := filepath.Join(dir, "none.csv")
	if _, _, err := runCommand(t, "wfm", "show", "nope", "-o", none, c); err == nil {
		t.Error("show of no schedule to a file: no error")
	}
	if _, err := os.Stat(none); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("show of no schedule left %s: %v", none, err)
	}
}
