package router_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/earshot/earshot/inference"
	"github.com/earshot/earshot/inference/builtin"
	"github.com/earshot/earshot/inference/ollama"
	"github.com/earshot/earshot/inference/router"
)

// plugin stands for a model plugin that serves summaries only.
type plugin struct{}

func (plugin) Summarize(context.Context, []inference.Utterance) (inference.Summary, error) {
	return inference.Summary{Text: "from the plugin", Provenance: inference.Provenance{Provider: "plugin:acme"}}, nil
}

func TestRoutesAreLayered(t *testing.T) {
	reg := prometheus.NewRegistry()
	r, err := router.New(nil, reg)
	if err != nil {
		t.Fatal(err)
	}
	p, err := builtin.New(builtin.DefaultConfig(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	set := r.SetAll(builtin.ProviderName, p)
	want := []router.Capability{router.Summary, router.Notes, router.Tasks, router.Disposition, router.Keywords,
		router.Topics, router.Sentiment, router.Intents}
	if diff := cmp.Diff(want, set); diff != "" {
		t.Errorf("built-in capabilities (-want +got):\n%s", diff)
	}
	if r.Generator() != nil || r.NextStepWorder() != nil || r.Embedder() != nil {
		t.Error("capabilities the built-in provider lacks are routed")
	}

	// An Ollama server with models for summaries and next steps takes
	// those two; nothing is contacted to route.
	cfg := ollama.DefaultConfig()
	cfg.URL = closedURL(t)
	cfg.Models = map[ollama.Feature]string{ollama.FeatureSummary: "m", ollama.FeatureNextStep: "m"}
	gen, err := ollama.New(cfg, nil, nil, ollama.FallbackFrom(p))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range ollama.Features {
		if gen.Serves(f) {
			if err := r.Set(router.Capability(f), ollama.ProviderName, gen); err != nil {
				t.Fatal(err)
			}
		}
	}
	if got := r.Provider(router.Summary); got != ollama.ProviderName {
		t.Errorf("summary served by %q, want ollama", got)
	}
	if r.NextStepWorder() == nil || r.Provider(router.Tasks) != builtin.ProviderName {
		t.Errorf("routes after Ollama: %+v", r.Routes())
	}

	// A model plugin goes on top, and hands back when removed.
	if err := r.Set(router.Summary, "plugin:acme", plugin{}); err != nil {
		t.Fatal(err)
	}
	s, err := r.Summarizer().Summarize(context.Background(), []inference.Utterance{{Party: "customer", Text: "hello"}})
	if err != nil || s.Text != "from the plugin" {
		t.Errorf("Summarize = %+v, %v; want the plugin's", s, err)
	}
	if n := routeValue(t, reg, "summary", "plugin:acme"); n != 1 {
		t.Errorf("route gauge for the plugin = %v, want 1", n)
	}
	r.Remove("plugin:acme")
	if got := r.Provider(router.Summary); got != ollama.ProviderName {
		t.Errorf("after the plugin is removed, summary is served by %q, want ollama", got)
	}
	r.Remove(ollama.ProviderName, router.Summary)
	wantRoutes := []router.Route{{router.Summary, "builtin"}, {router.Notes, "builtin"}, {router.Tasks, "builtin"},
		{router.Disposition, "builtin"}, {router.Keywords, "builtin"}, {router.Topics, "builtin"}, {router.Sentiment, "builtin"},
		{router.Intents, "builtin"}, {router.NextStep, "ollama"}}
	if diff := cmp.Diff(wantRoutes, r.Routes()); diff != "" {
		t.Errorf("routes (-want +got):\n%s", diff)
	}
	if n, err := testutil.GatherAndCount(reg, "earshot_inference_route"); err != nil || n != len(wantRoutes) {
		t.Errorf("route series = %d, %v; want %d", n, err, len(wantRoutes))
	}
}

func routeValue(t *testing.T, reg *prometheus.Registry, capability, provider string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "earshot_inference_route" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["capability"] == capability && labels["provider"] == provider {
				return m.GetGauge().GetValue()
			}
		}
	}
	return 0
}

// closedURL is a loopback URL nothing listens on.
func closedURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return "http://" + l.Addr().String()
}

func TestSetRefusesWhatDoesNotFit(t *testing.T) {
	r, err := router.New(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name     string
		c        router.Capability
		provider string
		impl     any
		wantErr  string
	}{
		{"wrong interface", router.Embed, "acme", plugin{}, "does not implement"},
		{"nil", router.Summary, "acme", nil, "does not implement"},
		{"unknown capability", "telepathy", "acme", plugin{}, "unknown capability"},
		{"no provider name", router.Summary, "", plugin{}, "provider name is empty"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := r.Set(tt.c, tt.provider, tt.impl)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Set = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
	if len(r.Routes()) != 0 {
		t.Errorf("refused routes were kept: %+v", r.Routes())
	}
}

// TestEveryOllamaFeatureIsACapability keeps the daemon's wiring, which
// routes Ollama features by name, true.
func TestEveryOllamaFeatureIsACapability(t *testing.T) {
	cfg := ollama.DefaultConfig()
	cfg.URL = closedURL(t)
	cfg.Models = map[ollama.Feature]string{}
	for _, f := range ollama.Features {
		cfg.Models[f] = "m"
	}
	gen, err := ollama.New(cfg, nil, nil, ollama.Fallback{})
	if err != nil {
		t.Fatal(err)
	}
	r, _ := router.New(nil, nil)
	for _, f := range ollama.Features {
		var impl any = gen
		if f == ollama.FeatureGenerate {
			impl = gen.Generator(f)
		}
		if err := r.Set(router.Capability(f), ollama.ProviderName, impl); err != nil {
			t.Errorf("feature %s: %v", f, err)
		}
	}
	// Without a server and without a fallback, a routed call says so.
	_, err = r.Summarizer().Summarize(context.Background(), []inference.Utterance{{Party: "customer", Text: "hi"}})
	if !errors.Is(err, inference.ErrUnavailable) {
		t.Errorf("Summarize with the server down and no fallback: %v, want ErrUnavailable", err)
	}
}
