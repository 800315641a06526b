package kb

import (
	"slices"
)

// adjacentPairs returns the distinct adjacent pairs of known terms of seq,
// in order: the proximity bonus rewards passages that keep them together.
func adjacentPairs(seq []uint32) [][2]uint32 {
	var out [][2]uint32
	for i := 0; i+1 < len(seq); i++ {
		p := [2]uint32{seq[i], seq[i+1]}
		if p[0] == p[1] || p[0] == noTerm || p[1] == noTerm || slices.Contains(out, p) {
			continue
		}
		out = append(out, p)
	}
	return out
}

// pairSet is a query's adjacent term pairs, with a 256-bit filter on the
// first term that rejects most positions without a map lookup.
type pairSet struct {
	idx   map[[2]uint32]int
	n     int
	first [4]uint64
}

func newPairSet(pairs [][2]uint32) pairSet {
	ps := pairSet{idx: make(map[[2]uint32]int, len(pairs)), n: len(pairs)}
	for i, p := range pairs {
		ps.idx[p] = i
		ps.first[p[0]>>6&3] |= 1 << (p[0] & 63)
	}
	return ps
}

// share is the share of the pairs that occur adjacent in seq.
func (ps pairSet) share(seq []uint32) float64 {
	if ps.n == 0 {
		return 0
	}
	var found uint64 // bit i: pair i seen (pairs past 64 count once each)
	var extra map[int]bool
	n := 0
	for i := 0; i+1 < len(seq); i++ {
		if ps.first[seq[i]>>6&3]&(1<<(seq[i]&63)) == 0 {
			continue
		}
		j, ok := ps.idx[[2]uint32{seq[i], seq[i+1]}]
		if !ok {
			continue
		}
		if j < 64 {
			if found&(1<<j) == 0 {
				found |= 1 << j
				n++
			}
			continue
		}
		if extra == nil {
			extra = map[int]bool{}
		}
		if !extra[j] {
			extra[j] = true
			n++
		}
	}
	return float64(n) / float64(ps.n)
}

// topK keeps the best max candidates (a min-heap on rank order).
type topK struct {
	ix    *Index
	max   int
	items []scored
}

// worse reports whether a ranks below b (lower score; ties: larger id).
func (t *topK) worse(a, b scored) bool {
	if a.score != b.score {
		return a.score < b.score
	}
	return t.ix.docs[a.doc].p.ID > t.ix.docs[b.doc].p.ID
}

func (t *topK) push(c scored) {
	if len(t.items) < t.max {
		t.items = append(t.items, c)
		for i := len(t.items) - 1; i > 0; {
			parent := (i - 1) / 2
			if !t.worse(t.items[i], t.items[parent]) {
				break
			}
			t.items[i], t.items[parent] = t.items[parent], t.items[i]
			i = parent
		}
		return
	}
	if t.max == 0 || !t.worse(t.items[0], c) {
		return
	}
	t.items[0] = c
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < len(t.items) && t.worse(t.items[l], t.items[m]) {
			m = l
		}
		if r < len(t.items) && t.worse(t.items[r], t.items[m]) {
			m = r
		}
		if m == i {
			return
		}
		t.items[i], t.items[m] = t.items[m], t.items[i]
		i = m
	}
}

func containsPhrases(seq []uint32, phrases [][]uint32) bool {
outer:
	for _, ph := range phrases {
		for i := 0; i+len(ph) <= len(seq); i++ {
			if slices.Equal(seq[i:i+len(ph)], ph) {
				continue outer
			}
		}
		return false
	}
	return true
}
