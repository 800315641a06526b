package cli

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// readmeForecastExamples returns the `earshot forecast` command lines of
// the project's README, split into arguments (after "earshot").
func readmeForecastExamples(t testing.TB) [][]string {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out [][]string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(line, "earshot forecast ") {
			continue
		}
		var args []string
		for _, w := range strings.Fields(line)[1:] {
			args = append(args, strings.Trim(w, `"'`))
		}
		out = append(out, args)
	}
	if len(out) < 4 {
		t.Fatalf("README.md has %d earshot forecast examples, want the 4 or more it documents", len(out))
	}
	return out
}

// runREADMEForecastExamples runs every README example on history (for
// history.csv), writing files into a temporary folder, and checks each
// printed what its subcommand should.
func runREADMEForecastExamples(t *testing.T, history string) {
	dir := t.TempDir()
	for _, args := range readmeForecastExamples(t) {
		for i, a := range args {
			switch {
			case a == "history.csv":
				args[i] = history
			case strings.HasSuffix(a, ".svg") || strings.HasSuffix(a, ".json") || strings.HasSuffix(a, ".csv"):
				args[i] = filepath.Join(dir, a)
			}
		}
		out, errOut, err := runCommand(t, "forecast", args[1:]...)
		if err != nil {
			t.Errorf("earshot %s: %v\n%s", strings.Join(args, " "), err, errOut)
			continue
		}
		sub := args[1]
		if sub != "erlang" && (!strings.Contains(errOut, "finer than -step 30m: ") || !strings.Contains(errOut, "rows were summed into the intervals")) {
			t.Errorf("earshot %s did not say it summed the 5-minute rows:\n%s", strings.Join(args, " "), errOut)
		}
		var ok bool
		switch sub {
		case "run":
			svg, _ := os.ReadFile(filepath.Join(dir, "forecast.svg"))
			ok = strings.HasPrefix(string(svg), "<svg") || strings.HasPrefix(out, "start,queue,open")
		case "staff":
			ok = strings.Contains(out, "target 80 % in 20s") && strings.Contains(out, "total")
		case "backtest":
			ok = strings.Contains(out, "origins x 28 days") && strings.Contains(out, "1-28")
		case "longterm":
			ok = strings.Contains(out, "FTE") && !strings.Contains(out, " 0.0 ")
		case "erlang":
			ok = strings.Contains(out, "14 agents (20 scheduled")
		}
		if !ok {
			t.Errorf("earshot %s printed:\n%s", strings.Join(args, " "), out)
		}
	}
	// Refusing the finer rows is one error, not one per row.
	_, _, err := runCommand(t, "forecast", "run", "-aggregate", "false", history)
	if err == nil || strings.Count(err.Error(), "\n") != 0 || !strings.Contains(err.Error(), "more rows like it") {
		t.Errorf("run -aggregate false on 5-minute rows: %v, want one line that counts the rows like the first", err)
	}
	// Without an AHT in the history, a long-term forecast asks for one.
	_, _, err = runCommand(t, "forecast", "longterm", history)
	if err == nil || !strings.Contains(err.Error(), "default_aht") {
		t.Errorf("longterm without AHT: %v, want a request for -default_aht", err)
	}
}

// TestREADMEForecastExamples runs the README's forecast examples on a
// 5-minute export laid out as the shipped bank_calls is (rownames,
// DateTime, Calls; weekdays 07:00-21:00; no AHT, no queue column). The
// eval TestEvalREADMEForecastExamples runs them on bank_calls itself.
func TestREADMEForecastExamples(t *testing.T) {
	path := filepath.Join(t.TempDir(), "calls_5min.csv")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriter(f)
	fmt.Fprintln(w, "rownames,DateTime,Calls")
	n := 0
	start := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)
	for d := 0; d < 26*7; d++ {
		day := start.AddDate(0, 0, d)
		if day.Weekday() == time.Saturday || day.Weekday() == time.Sunday {
			continue
		}
		for m := 7 * 60; m <= 21*60; m += 5 {
			x := float64(m-7*60) / (14 * 60)
			v := math.Round((10 + 12*math.Sin(x*math.Pi)) * (1 + 0.1*float64(day.Weekday()%3)) * (1 + 0.1*math.Sin(float64(d*m))))
			n++
			fmt.Fprintf(w, "%d,%s,%g\n", n, day.Add(time.Duration(m)*time.Minute).Format(time.RFC3339), v)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	runREADMEForecastExamples(t, path)
}
