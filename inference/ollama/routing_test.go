package ollama

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/earshot/earshot/inference"
)

// closedURL is a loopback URL nothing listens on.
func closedURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + l.Addr().String()
	l.Close()
	return url
}

func TestInvalidInput(t *testing.T) {
	p, reg, fb := newTestProvider(t, testConfig(closedURL(t)))
	ctx := context.Background()
	ref := time.Date(2026, 11, 25, 15, 0, 0, 0, time.UTC)
	dup := []inference.DispositionCode{{Code: "A"}, {Code: "A"}}
	tests := []struct {
		name    string
		call    func() error
		wantErr string
	}{
		{"summary empty", func() error { _, err := p.Summarize(ctx, nil); return err }, "ollama: summary: conversation is empty"},
		{"notes bad utf8", func() error {
			_, err := p.WriteNotes(ctx, []inference.Utterance{{Party: "agent", Text: "ok"}, {Party: "agent", Text: "\xff"}})
			return err
		}, "ollama: notes: utterance 1: text is not valid UTF-8"},
		{"tasks zero ref", func() error { _, err := p.ExtractTasks(ctx, testConv, time.Time{}); return err }, "reference time is zero"},
		{"tasks empty", func() error { _, err := p.ExtractTasks(ctx, nil, ref); return err }, "ollama: tasks: conversation is empty"},
		{"no codes", func() error { _, err := p.ClassifyDisposition(ctx, testConv, nil); return err }, "no disposition codes"},
		{"empty code", func() error {
			_, err := p.ClassifyDisposition(ctx, testConv, []inference.DispositionCode{{Code: "A"}, {Code: " "}})
			return err
		}, "codes[1]: code is empty"},
		{"duplicate code", func() error { _, err := p.ClassifyDisposition(ctx, testConv, dup); return err }, `codes[1]: code "A" appears twice`},
		{"keywords n", func() error { _, err := p.Keywords(ctx, testConv, 0); return err }, "n must be positive, got 0"},
		{"empty prompt", func() error { _, _, err := p.Generate(ctx, inference.GenerateRequest{Prompt: " "}); return err }, "prompt is empty"},
		{"bad schema", func() error {
			_, _, err := p.Generate(ctx, inference.GenerateRequest{Prompt: "x", Schema: []byte(`{"type":"string"}`)})
			return err
		}, "request schema: ollama: schema: $: strings need maxLength or enum"},
		{"generator for embed", func() error {
			_, _, err := p.Generator(FeatureEmbed).Generate(ctx, inference.GenerateRequest{Prompt: "x"})
			return err
		}, `feature "embed" does not generate text`},
		{"embed empty text", func() error { _, err := p.Embed(ctx, []string{"a", ""}); return err }, "ollama: embed: texts[1] is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
	if n := metric(t, reg, "earshot_inference_ollama_requests_total", "outcome", "invalid_input"); n != float64(len(tests)) {
		t.Errorf("requests_total{outcome=invalid_input} = %v, want %d", n, len(tests))
	}
	if fb.total() != 0 || metric(t, reg, "earshot_inference_ollama_failures_total") != 0 {
		t.Errorf("bad input reached the fallback (%v) or the server", fb.calls)
	}
}

// TestUnconfiguredFeaturesGoToBuiltin checks the routing: a feature without
// a model is served by the built-in provider and does not count as a
// fallback or touch the server.
func TestUnconfiguredFeaturesGoToBuiltin(t *testing.T) {
	cfg := testConfig(closedURL(t))
	cfg.Models = map[Feature]string{FeatureEmbed: "nomic-embed-text"}
	p, reg, fb := newTestProvider(t, cfg)
	ctx := context.Background()
	if s, err := p.Summarize(ctx, testConv); err != nil || s.Provenance != testProvenance {
		t.Errorf("Summarize = %+v, %v; want the built-in summary", s, err)
	}
	if _, err := p.ExtractTasks(ctx, testConv, time.Now()); err != nil || fb.count("tasks") != 1 {
		t.Errorf("ExtractTasks: %v, built-in calls %d", err, fb.count("tasks"))
	}
	if p.Serves(FeatureSummary) || !p.Serves(FeatureEmbed) {
		t.Errorf("Serves: summary %v, embed %v; want false, true", p.Serves(FeatureSummary), p.Serves(FeatureEmbed))
	}
	for _, name := range []string{"earshot_inference_ollama_fallbacks_total", "earshot_inference_ollama_failures_total"} {
		if n := metric(t, reg, name); n != 0 {
			t.Errorf("%s = %v, want 0 for routed calls", name, n)
		}
	}
	// Without a fallback an unconfigured feature is unavailable.
	p2, err := New(cfg, nil, nil, Fallback{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p2.WriteNotes(ctx, testConv); !errors.Is(err, inference.ErrUnavailable) {
		t.Errorf("WriteNotes with no model and no fallback: %v, want ErrUnavailable", err)
	}
}

// TestBusyFallsBack holds the only slot with a call to a loopback server
// that never answers; a second call finds no slot within its timeout.
func TestBusyFallsBack(t *testing.T) {
	arrived := make(chan struct{}, 4)
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	cfg := testConfig(srv.URL)
	cfg.MaxInFlight = 1
	cfg.Timeouts = map[Feature]time.Duration{FeatureSummary: 10 * time.Second, FeatureNotes: 200 * time.Millisecond}
	p, reg, fb := newTestProvider(t, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	first := make(chan error, 1)
	go func() { _, err := p.Summarize(ctx, testConv); first <- err }()
	<-arrived
	if n, err := p.WriteNotes(context.Background(), testConv); err != nil || n.Provenance != testProvenance {
		t.Fatalf("WriteNotes while the slot is taken = %+v, %v; want the built-in notes", n, err)
	}
	if n := metric(t, reg, "earshot_inference_ollama_fallbacks_total", "feature", "notes", "reason", "busy"); n != 1 {
		t.Errorf("fallbacks_total{notes,busy} = %v, want 1", n)
	}
	// A caller that gives up gets its context's error, not a fallback.
	cancel()
	if err := <-first; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled Summarize: %v, want context.Canceled", err)
	}
	if fb.count("summary") != 0 || p.breaker.open() {
		t.Errorf("a cancelled call fell back (%d) or fed the breaker (%v)", fb.count("summary"), p.breaker.open())
	}
}

// TestLogsCarryNoContent checks that fallback logs name the feature and
// reason but never the conversation.
func TestLogsCarryNoContent(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg := testConfig(closedURL(t))
	p, err := New(cfg, logger, prometheus.NewRegistry(), FallbackFrom(&testBuiltin{}))
	if err != nil {
		t.Fatal(err)
	}
	for range cfg.FailureThreshold + 1 {
		if _, err := p.Summarize(context.Background(), testConv); err != nil {
			t.Fatal(err)
		}
	}
	logs := buf.String()
	if !strings.Contains(logs, "reason=unavailable") || !strings.Contains(logs, "reason=circuit_open") {
		t.Errorf("logs lack the fallback reasons:\n%s", logs)
	}
	for _, u := range testConv {
		for _, w := range strings.Fields(u.Text) {
			if len(w) > 6 && strings.Contains(logs, w) {
				t.Errorf("logs contain conversation text %q:\n%s", w, logs)
			}
		}
	}
}
