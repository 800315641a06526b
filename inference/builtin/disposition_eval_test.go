//go:build eval

package builtin

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/earshot/earshot/inference"
)

func dispositionAccuracy(t *testing.T, p *Provider, codes []inference.DispositionCode, test []DispositionExample) float64 {
	ok := 0
	for _, e := range test {
		d, err := p.ClassifyDisposition(context.Background(), e.Conv, codes)
		if err != nil {
			t.Fatal(err)
		}
		if d.Code == e.Code {
			ok++
		}
	}
	return float64(ok) / float64(len(test))
}

// TestEvalDisposition reports disposition accuracy on the project's own
// engagements: from the codes' descriptions alone, and after learning from
// history (two-fold: train on one half of each code's engagements, test on
// the other, both ways); and on the ABCD sample conversations with ABCD's
// flows as codes (descriptions from guidelines.json and kb.json).
func TestEvalDisposition(t *testing.T) {
	codes, ex := loadCodes(t), loadDispositionExamples(t)
	ctx := context.Background()
	p, err := New(DefaultConfig(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	tab := &table{}
	tab.row("set", "engagements", "codes", "model", "accuracy")
	tab.row("testdata/dispositions.jsonl", fmt.Sprint(len(ex)), fmt.Sprint(len(codes)), "descriptions only", f3(dispositionAccuracy(t, p, codes, ex)))

	var folds [2][]DispositionExample
	seen := map[string]int{}
	for _, e := range ex {
		folds[seen[e.Code]%2] = append(folds[seen[e.Code]%2], e)
		seen[e.Code]++
	}
	var acc float64
	for k := 0; k < 2; k++ {
		q, _ := New(DefaultConfig(), nil, nil)
		if err := q.TrainDispositions(ctx, folds[k], codes); err != nil {
			t.Fatal(err)
		}
		acc += dispositionAccuracy(t, q, codes, folds[1-k]) / 2
	}
	tab.row("testdata/dispositions.jsonl", fmt.Sprint(len(ex)), fmt.Sprint(len(codes)), "learnt from history (2-fold)", f3(acc))

	dir := evalDir(t)
	abcdCodes, abcdConvs := loadABCD(t, dir)
	ok := 0
	for _, c := range abcdConvs {
		d, err := p.ClassifyDisposition(ctx, c.Conv, abcdCodes)
		if err != nil {
			t.Fatal(err)
		}
		if d.Code == c.Code {
			ok++
		}
	}
	tab.row("ABCD abcd_sample.json (flows as codes)", fmt.Sprint(len(abcdConvs)), fmt.Sprint(len(abcdCodes)), "descriptions only", fmt.Sprintf("%d/%d", ok, len(abcdConvs)))
	t.Logf("disposition:\n%s", tab)
}

// loadABCD builds one code per ABCD flow: its guideline description, the
// names of its subflows and their agent actions (kb.json); the sample
// conversations are labelled with their flow.
func loadABCD(t *testing.T, dir string) ([]inference.DispositionCode, []DispositionExample) {
	t.Helper()
	var guide map[string]struct {
		Description string `json:"description"`
		Subflows    map[string]struct {
			Instructions []string `json:"instructions"`
			Actions      []struct {
				Text string `json:"text"`
			} `json:"actions"`
		} `json:"subflows"`
	}
	readJSON(t, filepath.Join(dir, "abcd_partial", "guidelines.json"), &guide)
	var kb map[string][]string
	readJSON(t, filepath.Join(dir, "abcd_partial", "kb.json"), &kb)
	var codes []inference.DispositionCode
	for name, g := range guide {
		c := inference.DispositionCode{Code: strings.ToLower(strings.ReplaceAll(name, " ", "_")), Name: name, Description: g.Description}
		var subs []string
		for sub := range g.Subflows {
			subs = append(subs, sub)
		}
		sort.Strings(subs)
		for _, sub := range subs {
			c.Description += ". " + sub
			key := strings.ToLower(strings.ReplaceAll(sub, " ", "_"))
			c.Description += " " + strings.ReplaceAll(strings.Join(kb[key], " "), "-", " ")
		}
		codes = append(codes, c)
	}
	sort.Slice(codes, func(i, j int) bool { return codes[i].Code < codes[j].Code })
	var samples []struct {
		Scenario struct {
			Flow string `json:"flow"`
		} `json:"scenario"`
		Original [][]string `json:"original"`
	}
	readJSON(t, filepath.Join(dir, "abcd_partial", "abcd_sample.json"), &samples)
	var out []DispositionExample
	for _, s := range samples {
		var conv []inference.Utterance
		for _, turn := range s.Original {
			switch turn[0] {
			case "agent":
				conv = append(conv, inference.Utterance{Party: inference.PartyAgent, Text: turn[1]})
			case "customer":
				conv = append(conv, inference.Utterance{Party: inference.PartyCustomer, Text: turn[1]})
			}
		}
		out = append(out, DispositionExample{Conv: conv, Code: s.Scenario.Flow})
	}
	return codes, out
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}
