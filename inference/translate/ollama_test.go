package translate

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/earshot/earshot/inference"
	"github.com/earshot/earshot/inference/ollama"
	"github.com/earshot/earshot/inference/ollama/ollamatest"
)

// countingGenerator records the requests it passes to the provider.
type countingGenerator struct {
	g       generator
	calls   atomic.Int32
	schemas atomic.Int32
}

func (c *countingGenerator) Generate(ctx context.Context, req inference.GenerateRequest) (<-chan string, func() error, error) {
	c.calls.Add(1)
	if strings.Contains(string(req.Schema), `"translation"`) {
		c.schemas.Add(1)
	}
	return c.g.Generate(ctx, req)
}

// TestOllamaFallsBackToApertium runs a real Ollama server with the tiny
// random-weight test model: its replies follow the JSON schema but are
// noise, so the plausibility check rejects them and Apertium translates.
// With the server stopped, Apertium translates too.
func TestOllamaFallsBackToApertium(t *testing.T) {
	srv := ollamatest.Start(t, ollamatest.Options{})
	ocfg := ollama.DefaultConfig()
	ocfg.URL = srv.URL
	ocfg.Models = map[ollama.Feature]string{ollama.FeatureGenerate: ollamatest.Model}
	ocfg.Timeout = 60 * time.Second
	ocfg.MaxTokens = 64
	prov, err := ollama.New(ocfg, nil, nil, ollama.Fallback{})
	if err != nil {
		t.Fatal(err)
	}
	defer prov.Close()
	gen := &countingGenerator{g: prov.Generator(ollama.FeatureGenerate)}
	oe, err := NewOllama(DefaultOllamaConfig(), gen)
	if err != nil {
		t.Fatal(err)
	}
	a := newTestApertium(t, DefaultApertiumConfig())
	reg := prometheus.NewRegistry()
	tr, err := New(DefaultConfig(), nil, reg, oe, a)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	res, err := tr.Translate(ctx, Request{Text: "Quiero cancelar mi tarjeta de crédito.", From: Spanish, To: English})
	if err != nil || !res.Translated || res.Engine != "apertium" || !res.Fallback || !strings.Contains(res.Text, "I want to cancel") {
		t.Fatalf("with the noise model: %+v, %v", res, err)
	}
	if gen.calls.Load() != 1 || gen.schemas.Load() != 1 {
		t.Errorf("model asked %d times (%d with the schema), want once with it", gen.calls.Load(), gen.schemas.Load())
	}
	if got := testutil.ToFloat64(tr.m.fallbacks.WithLabelValues("ollama", "implausible")) +
		testutil.ToFloat64(tr.m.fallbacks.WithLabelValues("ollama", "error")); got != 1 {
		t.Errorf("ollama fallbacks = %v, want 1", got)
	}

	srv.Stop()
	res, err = tr.Translate(ctx, Request{Text: "Gracias por su ayuda.", From: Spanish, To: English})
	if err != nil || res.Engine != "apertium" || res.Text != "Thank you By his help." {
		t.Errorf("server stopped: %+v, %v", res, err)
	}
}

func TestOllamaCheck(t *testing.T) {
	oe, err := NewOllama(DefaultOllamaConfig(), &countingGenerator{})
	if err != nil {
		t.Fatal(err)
	}
	p := Pair{Spanish, English}
	tests := []struct {
		src, out string
		ok       bool
	}{
		{"Quiero cancelar mi tarjeta de crédito.", "I want to cancel my credit card.", true},
		{"Quiero cancelar mi tarjeta de crédito.", "Quiero cancelar mi tarjeta de crédito.", false}, // not English
		{"Quiero cancelar mi tarjeta de crédito.", "", false},
		{"Hola", strings.Repeat("hello ", 40), false},
		{"Gracias", "Thanks\x00", false},
	}
	for _, tt := range tests {
		_, err := oe.check(p, tt.src, tt.out)
		if (err == nil) != tt.ok {
			t.Errorf("check(%q, %q) = %v, want ok %v", tt.src, tt.out, err, tt.ok)
		}
	}
}
