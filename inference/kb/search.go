package kb

import (
	"context"
	"math"
	"sort"
	"strings"
	"time"
)

// Query is one search.
type Query struct {
	// Text is free text; "quoted phrases" must appear in a passage (stop
	// words inside the phrase are ignored).
	Text string
	// K is the number of hits wanted (default 5).
	K int
	// Scope is the set of queues whose articles the reader may receive
	// (articles without a queue are for everyone). The zero Scope admits
	// only articles without a queue.
	Scope Scope
	// PerArticle keeps only the best passage of each article.
	PerArticle bool
	// Allow, if set, is called for each candidate passage before it is
	// ranked; passages it rejects are never returned.
	Allow func(p *Passage) bool
	// Vector overrides the query embedding (for callers that embed once).
	Vector []float32
}

// Hit is one retrieved passage. Score is the BM25 score, or the fused
// reciprocal-rank score when hybrid ranking was used (then Lexical and
// Semantic hold the parts: lexical score and cosine similarity).
type Hit struct {
	Passage  Passage `json:"passage"`
	Score    float64 `json:"score"`
	Lexical  float64 `json:"lexical"`
	Semantic float64 `json:"semantic,omitempty"`
}

// weightedTerm is one query term and its weight.
type weightedTerm struct {
	term string
	w    float64
}

// parsedQuery is an analysed query.
type parsedQuery struct {
	terms   []weightedTerm
	seq     []string   // analysed terms in order (for proximity)
	phrases [][]string // required phrases
}

func (ix *Index) parse(text string) parsedQuery {
	var q parsedQuery
	parts := strings.Split(text, `"`)
	weights := map[string]float64{}
	var order []string
	for i, part := range parts {
		ts := analyze(part)
		terms := make([]string, len(ts))
		for j, t := range ts {
			terms[j] = t.term
		}
		if i%2 == 1 && len(terms) > 1 {
			q.phrases = append(q.phrases, terms)
		}
		q.seq = append(q.seq, terms...)
		for _, t := range terms {
			if _, ok := weights[t]; !ok {
				order = append(order, t)
			}
			// Repeated terms count more, with diminishing returns.
			weights[t] += 1
		}
	}
	for _, t := range order {
		q.terms = append(q.terms, weightedTerm{t, 1 + math.Log(weights[t])})
	}
	if ix.cfg.SynonymWeight > 0 {
		for _, t := range ix.syn.expand(q.seq) {
			if _, ok := weights[t]; !ok {
				q.terms = append(q.terms, weightedTerm{t, ix.cfg.SynonymWeight})
			}
		}
	}
	return q
}

// Search returns the best passages for q.
func (ix *Index) Search(ctx context.Context, q Query) ([]Hit, error) {
	if q.K <= 0 {
		q.K = 5
	}
	pq := ix.parse(q.Text)
	vec := q.Vector
	if ix.emb != nil && vec == nil && len(pq.terms) > 0 {
		vs, err := ix.emb.Embed(ctx, []string{q.Text})
		if err != nil || len(vs) != 1 {
			ix.m.embedFailures.Inc()
		} else {
			vec = vs[0]
		}
	}
	start := time.Now()
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	depth := q.K
	if vec != nil {
		depth = max(depth, ix.cfg.HybridDepth)
	}
	lex := ix.unsafeLexical(pq, q, depth)
	ix.m.queries.Inc()
	ix.m.queryLatency.Observe(time.Since(start).Seconds())
	if vec == nil {
		if len(lex) > q.K {
			lex = lex[:q.K]
		}
		return lex, nil
	}
	sem := ix.unsafeSemantic(unit(vec), q, depth)
	return fuse(lex, sem, ix.cfg.RRFK, q.K, q.PerArticle), nil
}

// scored is a candidate passage during ranking.
type scored struct {
	doc   uint32
	score float64
}

// unsafeLexical ranks passages by per-field BM25 plus the proximity bonus.
// Caller holds mu (read).
func (ix *Index) unsafeLexical(pq parsedQuery, q Query, k int) []Hit {
	if len(pq.terms) == 0 || ix.live == 0 {
		return nil
	}
	qts := ix.unsafeWeigh(pq)
	acc := ix.getAcc(len(ix.docs))
	defer ix.putAcc(acc)
	ix.unsafeAccumulate(qts, acc)
	// Without phrases only the head (pool) is re-ranked, so select it
	// with a bounded heap; phrase queries sort every candidate and check
	// the phrases lazily down the list.
	pool := max(k*4, 40)
	if q.PerArticle {
		pool = max(k*8, 60)
	}
	heap := pool
	if len(pq.phrases) > 0 {
		heap = len(acc)
	}
	cands := ix.unsafeCandidates(acc, q, heap)
	return ix.unsafeRerank(cands, pq, q, k, pool)
}

// qterm is one query term weighed for every field: boost * idf * weight
// * (k1+1).
type qterm struct {
	tid    uint32
	qw     [numFields]float32
	weight float64 // the heaviest field's weight, for pruning
}

// unsafeWeigh weighs the query's terms that occur in the index. Each field
// is scored by BM25 with its own idf and length normalisation, times its
// boost, and the fields' scores are summed. A long query (a conversation
// window) keeps only its MaxQueryTerms heaviest terms: the common ones it
// drops move scores little and cost the most. Caller holds mu.
func (ix *Index) unsafeWeigh(pq parsedQuery) []qterm {
	n := float64(ix.live)
	k1 := float32(ix.cfg.K1)
	boost := [numFields]float64{1, ix.cfg.TitleBoost, ix.cfg.TagBoost}
	var qts []qterm
	for _, wt := range pq.terms {
		tid, ok := ix.terms[wt.term]
		if !ok || ix.df[tid] <= 0 {
			continue
		}
		qt := qterm{tid: tid}
		for f := range numFields {
			df := float64(ix.fdf[tid][f])
			if df == 0 {
				continue
			}
			w := boost[f] * math.Log(1+(n-df+0.5)/(df+0.5)) * wt.w
			qt.qw[f] = float32(w) * (k1 + 1)
			qt.weight = max(qt.weight, w)
		}
		qts = append(qts, qt)
	}
	if len(qts) > ix.cfg.MaxQueryTerms {
		sort.SliceStable(qts, func(i, j int) bool { return qts[i].weight > qts[j].weight })
		qts = qts[:ix.cfg.MaxQueryTerms]
	}
	return qts
}

