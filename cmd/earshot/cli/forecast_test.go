package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/earshot/earshot/inference/forecast"
	"github.com/earshot/earshot/inference/forecast/forecasttest"
)

func TestForecastCLI(t *testing.T) {
	dir := t.TempDir()
	hist := filepath.Join(dir, "hist.csv")
	if err := os.WriteFile(hist, []byte(forecasttest.CSV(forecasttest.Weekdays())), 0o600); err != nil {
		t.Fatal(err)
	}
	two := filepath.Join(dir, "two.csv")
	os.WriteFile(two, []byte("timestamp,queue,count\n2026-01-05 08:00,cards,3\n2026-01-05 08:00,sales,4\n"), 0o600)
	run := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := runForecast(args, strings.NewReader(""), &out, io.Discard)
		return out.String(), err
	}
	// run -> CSV on stdout.
	out, err := run("run", "-queue", "cards", "-days", "7", hist)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out, "start,queue,open") || strings.Count(out, "\n") != 1+7*48 {
		t.Errorf("run: %d lines, starts %.40q", strings.Count(out, "\n"), out)
	}
	// run -format json -o FILE.
	jf := filepath.Join(dir, "f.json")
	if _, err := run("run", "-queue", "cards", "-days", "3", "-format", "json", "-o", jf, hist); err != nil {
		t.Fatal(err)
	}
	var f forecast.Forecast
	b, _ := os.ReadFile(jf)
	if err := json.Unmarshal(b, &f); err != nil || f.Days != 3 {
		t.Errorf("json output: %v, days %d", err, f.Days)
	}
	// backtest table.
	out, err = run("backtest", "-queue", "cards", "-origins", "3", "-horizon_days", "14", hist)
	if err != nil || !strings.Contains(out, "3 origins x 14 days") || !strings.Contains(out, "1-7") || !strings.Contains(out, "1-14") {
		t.Errorf("backtest: %v\n%s", err, out)
	}
	// staff table.
	out, err = run("staff", "-queue", "cards", "-days", "7", "-sl", "0.9", "-within", "15s", hist)
	if err != nil || !strings.Contains(out, "target 90 % in 15s") || strings.Count(out, "\n") != 2+5+1 {
		t.Errorf("staff: %v\n%s", err, out)
	}
	// longterm table.
	out, err = run("longterm", "-queue", "cards", "-months", "3", hist)
	if err != nil || strings.Count(out, "\n") != 1+3 {
		t.Errorf("longterm: %v\n%s", err, out)
	}
	// erlang.
	out, err = run("erlang", "-contacts", "100", "-aht", "180s", "-shrinkage", "0.3")
	if err != nil || !strings.Contains(out, "14 agents (20 scheduled") {
		t.Errorf("erlang: %v %s", err, out)
	}
	// Errors.
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"nope"}, "unknown forecast command"},
		{[]string{"run", "-step", "7m", hist}, "15m, 30m or 1h"},
		{[]string{"run", "-format", "pdf", hist}, "-format"},
		{[]string{"run", "-queue", "loans", two}, "no rows for queue"},
		{[]string{"run", two}, "choose one with -queue"},
		{[]string{"erlang", "-aht", "180s"}, "-contacts"},
	} {
		_, err := run(tt.args...)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: err %v, want %q", tt.args, err, tt.want)
		}
	}
	if _, err := run("run", hist+".missing"); err == nil || errors.Is(err, ErrUsage) {
		t.Errorf("missing file: err %v", err)
	}
}

func TestShortDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{15 * time.Minute: "15m", 30 * time.Minute: "30m", time.Hour: "1h", 90 * time.Minute: "1h30m", 20 * time.Second: "20s"} {
		if got := shortDuration(d); got != want {
			t.Errorf("shortDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

// TestForecastFormatDefaults: each subcommand's -h states the -format
// default it really uses, and a format it cannot write is refused.
func TestForecastFormatDefaults(t *testing.T) {
	hist := filepath.Join(t.TempDir(), "hist.csv")
	if err := os.WriteFile(hist, []byte(forecasttest.CSV(forecasttest.Weekdays())), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		sub, def, starts string
		args             []string
	}{
		{"run", "csv", "start,queue,open", []string{"-days", "2"}},
		{"staff", "table", "queue default: target", []string{"-days", "2"}},
		{"backtest", "table", "queue default, model", []string{"-origins", "1", "-horizon_days", "7"}},
		{"longterm", "table", "    month", []string{"-months", "2"}},
	} {
		var help bytes.Buffer
		err := runForecast([]string{tt.sub, "-h"}, strings.NewReader(""), &help, io.Discard)
		if !errors.Is(err, flag.ErrHelp) || !strings.Contains(help.String(), `(default "`+tt.def+`")`) {
			t.Errorf("forecast %s -h: %v, help does not give -format's default %q:\n%s", tt.sub, err, tt.def, help.String())
		}
		var out bytes.Buffer
		if err := runForecast(append(append([]string{tt.sub}, tt.args...), hist), strings.NewReader(""), &out, io.Discard); err != nil || !strings.HasPrefix(out.String(), tt.starts) {
			t.Errorf("forecast %s without -format: %v, printed %.80q, want %s output starting %q", tt.sub, err, out.String(), tt.def, tt.starts)
		}
		bad := "table"
		if tt.sub != "run" {
			bad = "svg"
		}
		if err := runForecast([]string{tt.sub, "-format", bad, hist}, strings.NewReader(""), io.Discard, io.Discard); !errors.Is(err, ErrUsage) {
			t.Errorf("forecast %s -format %s: %v, want a usage error", tt.sub, bad, err)
		}
	}
}
