package kb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Embedder turns texts into vectors for hybrid ranking; inference.Embedder
// (an Ollama /api/embed client) satisfies it. Vectors of one Embedder must
// all have the same length. Embed may fail with inference.ErrUnavailable;
// the index then ranks lexically.
type Embedder interface {
	Embed(ctx context.Context, texts []string) ([][]float32, error)
}

// Change is what an Upsert did.
type Change int

// The results of Upsert.
const (
	Unchanged Change = iota // same content hash: nothing done
	Added
	Updated
)

func (c Change) String() string {
	return [...]string{"unchanged", "added", "updated"}[c]
}

// ErrNotFound is returned for an unknown article id.
var ErrNotFound = errors.New("kb: article not found")

// Field indexes of a passage.
const (
	fieldBody = iota
	fieldTitle
	fieldTags
	numFields
)

// posting is one passage's term frequencies for one term.
type posting struct {
	doc uint32
	tf  [numFields]uint8 // saturates at 255: BM25 has long flattened by then
}

// doc is one passage slot.
type doc struct {
	p    Passage
	lens [numFields]uint32
	seq  []uint32  // analysed title+body terms in order, for phrases and proximity
	vec  []float32 // unit vector, nil without an embedder
}

// docMeta is what scoring reads per posting, kept apart from doc in a
// dense slice so the posting loop stays in cache.
// k holds, per field, k1 * (1 - b + b*len/avglen), the BM25 saturation
// constant of the passage's field, recomputed after every change
// (unsafeNorms); deleted passages have deadK.
type docMeta struct {
	k     [numFields]float32
	alive bool
}

var deadK = [numFields]float32{float32(math.Inf(1)), float32(math.Inf(1)), float32(math.Inf(1))}

// articleEntry is what the index remembers of an article.
type articleEntry struct {
	hash    string
	updated time.Time
	source  string
	docs    []uint32
}

// Index is an in-memory BM25 index over article passages (title, body and tags scored as fields, each with its own idf and length normalisation, weighted by boosts and summed). It is safe for
// concurrent use: searches share a read lock, changes take the write lock.
// It is rebuilt from the stored articles at start (Load).
type Index struct {
	cfg     Config
	log     *slog.Logger
	m       *metrics
	syn     *Synonyms
	emb     Embedder
	accPool sync.Pool
	anPool  sync.Pool // *analyzer with warm stem caches

	mu sync.RWMutex
	// +checklocks:mu
	terms map[string]uint32
	// +checklocks:mu
	postings [][]posting
	// +checklocks:mu
	df []int32 // passages holding the term in any field
	// +checklocks:mu
	fdf [][numFields]int32 // passages holding the term, per field
	// +checklocks:mu
	docs []doc
	// +checklocks:mu
	meta []docMeta // parallel to docs
	// +checklocks:mu
	kBody []float32 // parallel to docs: meta.k[fieldBody], dense for the hot loop
	// +checklocks:mu
	articles map[string]*articleEntry
	// +checklocks:mu
	live int
	// +checklocks:mu
	sumLen [numFields]float64
}

// New returns an empty index. syn may be nil (no synonyms; see
// BuiltinSynonyms and ParseSynonyms), emb may be nil (lexical ranking only).
func New(cfg Config, logger *slog.Logger, reg prometheus.Registerer, syn *Synonyms, emb Embedder) (*Index, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	ix := &Index{
		cfg: cfg, log: logger.With("component", "kb"), m: m, syn: syn, emb: emb,
		terms: map[string]uint32{}, articles: map[string]*articleEntry{},
	}
	ix.anPool.New = func() any { return newAnalyzer() }
	return ix, nil
}

// analysedPassage is a passage with its field terms counted, prepared
// outside the lock.
type analysedPassage struct {
	p     Passage
	terms []string           // unique terms
	tf    [][numFields]uint8 // per unique term
	seq   []uint32           // title then body terms, as indexes into terms
	lens  [numFields]uint32
	vec   []float32
}

func analysePassage(an *analyzer, p Passage) analysedPassage {
	ap := analysedPassage{p: p}
	local := an.local
	clear(local)
	add := func(f int, text string) {
		an.each(text, func(term string, _ int) {
			li, ok := local[term]
			if !ok {
				li = uint32(len(ap.terms))
				local[term] = li
				ap.terms = append(ap.terms, term)
				ap.tf = append(ap.tf, [numFields]uint8{})
			}
			if f != fieldTags {
				ap.seq = append(ap.seq, li)
			}
			if ap.tf[li][f] < math.MaxUint8 {
				ap.tf[li][f]++
			}
			ap.lens[f]++
		})
	}
	add(fieldTitle, p.Title)
	add(fieldBody, p.Text)
	for _, tag := range p.Tags {
		add(fieldTags, tag)
	}
	return ap
}

