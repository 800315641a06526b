package ollama_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/earshot/earshot/inference"
	"github.com/earshot/earshot/inference/ollama"
)

// ExampleNew wires the provider as the daemon would: summaries and notes
// from a local model, everything else from the built-in provider (here an
// empty Fallback stands in for it).
func ExampleNew() {
	cfg := ollama.DefaultConfig()
	cfg.Models = map[ollama.Feature]string{
		ollama.FeatureSummary: "llama3.2:3b",
		ollama.FeatureNotes:   "llama3.2:3b",
	}
	cfg.Timeouts = map[ollama.Feature]time.Duration{ollama.FeatureNotes: 30 * time.Second}
	var builtin any // the built-in provider
	p, err := ollama.New(cfg, slog.Default(), prometheus.NewRegistry(), ollama.FallbackFrom(builtin))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer p.Close()

	var summarizer inference.Summarizer = p
	_, err = summarizer.Summarize(context.Background(), []inference.Utterance{{Party: inference.PartyCustomer, Text: "hello"}})
	fmt.Println(errors.Is(err, inference.ErrUnavailable) || err == nil)
	fmt.Println(p.Serves(ollama.FeatureSummary), p.Serves(ollama.FeatureTasks))
}
