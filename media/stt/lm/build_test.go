package lm

import (
	"bufio"
	"bytes"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// arpa is a parsed ARPA model: log10 probabilities and backoffs.
type arpa struct {
	prob, bow map[string]float64
	vocab     []string
	counts    [3]int
}

func parseARPA(t *testing.T, b []byte) arpa {
	t.Helper()
	a := arpa{prob: map[string]float64{}, bow: map[string]float64{}}
	order := 0
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		l := sc.Text()
		switch {
		case strings.HasPrefix(l, "ngram "):
			n, _ := strconv.Atoi(l[6:7])
			c, _ := strconv.Atoi(l[8:])
			a.counts[n-1] = c
		case strings.HasPrefix(l, "\\") && strings.HasSuffix(l, "-grams:"):
			order, _ = strconv.Atoi(l[1:2])
		case l == "" || strings.HasPrefix(l, "\\"):
		default:
			f := strings.Split(l, "\t")
			p, err := strconv.ParseFloat(f[0], 64)
			if err != nil || len(f) < 2 || len(strings.Fields(f[1])) != order {
				t.Fatalf("bad ARPA line %q", l)
			}
			a.prob[f[1]] = p
			if order == 1 {
				a.vocab = append(a.vocab, f[1])
			}
			if len(f) == 3 {
				a.bow[f[1]], _ = strconv.ParseFloat(f[2], 64)
			}
		}
	}
	return a
}

// p is the model's probability of w after the context words (backing off
// as a decoder does).
func (a arpa) p(ctx []string, w string) float64 {
	if len(ctx) > 0 {
		if lp, ok := a.prob[strings.Join(append(append([]string{}, ctx...), w), " ")]; ok {
			return math.Pow(10, lp)
		}
		bow := a.bow[strings.Join(ctx, " ")] // absent: log 0
		return math.Pow(10, bow) * a.p(ctx[1:], w)
	}
	return math.Pow(10, a.prob[w])
}

const text = `Your card has been blocked. To unblock your card, open the app and go to cards.
I lost my card! Can you block my card? My card was stolen.
How do I reset my PIN? You can reset your PIN at any cash machine.
The transfer of 250 pounds failed; please check the account number.
What is my account balance? Your balance is shown in the app.`

func build(t *testing.T, opts Options, texts ...string) (arpa, *Model) {
	t.Helper()
	m := NewModel(opts)
	for _, s := range texts {
		m.Add(s, opts.Known)
	}
	var b bytes.Buffer
	if err := m.WriteARPA(&b); err != nil {
		t.Fatal(err)
	}
	return parseARPA(t, b.Bytes()), m
}

// TestDistributions: after every context the model gives (and also after
// an unseen one), the probabilities of all words sum to one, with and
// without pruning.
func TestDistributions(t *testing.T) {
	for _, min3 := range []int{1, 2} {
		a, m := build(t, Options{MinTrigramCount: min3}, text, text[:80])
		if a.counts != m.Stats().NGrams || a.counts[0] != len(a.vocab) {
			t.Fatalf("header counts %v, stats %v, %d unigrams", a.counts, m.Stats().NGrams, len(a.vocab))
		}
		contexts := [][]string{{"<s>"}, {"my"}, {"your", "card"}, {"<s>", "i"}, {"reset", "your"}, {"the", "app"},
			{"pin", "balance"}, {"zzz"}, {"card", "zzz"}}
		for _, ctx := range contexts {
			sum := 0.0
			for _, w := range a.vocab {
				if w != "<s>" {
					sum += a.p(ctx, w)
				}
			}
			if math.Abs(sum-1) > 1e-3 {
				t.Errorf("min trigram count %d: probabilities after %q sum to %.5f", min3, ctx, sum)
			}
		}
		// What the text says is likelier than what it does not.
		if a.p([]string{"your", "card"}, "has") <= a.p([]string{"your", "card"}, "stolen") {
			t.Errorf("p(has | your card) <= p(stolen | your card)")
		}
	}
}

// TestSentences: normalisation of the site's text.
func TestSentences(t *testing.T) {
	got := Sentences("Card ending 4207? It's BLOCKED.\nCall us: 0800-123!")
	want := [][]string{{"card", "ending", "four", "two", "zero", "seven"}, {"it's", "blocked"}, {"call", "us"},
		{"zero", "eight", "zero", "zero", "one", "two", "three"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Sentences (-want +got):\n%s", diff)
	}
}

// TestUnknownWords: words the recogniser cannot say are counted as <unk>.
func TestUnknownWords(t *testing.T) {
	known := map[string]bool{"my": true, "card": true, "is": true, "blocked": true}
	a, m := build(t, Options{Known: func(w string) bool { return known[w] }}, "My card is blocked by Zorbix.")
	if m.Stats().OOV != 2 {
		t.Errorf("OOV = %d, want 2 (by, zorbix)", m.Stats().OOV)
	}
	for _, w := range a.vocab {
		if w == "zorbix" || w == "by" {
			t.Errorf("unknown word %q in the model", w)
		}
	}
	if err := NewModel(Options{}).WriteARPA(&bytes.Buffer{}); err != ErrNoText {
		t.Errorf("empty model: %v, want ErrNoText", err)
	}
}
