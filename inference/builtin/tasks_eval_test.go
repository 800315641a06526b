//go:build eval

package builtin

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/earshot/earshot/inference"
)

type taskCase struct {
	Party inference.Party `json:"party"`
	Text  string          `json:"text"`
	Owner inference.Party `json:"owner"`
	Due   string          `json:"due"`
}

func loadTaskCases(t testing.TB) []taskCase {
	t.Helper()
	f, err := os.Open("testdata/tasks.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []taskCase
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		var c taskCase
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatalf("tasks.jsonl line %d: %v", n, err)
		}
		out = append(out, c)
	}
	return out
}

// TestEvalTasks reports precision and recall of follow-up task detection on
// the project's own labelled utterances, and the owner and due-date
// accuracy on the tasks found.
func TestEvalTasks(t *testing.T) {
	p, err := New(DefaultConfig(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ref := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	var tp, fp, fn, ownerOK, dueOK int
	for _, c := range loadTaskCases(t) {
		got, err := p.ExtractTasks(context.Background(), []inference.Utterance{{Party: c.Party, Text: c.Text}}, ref)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case len(got) > 0 && c.Owner != "":
			tp++
			if got[0].Owner == c.Owner {
				ownerOK++
			}
			if got[0].Due == c.Due {
				dueOK++
			} else {
				t.Logf("due: %q: got %q, want %q", c.Text, got[0].Due, c.Due)
			}
		case len(got) > 0:
			fp++
			t.Logf("false positive: %q", c.Text)
		case c.Owner != "":
			fn++
			t.Logf("missed: %q", c.Text)
		}
	}
	prec := float64(tp) / float64(max(1, tp+fp))
	rec := float64(tp) / float64(max(1, tp+fn))
	tab := &table{}
	tab.row("set", "utterances", "precision", "recall", "F1", "owner acc. (TP)", "due acc. (TP)")
	tab.row("testdata/tasks.jsonl", fmt.Sprint(len(loadTaskCases(t))), f3(prec), f3(rec), f3(2*prec*rec/max(1e-9, prec+rec)),
		f3(float64(ownerOK)/float64(max(1, tp))), f3(float64(dueOK)/float64(max(1, tp))))
	t.Logf("follow-up tasks (rules, tasks-rules@1):\n%s", tab)
}