// Upsert adds or replaces an article. An article whose content hash equals
// the indexed one is left alone (Unchanged), so re-imports are idempotent.
// With an embedder, passages are embedded first; if that fails the article
// is still indexed lexically and the failure is counted.
func (ix *Index) Upsert(ctx context.Context, a Article) (Change, error) {
	if err := a.Validate(); err != nil {
		ix.m.upserts.WithLabelValues("rejected").Inc()
		return Unchanged, fmt.Errorf("kb: upsert %q: %w", a.ID, err)
	}
	hash := a.Hash()
	ix.mu.RLock()
	old := ix.articles[a.ID]
	same := old != nil && old.hash == hash
	ix.mu.RUnlock()
	if same {
		ix.m.upserts.WithLabelValues("unchanged").Inc()
		return Unchanged, nil
	}
	aps := ix.prepare(ctx, a)
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ch := ix.unsafeApply(a, hash, aps)
	ix.m.upserts.WithLabelValues(ch.String()).Inc()
	ix.unsafeMaybeCompact()
	ix.unsafeGauges()
	return ch, nil
}

// prepare splits and analyses an article, and embeds its passages when an
// embedder is configured.
func (ix *Index) prepare(ctx context.Context, a Article) []analysedPassage {
	ps := SplitPassages(a, ix.cfg.PassageWords)
	aps := make([]analysedPassage, len(ps))
	an := ix.anPool.Get().(*analyzer)
	for i, p := range ps {
		aps[i] = analysePassage(an, p)
	}
	ix.anPool.Put(an)
	if ix.emb != nil {
		texts := make([]string, len(ps))
		for i, p := range ps {
			texts[i] = p.Title + "\n" + p.Text
		}
		vecs, err := ix.emb.Embed(ctx, texts)
		if err == nil && len(vecs) != len(ps) {
			err = fmt.Errorf("kb: embedder returned %d vectors for %d texts", len(vecs), len(ps))
		}
		if err != nil {
			ix.m.embedFailures.Inc()
			ix.log.Warn("embedding failed; article indexed lexically", "article", a.ID, "err", err)
		} else {
			for i := range aps {
				aps[i].vec = unit(vecs[i])
			}
		}
	}
	return aps
}

// unsafeApply replaces article a's passages with aps. Caller holds mu.
func (ix *Index) unsafeApply(a Article, hash string, aps []analysedPassage) Change {
	ch := Added
	if old := ix.articles[a.ID]; old != nil {
		if old.hash == hash {
			return Unchanged
		}
		ix.unsafeRemoveDocs(old.docs)
		ch = Updated
	}
	e := &articleEntry{hash: hash, updated: a.Updated, source: a.Source}
	for _, ap := range aps {
		id := uint32(len(ix.docs))
		global := make([]uint32, len(ap.terms))
		for li, term := range ap.terms {
			tid := ix.unsafeTermID(term)
			global[li] = tid
			ix.postings[tid] = append(ix.postings[tid], posting{doc: id, tf: ap.tf[li]})
			ix.df[tid]++
			for f, tf := range ap.tf[li] {
				if tf > 0 {
					ix.fdf[tid][f]++
				}
			}
		}
		seq := ap.seq // reuse: rewrite local indexes as term ids
		for i, li := range seq {
			seq[i] = global[li]
		}
		ix.docs = append(ix.docs, doc{p: ap.p, lens: ap.lens, seq: seq, vec: ap.vec})
		ix.meta = append(ix.meta, docMeta{alive: true})
		ix.kBody = append(ix.kBody, 0)
		for f := range numFields {
			ix.sumLen[f] += float64(ap.lens[f])
		}
		ix.live++
		e.docs = append(e.docs, id)
	}
	ix.articles[a.ID] = e
	return ch
}

// unsafeTermID returns the id of term, adding it if new. Caller holds mu.
func (ix *Index) unsafeTermID(term string) uint32 {
	tid, ok := ix.terms[term]
	if !ok {
		tid = uint32(len(ix.postings))
		ix.terms[term] = tid
		ix.postings = append(ix.postings, nil)
		ix.df = append(ix.df, 0)
		ix.fdf = append(ix.fdf, [numFields]int32{})
	}
	return tid
}

