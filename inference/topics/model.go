package topics

import (
	"bytes"
	"context"
	"encoding/gob"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
)

// ErrTooFew is returned when there are too few texts to find topics in.
var ErrTooFew = errors.New("topics: too few texts")

// Topic is one discovered topic.
type Topic struct {
	ID       int      `json:"id"`
	Label    string   `json:"label"`
	Keywords []string `json:"keywords"`
	// Size is the number of discovery texts in the topic.
	Size int `json:"size"`
	// Representatives are indices into the texts given to Discover of the
	// members closest to the topic's centre, most central first.
	Representatives []int `json:"representatives"`
}

// Model is the result of a discovery: the topics, and what Assign needs
// to place new texts. It is immutable once returned.
type Model struct {
	Topics []Topic
	// Terms is the vocabulary: hash, IDF and (for word terms) the text.
	TermHash []uint64
	TermIDF  []float32
	TermWord []string
	// Centroids are the topics' unit TF-IDF centroids, by topic index.
	CentroidIdx [][]int32
	CentroidVal [][]float32
	MinScore    float64

	voc *vocab
}

// maxCentroidTerms bounds the terms a centroid keeps.
const maxCentroidTerms = 600

// Discover finds the topics of texts. It returns the model and each
// text's topic index (into Model.Topics). When there are more than
// cfg.MaxTexts texts, an evenly spaced sample is clustered and the rest
// are assigned (a text too far from every topic gets -1). Texts are never
// kept in the model; only counts, IDFs and term hashes, and the words of
// terms that occur in at least two texts (the keywords come from these).
func Discover(ctx context.Context, cfg Config, texts []string) (*Model, []int, error) {
	if err := cfg.Validate(); err != nil {
		return nil, nil, err
	}
	var idx []int // the texts clustered
	for i, t := range texts {
		if strings.TrimSpace(t) != "" {
			idx = append(idx, i)
		}
	}
	if len(idx) < cfg.MinTexts {
		return nil, nil, fmt.Errorf("%w: %d non-empty texts, at least %d needed", ErrTooFew, len(idx), cfg.MinTexts)
	}
	if len(idx) > cfg.MaxTexts {
		step := float64(len(idx)) / float64(cfg.MaxTexts)
		sample := make([]int, cfg.MaxTexts)
		for k := range sample {
			sample[k] = idx[int(float64(k)*step)]
		}
		idx = sample
	}
	raw := make([]rawTerms, len(idx))
	for k, i := range idx {
		raw[k] = analyse(texts[i])
	}
	voc := fitVocab(raw, 2)
	if len(voc.idf) == 0 {
		return nil, nil, fmt.Errorf("%w: no term occurs twice", ErrTooFew)
	}
	vecs := make([]sparse, len(raw))
	for k, r := range raw {
		vecs[k] = voc.vector(r)
	}
	if ctx.Err() != nil {
		return nil, nil, ctx.Err()
	}
	// A small set is clustered on its TF-IDF vectors themselves (a few
	// latent dimensions would blur its topics together), with a smaller
	// minimum topic size.
	minSize := min(cfg.MinTopicSize, max(2, len(vecs)/50))
	var z [][]float64
	if len(vecs) < smallSet {
		z = densify(vecs, len(voc.idf))
	} else {
		z = lsa(vecs, len(voc.idf), cfg.Dims, cfg.Seed)
	}
	clusters, err := averageLinkage(ctx, z, cfg.Threshold)
	if err != nil {
		return nil, nil, err
	}
	assign, k := settle(z, clusters, minSize, 0)
	m := buildModel(cfg, voc, vecs, z, assign, k)
	// Map back to the caller's texts.
	out := make([]int, len(texts))
	for i := range out {
		out[i] = -1
	}
	for k, i := range idx {
		out[i] = m.remap[assign[k]]
	}
	for k := range m.Topics {
		for r, j := range m.Topics[k].Representatives {
			m.Topics[k].Representatives[r] = idx[j]
		}
	}
	clustered := make([]bool, len(texts))
	for _, i := range idx {
		clustered[i] = true
	}
	for i, t := range texts {
		if !clustered[i] && strings.TrimSpace(t) != "" {
			out[i], _ = m.Assign(t)
		}
	}
	return m.Model, out, nil
}

