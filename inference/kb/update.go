package kb

import (
	"context"
	"fmt"
	"math"
	"sort"
	"sync"
)

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
	if err := ix.CheckRoom(a); err != nil {
		ix.m.upserts.WithLabelValues("rejected").Inc()
		return Unchanged, err
	}
	aps := ix.prepare(ctx, a)
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if err := ix.unsafeCheckRoom(a); err != nil { // another change may have filled it meanwhile
		ix.m.upserts.WithLabelValues("rejected").Inc()
		return Unchanged, err
	}
	ch := ix.unsafeApply(a, hash, aps)
	ix.m.upserts.WithLabelValues(ch.String()).Inc()
	ix.unsafeMaybeCompact()
	ix.unsafeGauges()
	return ch, nil
}

// CheckRoom reports ErrIndexFull if indexing a would take the index past
// its text bound (a replaced article's old text is counted back): a writer
// checks before it stores what the index could not hold.
func (ix *Index) CheckRoom(a Article) error {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.unsafeCheckRoom(a)
}

// unsafeCheckRoom is checkRoom; caller holds mu (read or write).
func (ix *Index) unsafeCheckRoom(a Article) error {
	after := ix.textBytes + textSize(a)
	if old := ix.articles[a.ID]; old != nil {
		after -= old.size
	}
	if after > ix.cfg.MaxTextBytes {
		return fmt.Errorf("kb: upsert %q: %w: %d bytes of text held, %d allowed", a.ID, ErrIndexFull, ix.textBytes, ix.cfg.MaxTextBytes)
	}
	return nil
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
		ix.textBytes -= old.size
		ch = Updated
	}
	e := &articleEntry{hash: hash, updated: a.Updated, source: a.Source, size: textSize(a)}
	ix.textBytes += e.size
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
		ix.meta = append(ix.meta, docMeta{alive: true, queued: ap.p.Queue != ""})
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
	ix.textBytes -= e.size
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
		if j.err == nil {
			j.err = ix.unsafeCheckRoom(articles[i])
		}
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
