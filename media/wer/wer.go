// Package wer scores recognition output: word error rate by minimum edit
// distance (Levenshtein over words, substitutions, deletions and insertions
// weighted alike, as NIST sclite does by default). The eval checks it
// against sclite on the same files.
package wer

import "strings"

// Counts are the alignment totals.
type Counts struct {
	Ref, Sub, Del, Ins int
}

// Errors returns Sub+Del+Ins.
func (c Counts) Errors() int { return c.Sub + c.Del + c.Ins }

// WER returns the error rate in percent.
func (c Counts) WER() float64 {
	if c.Ref == 0 {
		return 0
	}
	return 100 * float64(c.Errors()) / float64(c.Ref)
}

// Add sums two counts.
func (c Counts) Add(o Counts) Counts {
	return Counts{c.Ref + o.Ref, c.Sub + o.Sub, c.Del + o.Del, c.Ins + o.Ins}
}

// Normalize lowercases and splits text into words, dropping sentence
// markers such as <s> and </s>.
func Normalize(s string) []string {
	var out []string
	for _, w := range strings.Fields(strings.ToLower(s)) {
		if strings.HasPrefix(w, "<") && strings.HasSuffix(w, ">") {
			continue
		}
		out = append(out, w)
	}
	return out
}

// Align aligns hyp to ref with unit costs and returns the error counts.
// Among alignments of equal cost it prefers substitutions over an
// insertion-deletion pair, like sclite.
func Align(ref, hyp []string) Counts {
	type cell struct{ cost, sub, del, ins int }
	prev := make([]cell, len(hyp)+1)
	cur := make([]cell, len(hyp)+1)
	for j := range prev {
		prev[j] = cell{cost: j, ins: j}
	}
	for i := 1; i <= len(ref); i++ {
		cur[0] = cell{cost: i, del: i}
		for j := 1; j <= len(hyp); j++ {
			d := prev[j-1]
			if ref[i-1] != hyp[j-1] {
				d.cost++
				d.sub++
			}
			best := d
			if c := prev[j]; c.cost+1 < best.cost {
				best = cell{c.cost + 1, c.sub, c.del + 1, c.ins}
			}
			if c := cur[j-1]; c.cost+1 < best.cost {
				best = cell{c.cost + 1, c.sub, c.del, c.ins + 1}
			}
			cur[j] = best
		}
		prev, cur = cur, prev
	}
	last := prev[len(hyp)]
	return Counts{Ref: len(ref), Sub: last.sub, Del: last.del, Ins: last.ins}
}