// unsafeAccumulate adds every passage's score for the query terms to acc,
// indexed by passage. Caller holds mu.
func (ix *Index) unsafeAccumulate(qts []qterm, acc []float32) {
	meta, kBody := ix.meta, ix.kBody
	for _, qt := range qts {
		for _, p := range ix.postings[qt.tid] {
			var s float32
			if tf := float32(p.tf[fieldBody]); tf > 0 {
				s = qt.qw[fieldBody] * tf / (tf + kBody[p.doc]) // +Inf for a deleted passage
			}
			if p.tf[fieldTitle]|p.tf[fieldTags] != 0 {
				kk := &meta[p.doc].k
				if p.tf[fieldTitle] > 0 {
					tf := float32(p.tf[fieldTitle])
					s += qt.qw[fieldTitle] * tf / (tf + kk[fieldTitle])
				}
				if p.tf[fieldTags] > 0 {
					tf := float32(p.tf[fieldTags])
					s += qt.qw[fieldTags] * tf / (tf + kk[fieldTags])
				}
			}
			acc[p.doc] += s
		}
	}
}

// unsafeCandidates takes the scored passages out of acc (leaving it
// zeroed for reuse), drops those the query may not return, and keeps the
// best max of the rest, sorted. Caller holds mu.
func (ix *Index) unsafeCandidates(acc []float32, q Query, max int) []scored {
	top := topK{ix: ix, max: max}
	meta := ix.meta
	for i, s := range acc {
		if s == 0 {
			continue
		}
		acc[i] = 0
		id := uint32(i)
		if (meta[id].queued || q.Allow != nil) && !ix.unsafeAdmits(id, &q) {
			continue
		}
		if len(top.items) == top.max && float64(s) < top.items[0].score {
			continue // cannot enter the head
		}
		top.push(scored{id, float64(s)})
	}
	ix.unsafeSortScored(top.items)
	return top.items
}

// unsafeAdmits applies the query's scope and filter to passage id without
// touching the passage unless it must (the candidate loop is hot). Caller
// holds mu.
func (ix *Index) unsafeAdmits(id uint32, q *Query) bool {
	if ix.meta[id].queued && !q.Scope.All && !q.Scope.Admits(ix.docs[id].p.Queue) {
		return false
	}
	return q.Allow == nil || q.Allow(&ix.docs[id].p)
}

// unsafeRerank keeps the candidates holding the query's phrases, applies
// the proximity bonus to the first pool of them, and returns the best k
// (one per article with PerArticle). Caller holds mu.
func (ix *Index) unsafeRerank(cands []scored, pq parsedQuery, q Query, k, pool int) []Hit {
	pairs := newPairSet(adjacentPairs(ix.unsafeIDs(pq.seq)))
	var phrases [][]uint32
	for _, ph := range pq.phrases {
		phrases = append(phrases, ix.unsafeIDs(ph))
	}
	var out []scored
	for _, c := range cands {
		d := &ix.docs[c.doc]
		if !containsPhrases(d.seq, phrases) {
			continue
		}
		if pairs.n > 0 && ix.cfg.ProximityBoost > 0 {
			c.score *= 1 + ix.cfg.ProximityBoost*pairs.share(d.seq)
		}
		out = append(out, c)
		if len(out) >= pool {
			break
		}
	}
	ix.unsafeSortScored(out)
	hits := make([]Hit, 0, k)
	seenArticle := map[string]bool{}
	for _, c := range out {
		d := &ix.docs[c.doc]
		if q.PerArticle {
			if seenArticle[d.p.ArticleID] {
				continue
			}
			seenArticle[d.p.ArticleID] = true
		}
		hits = append(hits, Hit{Passage: d.p, Score: c.score, Lexical: c.score})
		if len(hits) >= k {
			break
		}
	}
	return hits
}

// unsafeSortScored orders candidates by score, ties by passage id, so a
// ranking does not depend on the order articles were added. Caller holds mu.
func (ix *Index) unsafeSortScored(c []scored) {
	sort.Slice(c, func(i, j int) bool {
		if c[i].score != c[j].score {
			return c[i].score > c[j].score
		}
		return ix.docs[c[i].doc].p.ID < ix.docs[c[j].doc].p.ID
	})
}

func (ix *Index) getAcc(n int) []float32 {
	if v := ix.accPool.Get(); v != nil {
		acc := *(v.(*[]float32))
		if len(acc) >= n {
			return acc[:n]
		}
	}
	return make([]float32, n)
}

func (ix *Index) putAcc(acc []float32) { ix.accPool.Put(&acc) }

// noTerm stands for a query term absent from the index.
const noTerm = math.MaxUint32

// unsafeIDs maps analysed terms to term ids (noTerm if absent). Caller holds mu.
func (ix *Index) unsafeIDs(terms []string) []uint32 {
	out := make([]uint32, len(terms))
	for i, t := range terms {
		tid, ok := ix.terms[t]
		if !ok || ix.df[tid] <= 0 {
			tid = noTerm // absent, or only in deleted passages
		}
		out[i] = tid
	}
	return out
}