// smallSet is the size below which texts are clustered without LSA.
const smallSet = 300

func densify(vecs []sparse, dim int) [][]float64 {
	out := make([][]float64, len(vecs))
	for i, v := range vecs {
		row := make([]float64, dim)
		for j, f := range v.idx {
			row[f] = float64(v.val[j])
		}
		out[i] = row
	}
	return out
}

// built is a model with the map from settle's cluster numbers to topics.
type built struct {
	*Model
	remap []int
}

func buildModel(cfg Config, voc *vocab, vecs []sparse, z [][]float64, assign []int, k int) built {
	groups := make([][]int, k)
	for i, t := range assign {
		groups[t] = append(groups[t], i)
	}
	order := make([]int, 0, k)
	for t, g := range groups {
		if len(g) > 0 {
			order = append(order, t)
		}
	}
	slices.SortStableFunc(order, func(a, b int) int { return len(groups[b]) - len(groups[a]) })
	remap := make([]int, k)
	for i := range remap {
		remap[i] = -1
	}
	// The mean TF-IDF weight of every term over all texts, for keywords.
	dim := len(voc.idf)
	global := make([]float64, dim)
	for _, v := range vecs {
		for j, i := range v.idx {
			global[i] += float64(v.val[j])
		}
	}
	for i := range global {
		global[i] /= float64(len(vecs))
	}
	m := &Model{MinScore: cfg.MinScore, voc: voc}
	m.TermHash = make([]uint64, dim)
	for h, i := range voc.index {
		m.TermHash[i] = h
	}
	m.TermIDF, m.TermWord = voc.idf, voc.word
	acc := make([]float64, dim)
	for id, t := range order {
		g := groups[t]
		remap[t] = id
		clear(acc)
		for _, i := range g {
			for j, f := range vecs[i].idx {
				acc[f] += float64(vecs[i].val[j])
			}
		}
		// Centroid: the heaviest terms, unit length.
		var terms []int32
		for f, x := range acc {
			if x > 0 {
				terms = append(terms, int32(f))
			}
		}
		slices.SortFunc(terms, func(a, b int32) int { return cmpDesc(acc[a], acc[b]) })
		terms = terms[:min(len(terms), maxCentroidTerms)]
		slices.Sort(terms)
		c := sparse{idx: terms, val: make([]float32, len(terms))}
		var norm float64
		for j, f := range terms {
			norm += acc[f] * acc[f]
			c.val[j] = float32(acc[f])
		}
		for j := range c.val {
			c.val[j] /= float32(math.Sqrt(norm))
		}
		m.CentroidIdx = append(m.CentroidIdx, c.idx)
		m.CentroidVal = append(m.CentroidVal, c.val)
		// Keywords: word terms weighing more here than overall.
		var words []int
		for f := range dim {
			if voc.word[f] != "" && acc[f] > 0 {
				words = append(words, f)
			}
		}
		n := float64(len(g))
		lift := func(f int) float64 { return acc[f]/n - global[f] }
		slices.SortFunc(words, func(a, b int) int { return cmpDesc(lift(a), lift(b)) })
		kw := pickKeywords(voc, words, cfg.Keywords)
		// Representatives: the members nearest the centre.
		cent := meanUnit(z, g)
		reps := slices.Clone(g)
		slices.SortStableFunc(reps, func(a, b int) int { return cmpDesc(dotDense(z[a], cent), dotDense(z[b], cent)) })
		reps = reps[:min(len(reps), cfg.Representatives)]
		m.Topics = append(m.Topics, Topic{ID: id, Label: strings.Join(kw[:min(3, len(kw))], ", "), Keywords: kw, Size: len(g), Representatives: reps})
	}
	return built{m, remap}
}

