package forecast

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestServiceMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	svc, err := New(DefaultConfig(), nil, reg)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.ImportCSV(strings.NewReader("timestamp,queue,count\nx,q,1\n2026-01-05 08:00,q,-1\n"), ImportOptions{Step: 1800e9}); err == nil {
		t.Fatal("bad CSV imported")
	}
	if _, _, err := svc.ImportCSV(strings.NewReader("timestamp,queue,count\n2026-01-05 08:00,q,1\n2026-01-05 08:30,q,2\n"), ImportOptions{Step: 1800e9}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Fit(defaultSynth().series(), nil); err != nil {
		t.Fatal(err)
	}
	short := defaultSynth()
	short.days = 5
	if _, err := svc.Fit(short.series(), nil); err == nil {
		t.Fatal("5 days fitted")
	}
	want := `
# HELP earshot_forecast_import_rows_total CSV history rows by result (accepted, rejected). A file with any rejected row imports nothing.
# TYPE earshot_forecast_import_rows_total counter
earshot_forecast_import_rows_total{result="accepted"} 2
earshot_forecast_import_rows_total{result="rejected"} 2
# HELP earshot_forecast_fits_total Model fits by kind (short, long) and result (ok, too_short, bad_input, bad_config, error).
# TYPE earshot_forecast_fits_total counter
earshot_forecast_fits_total{kind="short",result="ok"} 1
earshot_forecast_fits_total{kind="short",result="too_short"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "earshot_forecast_import_rows_total", "earshot_forecast_fits_total"); err != nil {
		t.Error(err)
	}
	if _, err := New(DefaultConfig(), nil, reg); err == nil {
		t.Error("registering twice on one registry: no error")
	}
}

func TestPackageDocs(t *testing.T) {
	// Every package of this tree has a doc comment (CONVENTIONS.md §12): the
	// doc.go files are checked by reading them.
	for _, f := range []string{"doc.go", "erlang/erlang.go", "chart/chart.go"} {
		b, err := readFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(b, "\n// Package ") && !strings.HasPrefix(b, "// Package ") {
			t.Errorf("%s has no package doc comment", f)
		}
	}
}
