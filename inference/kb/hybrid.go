package kb

import (
	"math"
	"sort"
)

// unit returns v scaled to length 1 (a copy), or nil for a zero vector.
func unit(v []float32) []float32 {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	if s == 0 {
		return nil
	}
	inv := 1 / math.Sqrt(s)
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(float64(x) * inv)
	}
	return out
}

func dot(a, b []float32) float64 {
	if len(a) != len(b) {
		return 0
	}
	var s float32
	for i := range a {
		s += a[i] * b[i]
	}
	return float64(s)
}

// unsafeSemantic ranks passages with vectors by cosine similarity (exact
// scan), applying the same filters as the lexical ranking. Caller holds mu.
func (ix *Index) unsafeSemantic(vec []float32, q Query, k int) []Hit {
	if vec == nil {
		return nil
	}
	var cands []scored
	for id := range ix.docs {
		d := &ix.docs[id]
		if !ix.meta[id].alive || d.vec == nil {
			continue
		}
		if !ix.unsafeAdmits(uint32(id), &q) {
			continue
		}
		cands = append(cands, scored{uint32(id), dot(vec, d.vec)})
	}
	ix.unsafeSortScored(cands)
	var hits []Hit
	seen := map[string]bool{}
	for _, c := range cands {
		p := ix.docs[c.doc].p
		if q.PerArticle {
			if seen[p.ArticleID] {
				continue
			}
			seen[p.ArticleID] = true
		}
		hits = append(hits, Hit{Passage: p, Score: c.score, Semantic: c.score})
		if len(hits) >= k {
			break
		}
	}
	return hits
}

// fuse merges a lexical and a semantic ranking by reciprocal rank fusion:
// score = sum over rankings of 1/(rrfK + rank), rank from 1.
func fuse(lex, sem []Hit, rrfK float64, k int, perArticle bool) []Hit {
	type acc struct {
		h     Hit
		score float64
		order int
	}
	byID := map[string]*acc{}
	var all []*acc
	add := func(hits []Hit, semantic bool) {
		for r, h := range hits {
			a := byID[h.Passage.ID]
			if a == nil {
				a = &acc{h: h, order: len(all)}
				byID[h.Passage.ID] = a
				all = append(all, a)
			}
			if semantic {
				a.h.Semantic = h.Semantic
			} else {
				a.h.Lexical = h.Lexical
			}
			a.score += 1 / (rrfK + float64(r+1))
		}
	}
	add(lex, false)
	add(sem, true)
	sort.SliceStable(all, func(i, j int) bool { return all[i].score > all[j].score })
	var out []Hit
	seen := map[string]bool{}
	for _, a := range all {
		if perArticle {
			if seen[a.h.Passage.ArticleID] {
				continue
			}
			seen[a.h.Passage.ArticleID] = true
		}
		a.h.Score = a.score
		out = append(out, a.h)
		if len(out) >= k {
			break
		}
	}
	return out
}
