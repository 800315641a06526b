// Package mteval scores machine translation against references: corpus
// BLEU (Papineni et al. 2002: clipped 1- to 4-gram precisions, geometric
// mean, brevity penalty; tokenised like sacreBLEU's default "13a") and
// chrF (Popović 2015: character 1- to 6-gram F-scores with β = 2, spaces
// removed, statistics summed over the corpus and per-order F-scores
// averaged, as sacreBLEU 2.x does). Both are
// reported on a 0..100 scale.
package mteval

import (
	"math"
	"strings"
	"unicode"
)

// Tokenize13a splits text like sacreBLEU's 13a tokenizer: punctuation and
// symbols become tokens of their own, except a period or comma between
// digits.
func Tokenize13a(s string) []string {
	rs := []rune(s)
	var b strings.Builder
	for i, r := range rs {
		sep := unicode.IsPunct(r) || unicode.IsSymbol(r)
		if (r == '.' || r == ',') && i > 0 && i+1 < len(rs) && unicode.IsDigit(rs[i-1]) && unicode.IsDigit(rs[i+1]) {
			sep = false
		}
		if r == '-' && i > 0 && i+1 < len(rs) && unicode.IsLetter(rs[i-1]) && unicode.IsLetter(rs[i+1]) {
			sep = true
		}
		if sep {
			b.WriteByte(' ')
			b.WriteRune(r)
			b.WriteByte(' ')
		} else {
			b.WriteRune(r)
		}
	}
	return strings.Fields(b.String())
}

// BLEU returns corpus BLEU of hyps against one reference each.
func BLEU(hyps, refs []string) float64 {
	var match, total [4]float64
	var hypLen, refLen float64
	for i := range hyps {
		h, r := Tokenize13a(hyps[i]), Tokenize13a(refs[i])
		hypLen += float64(len(h))
		refLen += float64(len(r))
		for n := 1; n <= 4; n++ {
			hc, rc := ngrams(h, n), ngrams(r, n)
			for g, c := range hc {
				match[n-1] += math.Min(float64(c), float64(rc[g]))
				total[n-1] += float64(c)
			}
		}
	}
	if hypLen == 0 {
		return 0
	}
	logSum := 0.0
	for n := range 4 {
		if match[n] == 0 || total[n] == 0 {
			return 0
		}
		logSum += math.Log(match[n] / total[n])
	}
	bp := 1.0
	if hypLen < refLen {
		bp = math.Exp(1 - refLen/hypLen)
	}
	return 100 * bp * math.Exp(logSum/4)
}

func ngrams(toks []string, n int) map[string]int {
	m := map[string]int{}
	for i := 0; i+n <= len(toks); i++ {
		m[strings.Join(toks[i:i+n], "\x00")]++
	}
	return m
}

// ChrF returns corpus chrF (character n-grams up to 6, β = 2) of hyps
// against one reference each.
func ChrF(hyps, refs []string) float64 {
	const order, beta = 6, 2.0
	var match, hypTot, refTot [order]float64
	for i := range hyps {
		h, r := noSpace(hyps[i]), noSpace(refs[i])
		for n := 1; n <= order; n++ {
			hc, rc := charNgrams(h, n), charNgrams(r, n)
			for g, c := range hc {
				match[n-1] += math.Min(float64(c), float64(rc[g]))
				hypTot[n-1] += float64(c)
			}
			for _, c := range rc {
				refTot[n-1] += float64(c)
			}
		}
	}
	// sacreBLEU (2.x) takes the F-score of each order and averages them
	// over the orders that have statistics on both sides.
	b2 := beta * beta
	sum, k := 0.0, 0
	for n := range order {
		if hypTot[n] == 0 || refTot[n] == 0 {
			continue
		}
		k++
		p, r := match[n]/hypTot[n], match[n]/refTot[n]
		if d := b2*p + r; d > 0 {
			sum += (1 + b2) * p * r / d
		}
	}
	if k == 0 {
		return 0
	}
	return 100 * sum / float64(k)
}

func noSpace(s string) []rune {
	var out []rune
	for _, r := range s {
		if !unicode.IsSpace(r) {
			out = append(out, r)
		}
	}
	return out
}

func charNgrams(rs []rune, n int) map[string]int {
	m := map[string]int{}
	for i := 0; i+n <= len(rs); i++ {
		m[string(rs[i:i+n])]++
	}
	return m
}