// unsafeRemoveDocs tombstones passages. Caller holds mu.
func (ix *Index) unsafeRemoveDocs(ids []uint32) {
	for _, id := range ids {
		d, m := &ix.docs[id], &ix.meta[id]
		if !m.alive {
			continue
		}
		m.alive = false
		m.k = deadK // a dead passage scores 0 without a branch
		ix.kBody[id] = deadK[fieldBody]
		for f := range numFields {
			ix.sumLen[f] -= float64(d.lens[f])
		}
		ix.live--
		// Document frequencies must drop now so idf stays exact; the
		// postings themselves go at the next compaction. Postings are in
		// passage order, so the passage's entry is found by binary search.
		seen := map[uint32]bool{}
		for _, tid := range d.seq {
			seen[tid] = true
		}
		an := ix.anPool.Get().(*analyzer)
		for _, tag := range d.p.Tags {
			an.each(tag, func(term string, _ int) { seen[ix.terms[term]] = true })
		}
		ix.anPool.Put(an)
		for tid := range seen {
			pl := ix.postings[tid]
			i := sort.Search(len(pl), func(i int) bool { return pl[i].doc >= id })
			if i == len(pl) || pl[i].doc != id {
				continue
			}
			ix.df[tid]--
			for f, tf := range pl[i].tf {
				if tf > 0 {
					ix.fdf[tid][f]--
				}
			}
		}
		d.vec, d.seq = nil, nil
	}
}

// Delete removes an article and its passages.
func (ix *Index) Delete(id string) error {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	e := ix.articles[id]
	if e == nil {
		return fmt.Errorf("kb: delete %q: %w", id, ErrNotFound)
	}
	ix.unsafeRemoveDocs(e.docs)
	delete(ix.articles, id)
	ix.m.deletes.Inc()
	ix.unsafeMaybeCompact()
	ix.unsafeGauges()
	return nil
}

// unsafeMaybeCompact drops tombstoned passages once they are over a quarter
// of the slots. Caller holds mu.
func (ix *Index) unsafeMaybeCompact() {
	dead := len(ix.docs) - ix.live
	if dead < 256 || dead*4 < len(ix.docs) {
		return
	}
	remap := make([]uint32, len(ix.docs))
	docs := make([]doc, 0, ix.live)
	meta := make([]docMeta, 0, ix.live)
	kBody := make([]float32, 0, ix.live)
	for i, d := range ix.docs {
		if ix.meta[i].alive {
			remap[i] = uint32(len(docs))
			docs = append(docs, d)
			meta = append(meta, ix.meta[i])
			kBody = append(kBody, ix.kBody[i])
		} else {
			remap[i] = math.MaxUint32
		}
	}
	for tid, pl := range ix.postings {
		out := pl[:0]
		for _, p := range pl {
			if r := remap[p.doc]; r != math.MaxUint32 {
				p.doc = r
				out = append(out, p)
			}
		}
		ix.postings[tid] = out
	}
	for _, e := range ix.articles {
		for i, d := range e.docs {
			e.docs[i] = remap[d]
		}
	}
	ix.docs, ix.meta, ix.kBody = docs, meta, kBody
}

// unsafeNorms recomputes every live passage's field weights from the
// current average lengths; it runs after each change, so scores never
// depend on the order of changes. Caller holds mu.
func (ix *Index) unsafeNorms() {
	if ix.live == 0 {
		return
	}
	b, k1 := ix.cfg.B, ix.cfg.K1
	var avg [numFields]float64
	for f := range numFields {
		avg[f] = max(ix.sumLen[f]/float64(ix.live), 1)
	}
	for i := range ix.meta {
		m := &ix.meta[i]
		if !m.alive {
			continue
		}
		for f := range numFields {
			m.k[f] = float32(k1 * (1 - b + b*float64(ix.docs[i].lens[f])/avg[f]))
		}
		ix.kBody[i] = m.k[fieldBody]
	}
}

func (ix *Index) unsafeGauges() {
	ix.unsafeNorms()
	ix.m.articles.Set(float64(len(ix.articles)))
	ix.m.passages.Set(float64(ix.live))
}

