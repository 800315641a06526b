package pipeline_test

import (
	"testing"

	"github.com/earshot/earshot/internal/testspeech"
	"github.com/earshot/earshot/media/stt/pocketsphinx"
	"github.com/prometheus/client_golang/prometheus"
)

// TestSpokenFormsMetrics: a phone number read out (Flite) through the
// pipeline with a PocketSphinx engine that reads such utterances again
// with the spoken-forms prior; the pipeline exports the reading.
func TestSpokenFormsMetrics(t *testing.T) {
	f := testspeech.Flite(t, "slt", "my number is oh seven double four one nine three six")
	cfg := pocketsphinx.DefaultConfig()
	// The accurate search: the fast one does without the prior.
	cfg.Search = pocketsphinx.SearchAccurate
	cfg.MaxDecoders, cfg.Warm, cfg.WarpSelection = 1, 0, nil
	cfg.SpokenFormsWeight, cfg.SpokenFormsMode = 0.1, pocketsphinx.SpokenFormsReread
	eng, err := pocketsphinx.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	reg := prometheus.NewRegistry()
	text := uploadSpeech(t, eng, reg, "forms", f)
	read := counter(t, reg, "earshot_pipeline_spoken_forms_readings_total", "")
	if d, _ := eng.SpokenFormsReadings(); read < 1 || read != float64(d) {
		t.Errorf("heard %q; readings exported %v, engine %d", text, read, d)
	}
}
