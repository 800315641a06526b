// Package vader is a Go port of the VADER rule-based sentiment scorer
// (Hutto & Gilbert 2014) with its lexicon embedded; see NOTICE for the
// licence and attribution. An Analyzer may extend the lexicon with extra
// words and multi-word phrases.
package vader

import (
	_ "embed"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode"
)

//go:embed vader_lexicon.txt
var lexiconFile string

const (
	bIncr   = 0.293
	bDecr   = -0.293
	cIncr   = 0.733
	nScalar = -0.74
)

var negations = setOf("aint", "arent", "cannot", "cant", "couldnt", "darent", "didnt", "doesnt",
	"ain't", "aren't", "can't", "couldn't", "daren't", "didn't", "doesn't", "dont", "hadnt", "hasnt",
	"havent", "isnt", "mightnt", "mustnt", "neither", "don't", "hadn't", "hasn't", "haven't", "isn't",
	"mightn't", "mustn't", "neednt", "needn't", "never", "none", "nope", "nor", "not", "nothing",
	"nowhere", "oughtnt", "shant", "shouldnt", "uhuh", "wasnt", "werent", "oughtn't", "shan't",
	"shouldn't", "uh-uh", "wasn't", "weren't", "without", "wont", "wouldnt", "won't", "wouldn't",
	"rarely", "seldom", "despite")

var boosters = func() map[string]float64 {
	m := map[string]float64{}
	for _, w := range strings.Fields("absolutely amazingly awfully completely considerably decidedly deeply effing enormously entirely especially exceptionally extremely fabulously flipping flippin fricking frickin frigging friggin fully fucking greatly hella highly hugely incredibly intensely majorly more most particularly purely quite really remarkably so substantially thoroughly totally tremendously uber unbelievably unusually utterly very") {
		m[w] = bIncr
	}
	for _, w := range strings.Fields("almost barely hardly kinda kindof kind-of less little marginally occasionally partly scarcely slightly somewhat sorta sortof sort-of") {
		m[w] = bDecr
	}
	m["just enough"], m["kind of"], m["sort of"] = bDecr, bDecr, bDecr
	return m
}()

var idioms = map[string]float64{
	"the shit": 3, "the bomb": 3, "bad ass": 1.5, "yeah right": -2, "cut the mustard": 2,
	"kiss of death": -1.5, "hand to mouth": -2,
}

func setOf(ws ...string) map[string]bool {
	m := make(map[string]bool, len(ws))
	for _, w := range ws {
		m[w] = true
	}
	return m
}

// Scores are VADER's outputs: the proportions of negative, neutral and
// positive weight and the normalised compound score in [-1, 1].
type Scores struct {
	Neg, Neu, Pos, Compound float64
}

// Analyzer scores text. It is immutable and safe for concurrent use.
type Analyzer struct {
	lex     map[string]float64
	phrases map[string]float64 // multi-word entries, matched on lowercased token sequences
	maxLen  int                // longest phrase in tokens
}

// New returns an analyzer with the embedded lexicon plus extra entries; an
// extra entry replaces the lexicon's value. Entries with spaces are phrases:
// their valence is given to the phrase's last word and the other words count
// as neutral.
func New(extra map[string]float64) (*Analyzer, error) {
	a := &Analyzer{lex: make(map[string]float64, 7600), phrases: map[string]float64{}}
	for n, line := range strings.Split(lexiconFile, "\n") {
		if line == "" {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) < 2 {
			return nil, fmt.Errorf("vader: lexicon line %d: want tab-separated fields", n+1)
		}
		v, err := strconv.ParseFloat(f[1], 64)
		if err != nil {
			return nil, fmt.Errorf("vader: lexicon line %d: %w", n+1, err)
		}
		a.lex[f[0]] = v
	}
	for k, v := range extra {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("vader: extra entry %q: bad valence", k)
		}
		k = strings.ToLower(strings.TrimSpace(k))
		if n := len(strings.Fields(k)); n > 1 {
			a.phrases[strings.Join(strings.Fields(k), " ")] = v
			a.maxLen = max(a.maxLen, n)
			continue
		}
		a.lex[k] = v
	}
	return a, nil
}

// words splits text VADER's way: on white space, with leading and trailing
// punctuation stripped from words (emoticons are kept), dropping one-rune
// tokens.
func words(text string) []string {
	var out []string
	for _, tok := range strings.Fields(text) {
		stripped := strings.TrimFunc(tok, func(r rune) bool { return unicode.IsPunct(r) || unicode.IsSymbol(r) })
		if len([]rune(stripped)) > 1 {
			tok = stripped
		}
		if len([]rune(tok)) > 1 {
			out = append(out, tok)
		}
	}
	return out
}

func isUpper(w string) bool {
	hasUpper := false
	for _, r := range w {
		if unicode.IsLower(r) {
			return false
		}
		if unicode.IsUpper(r) {
			hasUpper = true
		}
	}
	return hasUpper
}

func isNegated(w string) bool {
	w = strings.ToLower(w)
	return negations[w] || strings.Contains(w, "n't")
}