// Load indexes many articles at once, as at start from the store: analysis
// runs on `workers` goroutines (0 means 2), insertion under one lock.
// Invalid articles are skipped and returned as per-item errors.
func (ix *Index) Load(ctx context.Context, articles []Article, workers int) (added int, errs []error) {
	if workers <= 0 {
		workers = 2
	}
	type job struct {
		i   int
		aps []analysedPassage
		err error
	}
	out := make([]job, len(articles))
	var wg sync.WaitGroup
	next := make(chan int)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				a := articles[i]
				if err := a.Validate(); err != nil {
					out[i] = job{i: i, err: fmt.Errorf("kb: load %q: %w", a.ID, err)}
					continue
				}
				out[i] = job{i: i, aps: ix.prepare(ctx, a)}
			}
		}()
	}
	for i := range articles {
		next <- i
	}
	close(next)
	wg.Wait()
	ix.mu.Lock()
	defer ix.mu.Unlock()
	for i, j := range out {
		if j.err != nil {
			errs = append(errs, j.err)
			ix.m.upserts.WithLabelValues("rejected").Inc()
			continue
		}
		ch := ix.unsafeApply(articles[i], articles[i].Hash(), j.aps)
		ix.m.upserts.WithLabelValues(ch.String()).Inc()
		if ch != Unchanged {
			added++
		}
	}
	ix.unsafeMaybeCompact()
	ix.unsafeGauges()
	return added, errs
}

// ArticleInfo is what the index knows of an indexed article.
type ArticleInfo struct {
	ID       string
	Hash     string
	Updated  time.Time
	Source   string
	Passages int
}

// Article returns the indexed state of an article.
func (ix *Index) Article(id string) (ArticleInfo, bool) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	e := ix.articles[id]
	if e == nil {
		return ArticleInfo{}, false
	}
	return ArticleInfo{ID: id, Hash: e.hash, Updated: e.updated, Source: e.source, Passages: len(e.docs)}, true
}

// Stats are the index's sizes.
type Stats struct {
	Articles int `json:"articles"`
	Passages int `json:"passages"`
	Terms    int `json:"terms"`
	Postings int `json:"postings"`
}

// Stats returns the index's sizes.
func (ix *Index) Stats() Stats {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	s := Stats{Articles: len(ix.articles), Passages: ix.live, Terms: len(ix.terms)}
	for _, pl := range ix.postings {
		s.Postings += len(pl)
	}
	return s
}

// Query is one search.
type Query struct {
	// Text is free text; "quoted phrases" must appear in a passage (stop
	// words inside the phrase are ignored).
	Text string
	// K is the number of hits wanted (default 5).
	K int
	// Queue restricts hits to articles of this queue or of every queue;
	// empty means no restriction.
	Queue string
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

// unsafeLexical ranks passages by per-field BM25 plus the proximity bonus. Caller
// holds mu (read).
func (ix *Index) unsafeLexical(pq parsedQuery, q Query, k int) []Hit {
	if len(pq.terms) == 0 || ix.live == 0 {
		return nil
	}
	n := float64(ix.live)
	k1 := float32(ix.cfg.K1)

	// Weigh the query terms; a long query (a conversation window) keeps
	// only its MaxQueryTerms heaviest terms: the common ones it drops move
	// scores little and cost the most.
	// Each field is scored by BM25 with its own idf and length
	// normalisation, times its boost, and the fields' scores are summed.
	type qterm struct {
		tid    uint32
		qw     [numFields]float32 // boost * idf * weight * (k1+1), per field
		weight float64
	}
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
	acc := ix.getAcc(len(ix.docs))
	defer ix.putAcc(acc)
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
	// Candidates: filter first, then rank. Without phrases only the head
	// (pool) is re-ranked, so select it with a bounded heap; phrase queries
	// sort every candidate and check the phrases lazily down the list.
	pool := max(k*4, 40)
	if q.PerArticle {
		pool = max(k*8, 60)
	}
	var top topK
	if len(pq.phrases) == 0 {
		top = topK{ix: ix, max: pool}
	} else {
		top = topK{ix: ix, max: len(acc)}
	}
	for i, s := range acc {
		if s == 0 {
			continue
		}
		acc[i] = 0
		id := uint32(i)
		d := &ix.docs[id]
		if q.Queue != "" && d.p.Queue != "" && d.p.Queue != q.Queue {
			continue
		}
		if q.Allow != nil && !q.Allow(&d.p) {
			continue
		}
		if len(top.items) == top.max && float64(s) < top.items[0].score {
			continue // cannot enter the head
		}
		top.push(scored{id, float64(s)})
	}
	cands := top.items
	ix.unsafeSortScored(cands)
	pairs := newPairSet(adjacentPairs(ix.unsafeIDs(pq.seq)))
	var phrases [][]uint32
	for _, ph := range pq.phrases {
		phrases = append(phrases, ix.unsafeIDs(ph))
	}
	var out []scored
	seenArticle := map[string]bool{}
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
