package qm

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
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

// The labelled set's two parts (testdata/labelled/README.md): an
// engagement whose number (qm-NNN) is even belongs to the development
// part, odd to the reported part.
const (
	partDev      = "development"
	partReported = "reported"
)

// labelledPart returns the part an engagement ID belongs to.
func labelledPart(id string) (string, error) {
	n, err := strconv.Atoi(strings.TrimPrefix(id, "qm-"))
	if err != nil || !strings.HasPrefix(id, "qm-") {
		return "", fmt.Errorf("engagement %q: not qm-NNN", id)
	}
	if n%2 == 0 {
		return partDev, nil
	}
	return partReported, nil
}

// splitLabelled returns the engagements of one part.
func splitLabelled(t testing.TB, set []labelled, part string) []labelled {
	t.Helper()
	var out []labelled
	for _, e := range set {
		p, err := labelledPart(e.ID)
		if err != nil {
			t.Fatal(err)
		}
		if p == part {
			out = append(out, e)
		}
	}
	return out
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
	dev, rep := splitLabelled(t, set, partDev), splitLabelled(t, set, partReported)
	if len(dev) != len(set)/2 || len(dev)+len(rep) != len(set) {
		t.Errorf("split: %d development, %d reported of %d", len(dev), len(rep), len(set))
	}
}
