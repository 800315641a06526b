// Package rouge scores summaries against references with ROUGE-1, ROUGE-2
// and ROUGE-L (Lin 2004), reporting precision, recall and F1.
//
// Tokenisation: text is lowercased and split into maximal runs of ASCII
// letters and digits (every other character separates tokens); there is no
// stemming and no stop-word removal. "#Person1#'s" gives "person1", "s".
package rouge

import "strings"

// Score is one ROUGE measure.
type Score struct {
	Precision, Recall, F1 float64
}

// Scores holds ROUGE-1, ROUGE-2 and ROUGE-L of one summary.
type Scores struct {
	R1, R2, RL Score
}

// Tokenize splits text as the package documentation describes.
func Tokenize(text string) []string {
	var out []string
	var b strings.Builder
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch {
		case c >= 'A' && c <= 'Z':
			b.WriteByte(c + 'a' - 'A')
		case (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'):
			b.WriteByte(c)
		default:
			if b.Len() > 0 {
				out = append(out, b.String())
				b.Reset()
			}
		}
	}
	if b.Len() > 0 {
		out = append(out, b.String())
	}
	return out
}

func score(overlap, candLen, refLen int) Score {
	if overlap == 0 || candLen == 0 || refLen == 0 {
		return Score{}
	}
	p, r := float64(overlap)/float64(candLen), float64(overlap)/float64(refLen)
	return Score{Precision: p, Recall: r, F1: 2 * p * r / (p + r)}
}

func ngrams(toks []string, n int) map[string]int {
	m := map[string]int{}
	for i := 0; i+n <= len(toks); i++ {
		m[strings.Join(toks[i:i+n], " ")]++
	}
	return m
}

// NGram returns ROUGE-N of candidate tokens against reference tokens, with
// clipped counts.
func NGram(cand, ref []string, n int) Score {
	c, r := ngrams(cand, n), ngrams(ref, n)
	overlap := 0
	for g, k := range c {
		overlap += min(k, r[g])
	}
	return score(overlap, max(0, len(cand)-n+1), max(0, len(ref)-n+1))
}

// LCS returns ROUGE-L (longest common subsequence) of candidate tokens
// against reference tokens.
func LCS(cand, ref []string) Score {
	if len(cand) == 0 || len(ref) == 0 {
		return Score{}
	}
	prev := make([]int, len(ref)+1)
	cur := make([]int, len(ref)+1)
	for i := 1; i <= len(cand); i++ {
		for j := 1; j <= len(ref); j++ {
			if cand[i-1] == ref[j-1] {
				cur[j] = prev[j-1] + 1
			} else {
				cur[j] = max(cur[j-1], prev[j])
			}
		}
		prev, cur = cur, prev
	}
	return score(prev[len(ref)], len(cand), len(ref))
}

// Compute returns ROUGE-1, ROUGE-2 and ROUGE-L of candidate against reference.
func Compute(candidate, reference string) Scores {
	c, r := Tokenize(candidate), Tokenize(reference)
	return Scores{R1: NGram(c, r, 1), R2: NGram(c, r, 2), RL: LCS(c, r)}
}
