package pipeline_test

import (
	"strings"
	"testing"

	"github.com/earshot/earshot/internal/testspeech"
	"github.com/earshot/earshot/media/stt/pocketsphinx"
	"github.com/prometheus/client_golang/prometheus"
)

// TestCardContextMetrics: a card number read after "my card number is"
// (Flite's awb voice), through the pipeline with a PocketSphinx engine
// that reads the audio after card phrases as digits: the number reaches
// the final segment as digits, and the pipeline exports how many
// stretches were read again and put in place.
func TestCardContextMetrics(t *testing.T) {
	const digits = "four five three nine one four eight eight zero three four three six four six seven"
	f := testspeech.Flite(t, "awb", "sure my card number is "+digits+" thanks")
	cfg := pocketsphinx.DefaultConfig()
	cfg.MaxDecoders, cfg.Warm, cfg.CardContextDigits, cfg.CardNumberRuns = 1, 0, true, false
	eng, err := pocketsphinx.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	reg := prometheus.NewRegistry()
	text := uploadSpeech(t, eng, reg, "card", f)
	if !strings.Contains(text, "card number "+digits) {
		t.Errorf("heard %q, want the number as digits after %q", text, "card number")
	}
	values := map[string]float64{}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			name := mf.GetName()
			for _, l := range m.GetLabel() {
				name += "/" + l.GetName() + "=" + l.GetValue()
			}
			values[name] = m.GetCounter().GetValue()
		}
	}
	// The reading after the card phrase counts as kind=phrase; runs are
	// off.
	for name, want := range map[string]float64{
		"earshot_pipeline_card_context_readings_total/kind=phrase": 1, "earshot_pipeline_card_context_replaced_total/kind=phrase": 1,
		"earshot_pipeline_card_context_readings_total/kind=run": 0, "earshot_pipeline_card_context_replaced_total/kind=run": 0,
	} {
		if got, ok := values[name]; !ok || got != want {
			t.Errorf("%s = %v (exported: %v), want %v", name, got, ok, want)
		}
	}
}
