package pipeline_test

import (
	"testing"

	"github.com/earshot/earshot/internal/testspeech"
	"github.com/earshot/earshot/media/stt/pocketsphinx"
	"github.com/prometheus/client_golang/prometheus"
)

// TestWarpMetrics: a male Flite voice through the pipeline with a
// PocketSphinx engine that chooses a frequency warp per stream; the
// pipeline exports the stream under the warp chosen (0.9 for this voice,
// as the engine's own test finds).
func TestWarpMetrics(t *testing.T) {
	f := testspeech.Flite(t, "kal16", "please check the balance of my account")
	cfg := pocketsphinx.DefaultConfig()
	cfg.Search = pocketsphinx.SearchFast
	cfg.MaxDecoders, cfg.Warm, cfg.WarpSelection = 3, 0, []float64{0.9, 1.1}
	eng, err := pocketsphinx.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	reg := prometheus.NewRegistry()
	if text := uploadSpeech(t, eng, reg, "warp", f); text != "please check the balance of my account" {
		t.Errorf("heard %q", text)
	}
	name := "earshot_pipeline_warp_streams_total"
	if on, off, up := counter(t, reg, name, "0.9"), counter(t, reg, name, "1"), counter(t, reg, name, "1.1"); on != 1 || off != 0 || up != 0 {
		t.Errorf("%s by warp: 0.9 %v, 1 %v, 1.1 %v; want the stream on 0.9", name, on, off, up)
	}
}
