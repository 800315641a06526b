package qm

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// labelled is one engagement of testdata/labelled.
type labelled struct {
	ID      string            `json:"id"`
	Channel string            `json:"channel"`
	Turns   []Turn            `json:"turns"`
	Human   map[string]string `json:"human"`
}

func loadLabelled(t testing.TB) (*Scorecard, []labelled) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "labelled", "scorecard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var sc Scorecard
	if err := json.Unmarshal(raw, &sc); err != nil {
		t.Fatal(err)
	}
	raw, err = os.ReadFile(filepath.Join("testdata", "labelled", "engagements.json"))
	if err != nil {
		t.Fatal(err)
	}
	var set []labelled
	if err := json.Unmarshal(raw, &set); err != nil {
		t.Fatal(err)
	}
	return &sc, set
}

// TestLabelledSetWellFormed checks the labelled set: a valid scorecard of
// ten questions and at least 60 engagements, each answered validly for
// every question, with rule, classifier and n.a. cases present.
func TestLabelledSetWellFormed(t *testing.T) {
	sc, set := loadLabelled(t)
	if err := sc.Validate(Known{}); err != nil {
		t.Fatal(err)
	}
	qs := sc.Questions()
	if len(qs) != 10 || len(set) < 60 {
		t.Fatalf("%d questions, %d engagements", len(qs), len(set))
	}
	engines := map[string]bool{}
	na := 0
	for _, q := range qs {
		engines[q.Engine] = true
		for _, e := range set {
			v, ok := e.Human[q.ID]
			if !ok || !ValidAnswer(q, v) {
				t.Errorf("%s: question %s answered %q", e.ID, q.ID, v)
			}
			if v == AnswerNA {
				na++
			}
		}
	}
	if !engines[EngineRule] || !engines[EngineClassifier] || na == 0 {
		t.Errorf("engines %v, %d n.a. answers", engines, na)
	}
}
