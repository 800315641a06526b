//go:build eval

package builtin

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/earshot/earshot/inference/builtin/vader"
)

// TestEvalSentiment measures the shipped lexicon model, plain VADER, and a
// linear model trained at eval time on the airline train split (row%5 != 4).
// The airline set is non-commercial: nothing trained here is shipped.
func TestEvalSentiment(t *testing.T) {
	dir := evalDir(t)
	rows := readCSV(t, filepath.Join(dir, "airline_tweets", "Tweets.csv"))
	split := readCSV(t, filepath.Join(dir, "airline_tweets", "split_row_mod5.csv"))
	if len(rows) != len(split) {
		t.Fatalf("Tweets.csv has %d rows, split has %d", len(rows), len(split))
	}
	var train []SentimentExample
	var testText, testGold []string
	for i, r := range rows {
		if split[i][1] != r[0] {
			t.Fatalf("row %d: tweet id %s != split id %s", i, r[0], split[i][1])
		}
		if split[i][2] == "test" {
			testText, testGold = append(testText, r[4]), append(testGold, r[1])
		} else {
			train = append(train, SentimentExample{Text: r[4], Label: r[1]})
		}
	}
	labels := []string{"negative", "neutral", "positive"}
	ctx := context.Background()
	p, err := New(DefaultConfig(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	run := func() ([]string, time.Duration) {
		pred := make([]string, len(testText))
		start := time.Now()
		for i, x := range testText {
			s, err := p.Sentiment(ctx, x)
			if err != nil {
				t.Fatal(err)
			}
			pred[i] = s.Label
		}
		return pred, time.Since(start) / time.Duration(len(testText))
	}
	tab := &table{}
	tab.row("model", "accuracy", "macro-F1", "train", "per text", "peer")

	plain, _ := vader.New(nil)
	var vp []string
	for _, x := range testText {
		c := plain.Score(x).Compound
		switch {
		case c >= 0.05:
			vp = append(vp, "positive")
		case c <= -0.05:
			vp = append(vp, "negative")
		default:
			vp = append(vp, "neutral")
		}
	}
	acc, f1 := macroF1(testGold, vp, labels)
	tab.row("VADER as published (±0.05)", f3(acc), f3(f1), "-", "-", "VADER npm: 0.550 / 0.515")

	pred, per := run()
	acc, f1 = macroF1(testGold, pred, labels)
	tab.row(p.SentimentModel().Model+" (shipped)", f3(acc), f3(f1), "-", per.String(), "target macro-F1 >= 0.60")

	start, cpu0 := time.Now(), cpuTime()
	if err := p.TrainSentiment(ctx, train); err != nil {
		t.Fatal(err)
	}
	wall, cpu := time.Since(start), cpuTime()-cpu0
	pred, per = run()
	acc, f1 = macroF1(testGold, pred, labels)
	tab.row(p.SentimentModel().Model+" (trained on train split)", f3(acc), f3(f1),
		fmt.Sprintf("%v (%v CPU)", wall.Round(time.Millisecond), cpu.Round(time.Millisecond)), per.String(),
		"TF-IDF+SVM: 0.835 / 0.777; target acc >= 0.83")
	t.Logf("sentiment on airline test split (%d tweets):\n%s", len(testText), tab)
}
