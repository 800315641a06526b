package daemon

import (
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// TestMetricsScrapable parses /metrics with Prometheus's own text parser
// and checks the families operators alert on are there.
func TestMetricsScrapable(t *testing.T) {
	td := startDaemon(t, nil)
	td.mustCall(t, td.Admin, "GET", "/api/v1/queues", nil, 200)
	td.call(t, "", "GET", "/api/v1/queues", nil)
	_, body := td.call(t, "", "GET", "/metrics", nil)
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	for _, name := range []string{
		"earshot_api_requests_total", "earshot_api_request_duration_seconds", "earshot_build_info",
		"earshot_api_auth_failures_total", "earshot_engagements_live", "go_goroutines", "process_resident_memory_bytes",
	} {
		if _, ok := fams[name]; !ok {
			t.Errorf("metric family %s missing", name)
		}
	}
	var found bool
	for _, m := range fams["earshot_api_requests_total"].GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		if labels["route"] == "/api/v1/queues" && labels["code"] == "200" && m.GetCounter().GetValue() >= 1 {
			found = true
		}
	}
	if !found {
		t.Error("no earshot_api_requests_total sample for GET /api/v1/queues 200")
	}
}
