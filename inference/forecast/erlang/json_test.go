package erlang

import (
	"encoding/json"
	"testing"
	"time"
)

// TestJSONDurations: Target and Interval write their durations as
// *_seconds (the Erlang calculator's request names) and read them back.
func TestJSONDurations(t *testing.T) {
	tg := Target{ServiceLevel: 0.8, AnswerWithin: 20 * time.Second, ASA: 30 * time.Second, MaxOccupancy: 0.85, Shrinkage: 0.3, Patience: 90 * time.Second, MinAgents: 2}
	b, _ := json.Marshal(tg)
	if want := `{"service_level":0.8,"answer_within_seconds":20,"asa_seconds":30,"max_occupancy":0.85,"shrinkage":0.3,"patience_seconds":90,"min_agents":2}`; string(b) != want {
		t.Errorf("Target = %s, want %s", b, want)
	}
	var back Target
	if err := json.Unmarshal(b, &back); err != nil || back != tg {
		t.Errorf("Target round trip = %+v, %v", back, err)
	}
	in := Interval{Contacts: 100, AHT: 180 * time.Second, Length: 30 * time.Minute}
	b, _ = json.Marshal(in)
	if want := `{"contacts":100,"aht_seconds":180,"length_seconds":1800}`; string(b) != want {
		t.Errorf("Interval = %s, want %s", b, want)
	}
	var inBack Interval
	if err := json.Unmarshal(b, &inBack); err != nil || inBack != in {
		t.Errorf("Interval round trip = %+v, %v", inBack, err)
	}
}
