//go:build eval

package builtin

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/earshot/earshot/inference"
	"github.com/earshot/earshot/inference/builtin/rouge"
)

// tuneExample is one dialogue of the tuning split with its references.
type tuneExample struct {
	conv []inference.Utterance
	refs [][]string // tokenised references
}

// loadTuneSplit reads a DialogSum-format JSON-lines file whose records have
// "dialogue" and either "summary" (train, dev) or "summary1".."summary3"
// (test). The file is EARSHOT_DIALOGSUM_TUNE, else the train split beside
// the dev split in the evaluation data; the test skips when neither exists.
// Never point it at the dev split: dev is for reporting only.
func loadTuneSplit(t *testing.T) (string, []tuneExample) {
	t.Helper()
	path := os.Getenv("EARSHOT_DIALOGSUM_TUNE")
	if path == "" {
		path = filepath.Join(evalDir(t), "dialogsum", "dialogsum.train.jsonl")
	}
	if strings.Contains(filepath.Base(path), ".dev.") {
		t.Fatalf("%s: tune on train (or test), not on the dev split that is reported", path)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Skipf("no tuning split (set EARSHOT_DIALOGSUM_TUNE to a DialogSum train or test jsonl): %v", err)
	}
	defer f.Close()
	var out []tuneExample
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var rec map[string]string
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		ex := tuneExample{conv: dialogsumConv(rec["dialogue"])}
		for _, k := range []string{"summary", "summary1", "summary2", "summary3"} {
			if s := rec[k]; s != "" {
				ex.refs = append(ex.refs, rouge.Tokenize(s))
			}
		}
		out = append(out, ex)
	}
	if limit := os.Getenv("EARSHOT_TUNE_LIMIT"); limit != "" {
		var n int
		fmt.Sscan(limit, &n)
		if n > 0 && n < len(out) {
			out = out[:n]
		}
	}
	return path, out
}

// tuneScore is the mean ROUGE-1/2/L F1 (averaged over each dialogue's
// references) of summaries without speaker labels.
func tuneScore(exs []tuneExample, sp summaryParams) [3]float64 {
	var acc [3]float64
	for _, ex := range exs {
		c := rouge.Tokenize(summarizeWith(ex.conv, nil, DefaultConfig().SummarySentences, sp).Text)
		for _, r := range ex.refs {
			acc[0] += rouge.NGram(c, r, 1).F1 / float64(len(ex.refs))
			acc[1] += rouge.NGram(c, r, 2).F1 / float64(len(ex.refs))
			acc[2] += rouge.LCS(c, r).F1 / float64(len(ex.refs))
		}
	}
	for i := range acc {
		acc[i] /= float64(len(exs))
	}
	return acc
}

// TestTuneSummary chooses summaryParams by coordinate ascent on ROUGE-1 F1
// without speaker labels over the tuning split (see loadTuneSplit) and logs
// the best setting; it never reads dev. Copy the result into
// defaultSummaryParams by hand.
func TestTuneSummary(t *testing.T) {
	path, exs := loadTuneSplit(t)
	type knob struct {
		name string
		vals []float64
		set  func(*summaryParams, float64)
	}
	knobs := []knob{
		{"Budget", []float64{15, 20, 25, 30, 35, 40, 50}, func(p *summaryParams, v float64) { p.Budget = int(v) }},
		{"Overshoot", []float64{0, 5, 10, 20, 1 << 20}, func(p *summaryParams, v float64) { p.Overshoot = int(v) }},
		{"LenAdd", []float64{0, 4, 10, 20}, func(p *summaryParams, v float64) { p.LenAdd = v }},
		{"LenExp", []float64{0, 0.25, 0.5, 0.75, 1}, func(p *summaryParams, v float64) { p.LenExp = v }},
		{"PosWeight", []float64{0, 0.3, 0.6, 1, 2, 4}, func(p *summaryParams, v float64) { p.PosWeight = v }},
		{"PosExp", []float64{0.5, 1, 2, 4, 8}, func(p *summaryParams, v float64) { p.PosExp = v }},
		{"FirstCust", []float64{1, 1.15, 1.3, 1.6, 2}, func(p *summaryParams, v float64) { p.FirstCust = v }},
		{"Question", []float64{0.5, 0.7, 0.85, 1, 1.2}, func(p *summaryParams, v float64) { p.Question = v }},
		{"Short", []float64{0, 0.3, 0.6, 1}, func(p *summaryParams, v float64) { p.Short = v }},
		{"MinWords", []float64{0, 3, 5, 7}, func(p *summaryParams, v float64) { p.MinWords = int(v) }},
		{"Novelty", []float64{0, 0.3, 0.5, 0.7, 0.85}, func(p *summaryParams, v float64) { p.Novelty = v }},
		{"Pron", []float64{0, 0.25, 0.5, 0.75, 1, 1.5}, func(p *summaryParams, v float64) { p.Pron = v }},
		{"Caps", []float64{0, 0.05, 0.1, 0.2, 0.4}, func(p *summaryParams, v float64) { p.Caps = v }},
		{"TurnW", []float64{0, 0.5, 1, 2}, func(p *summaryParams, v float64) { p.TurnW = v }},
	}
	best := defaultSummaryParams
	bestS := tuneScore(exs, best)
	t.Logf("tuning on %s (%d dialogues); default: R1/R2/RL %.2f/%.2f/%.2f", path, len(exs), 100*bestS[0], 100*bestS[1], 100*bestS[2])
	for pass := 0; pass < 3; pass++ {
		improved := false
		for _, k := range knobs {
			for _, v := range k.vals {
				p := best
				k.set(&p, v)
				if p == best {
					continue
				}
				if s := tuneScore(exs, p); s[0] > bestS[0]+1e-6 {
					best, bestS, improved = p, s, true
					t.Logf("pass %d %s=%g: R1/R2/RL %.2f/%.2f/%.2f", pass, k.name, v, 100*s[0], 100*s[1], 100*s[2])
				}
			}
		}
		if !improved {
			break
		}
	}
	t.Logf("best: %+v R1/R2/RL %.2f/%.2f/%.2f", best, 100*bestS[0], 100*bestS[1], 100*bestS[2])
}
