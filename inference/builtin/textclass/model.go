package textclass

import (
	"bytes"
	"context"
	"encoding/gob"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sort"
	"sync"
)

// TrainConfig controls training.
type TrainConfig struct {
	Features FeatureConfig
	C        float64 // SVM regularisation (larger = less regularised); default 1
	MaxIter  int     // passes over the data per class; default 200
	Eps      float64 // stopping tolerance on the projected gradient; default 0.1
	Seed     uint64  // seed of the per-class shuffles
	Workers  int     // goroutines; 0 = GOMAXPROCS
	// Temperature scales scores before the softmax that gives confidences.
	Temperature float64
}

// DefaultTrainConfig returns the settings used by the built-in models.
func DefaultTrainConfig() TrainConfig {
	return TrainConfig{Features: DefaultFeatureConfig(), C: 1, MaxIter: 200, Eps: 0.1, Seed: 1, Temperature: 6}
}

// Example is one labelled training text.
type Example struct {
	Text  string
	Label string
}

// Model is a trained one-vs-rest linear classifier. It is immutable after
// training and safe for concurrent use.
type Model struct {
	Vec         *Vectorizer
	Labels      []string
	W           [][]float32 // per label, Dim()+1 weights (last is the bias)
	Temperature float64
	Examples    int // number of training examples

	// wt holds W transposed (feature-major: the weights of all labels for
	// one feature are adjacent), which makes scoring cache-friendly; built
	// by prepare after training or decoding.
	wt []float32
}

func (m *Model) prepare() {
	k, dim := len(m.Labels), m.Vec.Dim()
	m.wt = make([]float32, (dim+1)*k)
	for c, w := range m.W {
		for f, v := range w {
			m.wt[f*k+c] = v
		}
	}
}

// Scored is one label with its raw score and softmax probability.
type Scored struct {
	Label string
	Score float64
	Prob  float64
}

// ErrNoData is returned when training has too few examples or labels.
var ErrNoData = errors.New("textclass: need examples of at least two labels")

// Train fits a model. Labels are sorted so the model does not depend on
// example order beyond the seeded shuffles.
func Train(cfg TrainConfig, examples []Example) (*Model, error) {
	return TrainContext(context.Background(), cfg, examples)
}

// TrainContext is Train that gives up when ctx is done, between labels (a
// label's binary model takes a small fraction of the whole), and returns
// ctx's error then.
func TrainContext(ctx context.Context, cfg TrainConfig, examples []Example) (*Model, error) {
	if cfg.C <= 0 {
		cfg.C = 1
	}
	if cfg.MaxIter <= 0 {
		cfg.MaxIter = 200
	}
	if cfg.Eps <= 0 {
		cfg.Eps = 0.1
	}
	if cfg.Temperature <= 0 {
		cfg.Temperature = 6
	}
	labelSet := map[string]bool{}
	docs := make([]string, len(examples))
	for i, e := range examples {
		if e.Label == "" {
			return nil, fmt.Errorf("textclass: example %d: empty label", i)
		}
		labelSet[e.Label] = true
		docs[i] = e.Text
	}
	if len(labelSet) < 2 {
		return nil, ErrNoData
	}
	labels := make([]string, 0, len(labelSet))
	for l := range labelSet {
		labels = append(labels, l)
	}
	sort.Strings(labels)
	labelIdx := make(map[string]int, len(labels))
	for i, l := range labels {
		labelIdx[l] = i
	}
	vec := FitVectorizer(cfg.Features, docs)
	xs := make([]SparseVec, len(docs))
	ys := make([]int, len(docs))
	workers := cfg.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	var wg sync.WaitGroup
	chunk := (len(docs) + workers - 1) / workers
	for w := 0; w < workers; w++ {
		lo, hi := w*chunk, min((w+1)*chunk, len(docs))
		if lo >= hi {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := lo; i < hi; i++ {
				xs[i] = vec.Transform(docs[i])
				ys[i] = labelIdx[examples[i].Label]
			}
		}()
	}
	wg.Wait()

	data := newCSR(xs)
	m := &Model{Vec: vec, Labels: labels, W: make([][]float32, len(labels)), Temperature: cfg.Temperature, Examples: len(examples)}
	next := make(chan int)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range next {
				m.W[c] = trainBinary(data, ys, c, vec.Dim(), cfg)
			}
		}()
	}
