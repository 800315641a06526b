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
	"time"

	"github.com/earshot/earshot/inference"
	"github.com/earshot/earshot/inference/builtin/rouge"
)

// dialogsumConv turns "#Person1#: text" lines into utterances; Person1 is
// treated as the agent and Person2 as the customer (in most DialogSum
// dialogues Person1 opens and serves).
func dialogsumConv(d string) []inference.Utterance {
	var conv []inference.Utterance
	for _, line := range strings.Split(d, "\n") {
		party := inference.PartyAgent
		switch {
		case strings.HasPrefix(line, "#Person1#:"):
			line = strings.TrimPrefix(line, "#Person1#:")
		case strings.HasPrefix(line, "#Person2#:"):
			line = strings.TrimPrefix(line, "#Person2#:")
			party = inference.PartyCustomer
		}
		conv = append(conv, inference.Utterance{Party: party, Text: strings.TrimSpace(line)})
	}
	return conv
}

// TestEvalSummary scores the extractive summariser and lead-3 on DialogSum
// dev with this package's ROUGE scorer (lowercase, ASCII alphanumeric
// tokens, no stemming). Speakers are labelled #Person1#/#Person2# as in the
// references.
func TestEvalSummary(t *testing.T) {
	dir := evalDir(t)
	f, err := os.Open(filepath.Join(dir, "dialogsum", "dialogsum.dev.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	names := map[inference.Party]string{inference.PartyAgent: "#Person1#", inference.PartyCustomer: "#Person2#"}
	var ours, lead, oursBare, leadBare [3]float64
	add := func(acc *[3]float64, cand, ref string) {
		r := rouge.Compute(cand, ref)
		acc[0] += r.R1.F1
		acc[1] += r.R2.F1
		acc[2] += r.RL.F1
	}
	n := 0
	var elapsed time.Duration
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var rec struct{ Dialogue, Summary string }
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("line %d: %v", n+1, err)
		}
		conv := dialogsumConv(rec.Dialogue)
		start := time.Now()
		s := summarize(conv, names, DefaultConfig().SummarySentences)
		elapsed += time.Since(start)
		add(&ours, s.Text, rec.Summary)
		add(&oursBare, summarize(conv, nil, DefaultConfig().SummarySentences).Text, rec.Summary)
		lines := strings.Split(rec.Dialogue, "\n")
		lead3 := strings.Join(lines[:min(3, len(lines))], " ")
		add(&lead, lead3, rec.Summary)
		bare := strings.NewReplacer("#Person1#:", "", "#Person2#:", "").Replace(lead3)
		add(&leadBare, bare, rec.Summary)
		n++
	}
	tab := &table{}
	tab.row("model", "ROUGE-1 F1", "ROUGE-2 F1", "ROUGE-L F1", "per dialogue", "peer")
	tab.row(summaryModel, pct(ours[0]/float64(n)), pct(ours[1]/float64(n)), pct(ours[2]/float64(n)), (elapsed / time.Duration(n)).String(), "target R1 >= 24")
	tab.row("lead-3 (our scorer)", pct(lead[0]/float64(n)), pct(lead[1]/float64(n)), pct(lead[2]/float64(n)), "-", "about 20 / 6 / 16")
	tab.row(summaryModel+", no speaker labels", pct(oursBare[0]/float64(n)), pct(oursBare[1]/float64(n)), pct(oursBare[2]/float64(n)), "-", "")
	tab.row("lead-3, no speaker labels", pct(leadBare[0]/float64(n)), pct(leadBare[1]/float64(n)), pct(leadBare[2]/float64(n)), "-", "about 20 / 6 / 16")
	t.Logf("summary on DialogSum dev (%d dialogues); tokens: lowercase ASCII alphanumeric runs, no stemming:\n%s", n, tab)
}

func pct(x float64) string { return fmt.Sprintf("%.2f", 100*x) }
