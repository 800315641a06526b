package daemon

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/earshot/earshot/inference/ollama"
)

// TestObservabilityKitNamesExportedMetrics checks that every metric the
// Grafana dashboard and the alerting rules in packaging/observability query
// is one a running daemon exports: the families scraped from /metrics, and
// the vectors the daemon has registered but that have no series until
// their first event (a fresh daemon has refused nothing yet). SIP and an
// Ollama provider are configured so that their families register; the
// Ollama address is a closed loopback port, as no generation happens here.
func TestObservabilityKitNamesExportedMetrics(t *testing.T) {
	td := startDaemon(t, func(c *Config) {
		c.Media.SIP = DefaultSIPConfig()
		c.Media.SIP.Enabled = true
		c.Media.SIP.UDP, c.Media.SIP.TCP = "127.0.0.1:0", ""
		c.Ollama.URL = "http://127.0.0.1:9"
		c.Ollama.Models = map[ollama.Feature]string{ollama.FeatureSummary: "test"}
	})
	td.mustCall(t, td.Admin, "GET", "/api/v1/queues", nil, 200)
	_, body := td.call(t, "", "GET", "/metrics", nil)
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	exported := map[string]bool{}
	for name := range fams {
		exported[name] = true
	}
	// Registered families, series or not. A Desc has no accessor for its
	// name; its String form has been stable across client_golang releases,
	// and the scraped families below check the parsing.
	descs := make(chan *prometheus.Desc)
	go func() { td.reg.Describe(descs); close(descs) }()
	fqName := regexp.MustCompile(`fqName: "([^"]+)"`)
	registered := map[string]bool{}
	for d := range descs {
		if m := fqName.FindStringSubmatch(d.String()); m != nil {
			registered[m[1]] = true
		}
	}
	for name := range exported {
		if !registered[name] {
			t.Errorf("/metrics has %s, which the registry does not describe", name)
		}
		registered[name] = true
	}

	metricName := regexp.MustCompile(`\bearshot_[a-z0-9_]+`)
	for _, file := range []string{"earshot-dashboard.json", "earshot-alerts.yml"} {
		text, err := os.ReadFile(filepath.Join("..", "packaging", "observability", file))
		if err != nil {
			t.Fatal(err)
		}
		names := metricName.FindAllString(string(text), -1)
		if len(names) < 10 {
			t.Fatalf("%s names %d earshot metrics, want the kit's queries", file, len(names))
		}
		slices.Sort(names)
		for _, n := range slices.Compact(names) {
			base := n
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				if b, ok := strings.CutSuffix(n, suffix); ok && registered[b] {
					base = b
				}
			}
			if !registered[base] {
				t.Errorf("%s queries %s, which the daemon does not export", file, n)
			}
		}
	}
}