// pickKeywords takes the first n terms, skipping a unigram already inside
// a chosen bigram and a bigram whose words were both chosen.
func pickKeywords(voc *vocab, ranked []int, n int) []string {
	var out []string
	covered := map[string]bool{}
	for _, f := range ranked {
		if len(out) == n {
			break
		}
		w := voc.word[f]
		parts := strings.Fields(w)
		if len(parts) == 1 && covered[w] {
			continue
		}
		if len(parts) == 2 && covered[parts[0]] && covered[parts[1]] {
			continue
		}
		out = append(out, w)
		for _, p := range parts {
			covered[p] = true
		}
	}
	return out
}

func cmpDesc(a, b float64) int {
	switch {
	case a > b:
		return -1
	case a < b:
		return 1
	}
	return 0
}

// Assign returns the topic (index into Topics) nearest text and its cosine
// similarity; -1 when no topic is at least MinScore close.
func (m *Model) Assign(text string) (int, float64) {
	v := m.vocab().vector(analyse(text))
	best, bs := -1, m.MinScore
	for t := range m.CentroidIdx {
		if s := v.dot(sparse{m.CentroidIdx[t], m.CentroidVal[t]}); s >= bs {
			best, bs = t, s
		}
	}
	if best < 0 {
		return -1, 0
	}
	return best, bs
}

func (m *Model) vocab() *vocab {
	if m.voc == nil {
		panic("topics: model used before MarshalBinary/UnmarshalBinary or Discover")
	}
	return m.voc
}

// WithLabels returns a copy of the model whose topics carry the given
// labels (by topic index); empty labels keep the keyword label.
func (m *Model) WithLabels(labels []string) *Model {
	cp := *m
	cp.Topics = slices.Clone(m.Topics)
	for i := range cp.Topics {
		if i < len(labels) && strings.TrimSpace(labels[i]) != "" {
			cp.Topics[i].Label = strings.TrimSpace(labels[i])
		}
	}
	return &cp
}

// wireModel is the encoded form: Model without its methods, so that gob
// does not call MarshalBinary again.
type wireModel Model

// MarshalBinary encodes the model (gob).
func (m *Model) MarshalBinary() ([]byte, error) {
	var b bytes.Buffer
	if err := gob.NewEncoder(&b).Encode((*wireModel)(m)); err != nil {
		return nil, fmt.Errorf("topics: encode model: %w", err)
	}
	return b.Bytes(), nil
}

// UnmarshalBinary decodes a model written by MarshalBinary and checks it.
func (m *Model) UnmarshalBinary(data []byte) error {
	var w wireModel
	if err := gob.NewDecoder(bytes.NewReader(data)).Decode(&w); err != nil {
		return fmt.Errorf("topics: decode model: %w", err)
	}
	x := Model(w)
	dim := len(x.TermHash)
	if len(x.TermIDF) != dim || len(x.TermWord) != dim || len(x.CentroidIdx) != len(x.Topics) || len(x.CentroidVal) != len(x.Topics) {
		return errors.New("topics: decode model: inconsistent lengths")
	}
	for t := range x.CentroidIdx {
		if len(x.CentroidIdx[t]) != len(x.CentroidVal[t]) {
			return errors.New("topics: decode model: inconsistent centroid")
		}
		for _, f := range x.CentroidIdx[t] {
			if f < 0 || int(f) >= dim {
				return errors.New("topics: decode model: centroid term out of range")
			}
		}
	}
	x.voc = &vocab{index: make(map[uint64]int32, dim), idf: x.TermIDF, word: x.TermWord}
	for i, h := range x.TermHash {
		x.voc.index[h] = int32(i)
	}
	*m = x
	return nil
}
