package kb

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"math"
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

// ErrIndexFull is returned by an upsert that would take the index past
// Config.MaxTextBytes.
var ErrIndexFull = errors.New("kb: index full")

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
	// queued marks a passage of an article restricted to a queue: only
	// those need the scope check, which reads the passage itself.
	queued bool
}

var deadK = [numFields]float32{float32(math.Inf(1)), float32(math.Inf(1)), float32(math.Inf(1))}

// articleEntry is what the index remembers of an article.
type articleEntry struct {
	hash    string
	updated time.Time
	source  string
	docs    []uint32
	size    int64 // textSize of the article
}

// textSize is what an article counts against Config.MaxTextBytes.
func textSize(a Article) int64 {
	n := int64(len(a.Title) + len(a.Body))
	for _, t := range a.Tags {
		n += int64(len(t))
	}
	return n
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
	// textBytes is the textSize of every indexed article.
	// +checklocks:mu
	textBytes int64
}

// New returns an empty index. syn may be nil (no synonyms; see
// BuiltinSynonyms and ParseSynonyms), emb may be nil (lexical ranking only).
func New(cfg Config, logger *slog.Logger, reg prometheus.Registerer, syn *Synonyms, emb Embedder) (*Index, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.MaxTextBytes == 0 {
		cfg.MaxTextBytes = DefaultMaxTextBytes
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
	Articles  int   `json:"articles"`
	TextBytes int64 `json:"text_bytes"`
	Passages  int   `json:"passages"`
	Terms     int   `json:"terms"`
	Postings  int   `json:"postings"`
}

// Stats returns the index's sizes.
func (ix *Index) Stats() Stats {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	s := Stats{Articles: len(ix.articles), TextBytes: ix.textBytes, Passages: ix.live, Terms: len(ix.terms)}
	for _, pl := range ix.postings {
		s.Postings += len(pl)
	}
	return s
}