// Score returns the VADER scores of text.
func (a *Analyzer) Score(text string) Scores {
	ws := words(text)
	lower := make([]string, len(ws))
	nCaps := 0
	for i, w := range ws {
		lower[i] = strings.ToLower(w)
		if isUpper(w) {
			nCaps++
		}
	}
	capDiff := nCaps > 0 && nCaps < len(ws)
	// phrase valences override the valence of the phrase's last word
	phraseAt := map[int]float64{}
	inPhrase := map[int]bool{}
	if a.maxLen > 1 {
		for i := range lower {
			for n := min(a.maxLen, len(lower)-i); n > 1; n-- {
				if v, ok := a.phrases[strings.Join(lower[i:i+n], " ")]; ok {
					phraseAt[i+n-1] = v
					for k := i; k < i+n-1; k++ {
						inPhrase[k] = true
					}
					break
				}
			}
		}
	}
	lexOf := func(i int) (float64, bool) {
		if v, ok := phraseAt[i]; ok {
			return v, true
		}
		if inPhrase[i] {
			return 0, false
		}
		v, ok := a.lex[lower[i]]
		return v, ok
	}
	sentiments := make([]float64, 0, len(ws))
	for i := range ws {
		if _, ok := boosters[lower[i]]; ok || (lower[i] == "kind" && i+1 < len(ws) && lower[i+1] == "of") {
			sentiments = append(sentiments, 0)
			continue
		}
		v, ok := lexOf(i)
		if !ok {
			sentiments = append(sentiments, 0)
			continue
		}
		if isUpper(ws[i]) && capDiff {
			if v > 0 {
				v += cIncr
			} else {
				v -= cIncr
			}
		}
		for s := 0; s < 3; s++ {
			j := i - (s + 1)
			if j < 0 {
				break
			}
			if _, known := a.lex[lower[j]]; known {
				continue
			}
			sc := scalar(ws[j], lower[j], v, capDiff)
			if s == 1 {
				sc *= 0.95
			} else if s == 2 {
				sc *= 0.9
			}
			v += sc
			v = neverCheck(v, lower, s, i)
			if s == 2 {
				v = idiomsCheck(v, lower, i)
			}
		}
		v = leastCheck(v, lower, i, a.lex)
		sentiments = append(sentiments, v)
	}
	butCheck(lower, sentiments)
	return scoreValence(sentiments, text)
}

func scalar(word, lower string, valence float64, capDiff bool) float64 {
	sc, ok := boosters[lower]
	if !ok {
		return 0
	}
	if valence < 0 {
		sc = -sc
	}
	if capDiff && isUpper(word) {
		if valence > 0 {
			sc += cIncr
		} else {
			sc -= cIncr
		}
	}
	return sc
}

func neverCheck(v float64, w []string, s, i int) float64 {
	switch s {
	case 0:
		if isNegated(w[i-1]) {
			v *= nScalar
		}
	case 1:
		if w[i-2] == "never" && (w[i-1] == "so" || w[i-1] == "this") {
			v *= 1.5
		} else if isNegated(w[i-2]) {
			v *= nScalar
		}
	case 2:
		if (w[i-3] == "never" && (w[i-2] == "so" || w[i-2] == "this")) || w[i-1] == "so" || w[i-1] == "this" {
			v *= 1.25
		} else if isNegated(w[i-3]) {
			v *= nScalar
		}
	}
	return v
}

func idiomsCheck(v float64, w []string, i int) float64 {
	seqs := []string{
		w[i-1] + " " + w[i], w[i-2] + " " + w[i-1] + " " + w[i], w[i-2] + " " + w[i-1],
		w[i-3] + " " + w[i-2] + " " + w[i-1], w[i-3] + " " + w[i-2],
	}
	for _, s := range seqs {
		if x, ok := idioms[s]; ok {
			v = x
			break
		}
	}
	if len(w)-1 > i {
		if x, ok := idioms[w[i]+" "+w[i+1]]; ok {
			v = x
		}
	}
	if len(w)-1 > i+1 {
		if x, ok := idioms[w[i]+" "+w[i+1]+" "+w[i+2]]; ok {
			v = x
		}
	}
	if _, ok := boosters[w[i-3]+" "+w[i-2]]; ok {
		v += bDecr
	} else if _, ok := boosters[w[i-2]+" "+w[i-1]]; ok {
		v += bDecr
	}
	return v
}

func leastCheck(v float64, w []string, i int, lex map[string]float64) float64 {
	if i > 0 && w[i-1] == "least" {
		if _, known := lex["least"]; known {
			return v
		}
		if i > 1 && (w[i-2] == "at" || w[i-2] == "very") {
			return v
		}
		v *= nScalar
	}
	return v
}

func butCheck(w []string, sentiments []float64) {
	b := -1
	for i, x := range w {
		if x == "but" {
			b = i
			break
		}
	}
	if b < 0 {
		return
	}
	for i := range sentiments {
		if i < b {
			sentiments[i] *= 0.5
		} else if i > b {
			sentiments[i] *= 1.5
		}
	}
}

func scoreValence(sentiments []float64, text string) Scores {
	if len(sentiments) == 0 {
		return Scores{}
	}
	var sum float64
	for _, s := range sentiments {
		sum += s
	}
	ep := min(strings.Count(text, "!"), 4)
	amp := float64(ep) * 0.292
	if qm := strings.Count(text, "?"); qm > 1 {
		if qm <= 3 {
			amp += float64(qm) * 0.18
		} else {
			amp += 0.96
		}
	}
	if sum > 0 {
		sum += amp
	} else if sum < 0 {
		sum -= amp
	}
	compound := math.Max(-1, math.Min(1, sum/math.Sqrt(sum*sum+15)))
	var pos, neg, neu float64
	for _, s := range sentiments {
		switch {
		case s > 0:
			pos += s + 1
		case s < 0:
			neg += s - 1
		default:
			neu++
		}
	}
	if pos > math.Abs(neg) {
		pos += amp
	} else if pos < math.Abs(neg) {
		neg -= amp
	}
	total := pos + math.Abs(neg) + neu
	return Scores{Neg: math.Abs(neg / total), Neu: neu / total, Pos: pos / total, Compound: compound}
}