dispatch:
	for c := range labels {
		select {
		case next <- c:
		case <-ctx.Done():
			break dispatch
		}
	}
	close(next)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.prepare()
	return m, nil
}

// csr is the training matrix in compressed sparse rows, contiguous for
// cache-friendly passes.
type csr struct {
	ptr []int
	idx []int32
	val []float32
	sq  []float64 // squared norm of each row
}

func newCSR(xs []SparseVec) *csr {
	m := &csr{ptr: make([]int, len(xs)+1), sq: make([]float64, len(xs))}
	nnz := 0
	for _, x := range xs {
		nnz += len(x.Idx)
	}
	m.idx = make([]int32, 0, nnz)
	m.val = make([]float32, 0, nnz)
	for i, x := range xs {
		m.idx = append(m.idx, x.Idx...)
		m.val = append(m.val, x.Val...)
		m.ptr[i+1] = len(m.idx)
		for _, v := range x.Val {
			m.sq[i] += float64(v) * float64(v)
		}
	}
	return m
}

// trainBinary solves the L2-regularised squared-hinge SVM dual for class c
// against the rest by coordinate descent (Hsieh et al. 2008), with a bias
// feature of value 1.
func trainBinary(x *csr, ys []int, c, dim int, cfg TrainConfig) []float32 {
	n := len(ys)
	w := make([]float64, dim+1)
	alpha := make([]float64, n)
	qd := make([]float64, n)
	y := make([]float64, n)
	diag := 1 / (2 * cfg.C)
	for i := range ys {
		qd[i] = x.sq[i] + 1 + diag
		if ys[i] == c {
			y[i] = 1
		} else {
			y[i] = -1
		}
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, uint64(c)+1))
	index := make([]int, n)
	for i := range index {
		index[i] = i
	}
	// Shrinking as in LIBLINEAR: coordinates at the bound whose gradient
	// says they will stay there leave the active set until convergence.
	// The L2-loss dual has only the lower bound 0 (no upper bound C), so
	// only the largest projected gradient of the last pass is kept.
	active := n
	pgMaxOld := math.Inf(1)
	for iter := 0; iter < cfg.MaxIter; iter++ {
		rng.Shuffle(active, func(i, j int) { index[i], index[j] = index[j], index[i] })
		pgMax, pgMin := math.Inf(-1), math.Inf(1)
		for s := 0; s < active; s++ {
			i := index[s]
			idx, val := x.idx[x.ptr[i]:x.ptr[i+1]], x.val[x.ptr[i]:x.ptr[i+1]]
			val = val[:len(idx)]
			g := w[dim]
			for k, j := range idx {
				g += w[j] * float64(val[k])
			}
			g = g*y[i] - 1 + diag*alpha[i]
			pg := g
			if alpha[i] == 0 {
				if g > pgMaxOld {
					active--
					index[s], index[active] = index[active], index[s]
					s--
					continue
				}
				if g > 0 {
					pg = 0
				}
			}
			pgMax = max(pgMax, pg)
			pgMin = min(pgMin, pg)
			if math.Abs(pg) > 1e-12 {
				old := alpha[i]
				alpha[i] = max(old-g/qd[i], 0)
				d := (alpha[i] - old) * y[i]
				for k, j := range idx {
					w[j] += d * float64(val[k])
				}
				w[dim] += d
			}
		}
		if pgMax-pgMin <= cfg.Eps {
			if active == n {
				break
			}
			active = n
			pgMaxOld = math.Inf(1)
			continue
		}
		pgMaxOld = pgMax
		if pgMaxOld <= 0 {
			pgMaxOld = math.Inf(1)
		}
	}
	out := make([]float32, dim+1)
	for i, v := range w {
		out[i] = float32(v)
	}
	return out
}

