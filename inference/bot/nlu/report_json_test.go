package nlu

import (
	"encoding/json"
	"testing"
)

// A model trained on one phrase per intent holds nothing out and has no
// threshold; its report must still be JSON (the publish answer carries it).
func TestReportJSONWithoutThreshold(t *testing.T) {
	m, err := Train(t.Context(), DefaultConfig(), []Example{
		{Text: "I lost my card", Intent: "lost_card"},
		{Text: "what is my balance", Intent: "balance"},
	})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(m.Report())
	if err != nil {
		t.Fatalf("report not encodable: %v", err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if th, ok := got["threshold"]; !ok || th != nil {
		t.Errorf("threshold = %v (present %v), want null", th, ok)
	}
	if got["intents"] != float64(2) {
		t.Errorf("intents = %v, want 2", got["intents"])
	}

	// A model with a threshold reports it as a number.
	m, err = Train(t.Context(), DefaultConfig(), examples())
	if err != nil {
		t.Fatal(err)
	}
	b, err = json.Marshal(m.Report())
	if err != nil {
		t.Fatal(err)
	}
	got = nil
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if th, ok := got["threshold"].(float64); !ok || th != m.Threshold() {
		t.Errorf("threshold = %v, want %v", got["threshold"], m.Threshold())
	}
}
