package pipeline_test

import (
	"context"
	"testing"
	"time"

	"github.com/earshot/earshot/media/pipeline"
	"github.com/earshot/earshot/media/stt"
	"github.com/earshot/earshot/media/stt/pocketsphinx"
	"github.com/prometheus/client_golang/prometheus"
)

// TestRecogniserPoolMetrics: a stream takes the warm PocketSphinx
// decoder and another is made in the background; a narrowband stream
// then finds none of its kind and waits for its own. The pipeline
// exports both counts.
func TestRecogniserPoolMetrics(t *testing.T) {
	cfg := pocketsphinx.DefaultConfig()
	cfg.Search, cfg.WarpSelection, cfg.MaxDecoders, cfg.Warm = pocketsphinx.SearchFast, nil, 2, 1
	eng, err := pocketsphinx.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	reg := prometheus.NewRegistry()
	if _, err := pipeline.New(pipeline.DefaultConfig(), nil, reg, eng); err != nil {
		t.Fatal(err)
	}
	s1, err := eng.NewStream(context.Background(), stt.StreamOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s1.Close()
	deadline := time.Now().Add(2 * time.Minute)
	for counter(t, reg, "earshot_pipeline_recognisers_warmed_total", "") < 1 {
		if time.Now().After(deadline) {
			t.Fatal("no recogniser made in the background")
		}
		time.Sleep(10 * time.Millisecond)
	}
	s2, err := eng.NewStream(context.Background(), stt.StreamOptions{Narrowband: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	made, failed, waited := eng.DecoderPool()
	for _, c := range []struct {
		name string
		want int64
	}{
		{"earshot_pipeline_recognisers_warmed_total", made},
		{"earshot_pipeline_recogniser_warm_failures_total", failed},
		{"earshot_pipeline_recogniser_waits_total", waited},
	} {
		if got := counter(t, reg, c.name, ""); got != float64(c.want) {
			t.Errorf("%s = %v, engine %d", c.name, got, c.want)
		}
	}
	if made != 1 || failed != 0 || waited != 1 {
		t.Errorf("engine: made %d, failed %d, waited %d; want 1, 0, 1", made, failed, waited)
	}
}