// Scores returns every label's score and probability, best first.
func (m *Model) Scores(text string) []Scored {
	x := m.Vec.Transform(text)
	return m.ScoresVec(x)
}

// ScoresVec is Scores for an already transformed vector.
func (m *Model) ScoresVec(x SparseVec) []Scored {
	k := len(m.Labels)
	dim := m.Vec.Dim()
	acc := make([]float32, k)
	copy(acc, m.wt[dim*k:(dim+1)*k]) // biases
	for j, f := range x.Idx {
		v := x.Val[j]
		row := m.wt[int(f)*k : int(f)*k+k]
		for c := range row {
			acc[c] += v * row[c]
		}
	}
	out := make([]Scored, k)
	maxS := math.Inf(-1)
	for c := range acc {
		s := float64(acc[c])
		out[c] = Scored{Label: m.Labels[c], Score: s}
		maxS = max(maxS, s)
	}
	var z float64
	for c := range out {
		out[c].Prob = math.Exp(m.Temperature * (out[c].Score - maxS))
		z += out[c].Prob
	}
	for c := range out {
		out[c].Prob /= z
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Score > out[j].Score })
	return out
}

// BlockScores returns every label's score (in Labels order, without the
// bias) from the word block and from the character block of x alone: two
// views of the same model, whose disagreement says the message's words and
// spelling point to different labels.
func (m *Model) BlockScores(x SparseVec) (words, chars []float64) {
	k := len(m.Labels)
	words, chars = make([]float64, k), make([]float64, k)
	for j, f := range x.Idx {
		v := float64(x.Val[j])
		row := m.wt[int(f)*k : int(f)*k+k]
		dst := words
		if m.Vec.IsChar[f] {
			dst = chars
		}
		for c := range row {
			dst[c] += v * float64(row[c])
		}
	}
	return words, chars
}

// Predict returns the best label and its probability.
func (m *Model) Predict(text string) (string, float64) {
	s := m.Scores(text)
	return s[0].Label, s[0].Prob
}

// MarshalBinary serialises the model (gob).
func (m *Model) MarshalBinary() ([]byte, error) {
	var buf bytes.Buffer
	// modelWire has no methods, so gob does not call MarshalBinary again.
	type modelWire Model
	if err := gob.NewEncoder(&buf).Encode((*modelWire)(m)); err != nil {
		return nil, fmt.Errorf("textclass: encode model: %w", err)
	}
	return buf.Bytes(), nil
}

// UnmarshalBinary restores a model written by MarshalBinary and checks that
// its shapes agree.
func (m *Model) UnmarshalBinary(data []byte) error {
	type modelWire Model
	var w modelWire
	if err := gob.NewDecoder(bytes.NewReader(data)).Decode(&w); err != nil {
		return fmt.Errorf("textclass: decode model: %w", err)
	}
	t := Model(w)
	if t.Vec == nil || len(t.Labels) == 0 || len(t.W) != len(t.Labels) {
		return errors.New("textclass: decode model: inconsistent labels and weights")
	}
	if len(t.Vec.IsChar) != len(t.Vec.IDF) {
		return errors.New("textclass: decode model: inconsistent vocabulary")
	}
	for i, w := range t.W {
		if len(w) != len(t.Vec.IDF)+1 {
			return fmt.Errorf("textclass: decode model: label %q has %d weights, want %d", t.Labels[i], len(w), len(t.Vec.IDF)+1)
		}
	}
	if t.Temperature <= 0 || math.IsNaN(t.Temperature) {
		return errors.New("textclass: decode model: bad temperature")
	}
	for _, idx := range t.Vec.Index {
		if idx < 0 || int(idx) >= len(t.Vec.IDF) {
			return errors.New("textclass: decode model: vocabulary index out of range")
		}
	}
	t.prepare()
	*m = t
	return nil
}
