package nlu

import (
	"maps"
	"math"
	"slices"
	"sync"

	"github.com/earshot/earshot/inference/builtin/textclass"
)

// neighbours finds the training phrases nearest to a message (cosine of
// their TF-IDF vectors) through an inverted index, so that a message costs
// the length of its features' postings, not the number of phrases. It also
// knows each label's centroid (the mean of its phrases' unit vectors) and
// each label's vocabulary.
type neighbours struct {
	postings map[int32][]posting
	labels   []string
	norms    []float32
	vocab    map[string]struct{}
	// labelOf is each phrase's label number; count and centNorm are per
	// label number: phrases, and the norm of the mean of their unit
	// vectors.
	labelOf  []int32
	labelNum map[string]int32
	count    []int
	centNorm []float64
	// words are each label's content words (stop words left out).
	words []map[string]struct{}
}

type posting struct {
	ex int32
	w  float32
}

func newNeighbours(vec *textclass.Vectorizer, exs []textclass.Example) *neighbours {
	nn := &neighbours{postings: map[int32][]posting{}, labels: make([]string, len(exs)), norms: make([]float32, len(exs)),
		vocab: map[string]struct{}{}, labelOf: make([]int32, len(exs)), labelNum: map[string]int32{}}
	var cents []map[int32]float64
	for i, e := range exs {
		x := vec.Transform(e.Text)
		var sq float64
		for k, f := range x.Idx {
			nn.postings[f] = append(nn.postings[f], posting{int32(i), x.Val[k]})
			sq += float64(x.Val[k]) * float64(x.Val[k])
		}
		l, ok := nn.labelNum[e.Label]
		if !ok {
			l = int32(len(nn.count))
			nn.labelNum[e.Label] = l
			nn.count = append(nn.count, 0)
			nn.words = append(nn.words, map[string]struct{}{})
			cents = append(cents, map[int32]float64{})
		}
		nn.labelOf[i] = l
		nn.count[l]++
		nn.labels[i] = e.Label
		nn.norms[i] = float32(math.Sqrt(sq))
		if sq > 0 {
			for k, f := range x.Idx {
				cents[l][f] += float64(x.Val[k]) / math.Sqrt(sq)
			}
		}
		for _, t := range textclass.Tokens(e.Text) {
			nn.vocab[t] = struct{}{}
			if !textclass.IsStopword(t) {
				nn.words[l][t] = struct{}{}
			}
		}
	}
	nn.centNorm = make([]float64, len(cents))
	for l, c := range cents {
		// Summed in feature order: a model is a function of its
		// examples, to the last bit.
		var sq float64
		for _, f := range slices.Sorted(maps.Keys(c)) {
			sq += c[f] * c[f]
		}
		nn.centNorm[l] = math.Sqrt(sq) / float64(nn.count[l])
	}
	return nn
}

// near is what nearest finds for a message and a label.
type near struct {
	// Same is the highest cosine to a phrase of the label, Same3 the mean
	// of its three highest, Centroid the cosine to the label's centroid.
	Same, Same3, Centroid float64
	// Any is the highest cosine to any phrase, AnyLabel that phrase's
	// label.
	Any      float64
	AnyLabel string
}

// nearest reads x against the phrases, for label.
func (nn *neighbours) nearest(x textclass.SparseVec, label string) near {
	// The dot products live in a pooled buffer, and only the phrases that
	// share a feature with the message are visited: a message costs its
	// postings, not the number of phrases.
	buf := dotsPool.Get().(*dotBuf)
	defer dotsPool.Put(buf)
	if len(buf.dots) < len(nn.labels) {
		buf.dots = make([]float32, len(nn.labels))
	}
	dots, touched := buf.dots, buf.touched[:0]
	var sq float64
	for k, f := range x.Idx {
		v := x.Val[k]
		sq += float64(v) * float64(v)
		for _, p := range nn.postings[f] {
			if dots[p.ex] == 0 {
				touched = append(touched, p.ex)
			}
			dots[p.ex] += v * p.w
		}
	}
	defer func() {
		for _, i := range touched {
			dots[i] = 0
		}
		buf.touched = touched
	}()
	var r near
	qn := math.Sqrt(sq)
	if qn == 0 {
		return r
	}
	want, known := nn.labelNum[label]
	var top3 [3]float64
	var sum float64
	best := int32(-1)
	for _, i := range touched {
		d := dots[i]
		if d == 0 || nn.norms[i] == 0 {
			continue
		}
		c := float64(d) / (qn * float64(nn.norms[i]))
		if known && nn.labelOf[i] == want {
			sum += c
			if c > top3[2] {
				top3[2] = c
				if top3[2] > top3[1] {
					top3[1], top3[2] = top3[2], top3[1]
				}
				if top3[1] > top3[0] {
					top3[0], top3[1] = top3[1], top3[0]
				}
			}
		}
		// Ties go to the earlier phrase, whatever the visiting order.
		if c > r.Any || (c == r.Any && best >= 0 && i < best) {
			r.Any, best = c, i
		}
	}
	if best >= 0 {
		r.AnyLabel = nn.labels[best]
	}
	if known {
		r.Same = top3[0]
		k := min(3, nn.count[want])
		r.Same3 = (top3[0] + top3[1] + top3[2]) / float64(k)
		if cn := nn.centNorm[want]; cn > 0 {
			r.Centroid = sum / float64(nn.count[want]) / cn
		}
	}
	return r
}

// dotBuf is nearest's scratch space: one dot product per phrase (all zero
// between uses) and the phrases touched.
type dotBuf struct {
	dots    []float32
	touched []int32
}

var dotsPool = sync.Pool{New: func() any { return new(dotBuf) }}

// unseen is the share of text's words that no training phrase contains,
// and the share of its content words that no phrase of label contains.
func (nn *neighbours) unseen(text, label string) (any, inLabel float64) {
	toks := textclass.Tokens(text)
	if len(toks) == 0 {
		return 1, 1
	}
	l, known := nn.labelNum[label]
	n, content, missing := 0, 0, 0
	for _, t := range toks {
		if _, ok := nn.vocab[t]; !ok {
			n++
		}
		if textclass.IsStopword(t) {
			continue
		}
		content++
		if _, ok := nn.words[l][t]; !known || !ok {
			missing++
		}
	}
	if content > 0 {
		inLabel = float64(missing) / float64(content)
	}
	return float64(n) / float64(len(toks)), inLabel
}

// Raw features of a message (features' output), by position.
const (
	fTop         = iota // the top intent's score
	fMargin             // its margin to the second
	fSame               // cosine to the nearest phrase of the top intent
	fAny                // cosine to the nearest phrase of any label
	fAgree              // that nearest phrase is the top intent's
	fUnseen             // share of words no phrase contains
	fBackground         // the background's score against the top intent's
	fCentroid           // cosine to the top intent's centroid
	fSame3              // mean cosine to the top intent's three nearest phrases
	fWordAgree          // the word block alone ranks the top intent first
	fCharAgree          // the character block alone ranks it first
	fWordMargin         // the word block's margin of the top intent over the best other
	fCharMargin         // the character block's
	fLabelUnseen        // share of content words no phrase of the top intent contains
	fEntropy            // entropy of the intents' softmax at the default temperature
	nRaw
)

// features describes how well a message fits the model. sc are the
// intents' scores (without the background), best first.
func features(clf *textclass.Model, x textclass.SparseVec, sc []textclass.Scored, bg float64, hasBG bool, nn *neighbours, text string) []float64 {
	f := make([]float64, nRaw)
	top := sc[0].Label
	f[fTop] = sc[0].Score
	if len(sc) > 1 {
		f[fMargin] = sc[0].Score - sc[1].Score
	}
	r := nn.nearest(x, top)
	f[fSame], f[fAny], f[fCentroid], f[fSame3] = r.Same, r.Any, r.Centroid, r.Same3
	if r.AnyLabel == top {
		f[fAgree] = 1
	}
	f[fUnseen], f[fLabelUnseen] = nn.unseen(text, top)
	f[fBackground] = -2
	if hasBG {
		f[fBackground] = bg - sc[0].Score
	}
	words, chars := clf.BlockScores(x)
	ti := slices.Index(clf.Labels, top)
	f[fWordAgree], f[fWordMargin] = blockView(clf.Labels, words, ti)
	f[fCharAgree], f[fCharMargin] = blockView(clf.Labels, chars, ti)
	var z, h float64
	for _, s := range sc {
		z += math.Exp(defaultTemperature * (s.Score - sc[0].Score))
	}
	for _, s := range sc {
		if p := math.Exp(defaultTemperature*(s.Score-sc[0].Score)) / z; p > 0 {
			h -= p * math.Log(p)
		}
	}
	f[fEntropy] = h
	return f
}

const defaultTemperature = 6

// blockView says whether one block's scores rank label ti first (1 or 0)
// and its margin over the best other intent (the background left out).
func blockView(labels []string, s []float64, ti int) (agree, margin float64) {
	other := math.Inf(-1)
	for c, v := range s {
		if c != ti && labels[c] != BackgroundLabel {
			other = max(other, v)
		}
	}
	if math.IsInf(other, -1) {
		return 1, 0
	}
	if s[ti] >= other {
		agree = 1
	}
	return agree, s[ti] - other
}

// classStats holds, per intent, the mean and spread of some raw features
// over the held-out phrases the fold models got right: a message far
// below its top intent's own typical fit is suspect even when its raw
// score would pass for another intent.
type classStats struct {
	Feats []int
	Mean  map[string][]float64
	Std   map[string][]float64
	// GMean and GStd are over every intent, for intents not seen.
	GMean, GStd []float64
}

// statFeatures are the raw features classStats standardises per intent.
var statFeatures = []int{fTop, fSame, fCentroid}

// shrink weighs the overall statistics as this many phrases in each
// intent's.
const shrink = 10

func fitClassStats(held []heldOut) classStats {
	cs := classStats{Feats: statFeatures, Mean: map[string][]float64{}, Std: map[string][]float64{}}
	k := len(cs.Feats)
	sum, sq, cnt := map[string][]float64{}, map[string][]float64{}, map[string]float64{}
	gs, gq := make([]float64, k), make([]float64, k)
	var gn float64
	for _, h := range held {
		if !h.correct {
			continue
		}
		if sum[h.top] == nil {
			sum[h.top], sq[h.top] = make([]float64, k), make([]float64, k)
		}
		cnt[h.top]++
		gn++
		for j, fi := range cs.Feats {
			v := h.feats[fi]
			sum[h.top][j] += v
			sq[h.top][j] += v * v
			gs[j] += v
			gq[j] += v * v
		}
	}
	cs.GMean, cs.GStd = make([]float64, k), make([]float64, k)
	for j := range k {
		if gn > 0 {
			cs.GMean[j] = gs[j] / gn
			cs.GStd[j] = math.Sqrt(max(gq[j]/gn-cs.GMean[j]*cs.GMean[j], 1e-6))
		} else {
			cs.GStd[j] = 1
		}
	}
	for l, n := range cnt {
		m, s := make([]float64, k), make([]float64, k)
		for j := range k {
			// Shrunk towards the overall figures, as if shrink phrases
			// of the overall distribution were added.
			mean := (sum[l][j] + shrink*cs.GMean[j]) / (n + shrink)
			ex2 := (sq[l][j] + shrink*(cs.GStd[j]*cs.GStd[j]+cs.GMean[j]*cs.GMean[j])) / (n + shrink)
			m[j], s[j] = mean, math.Sqrt(max(ex2-mean*mean, 1e-6))
		}
		cs.Mean[l], cs.Std[l] = m, s
	}
	return cs
}

// extend returns raw followed by the standardised statistic features of
// the top intent.
func (cs classStats) extend(raw []float64, top string) []float64 {
	out := make([]float64, len(raw), len(raw)+len(cs.Feats))
	copy(out, raw)
	m, s := cs.Mean[top], cs.Std[top]
	if m == nil {
		m, s = cs.GMean, cs.GStd
	}
	for j, fi := range cs.Feats {
		out = append(out, (raw[fi]-m[j])/s[j])
	}
	return out
}

// detector is a logistic model of "this message is in scope and the top
// intent is right" over standardised features: Use are the positions of
// the features it reads (of a raw vector extended by classStats); with
// Pairs it also reads the products of every two of them, so that one
// feature may weigh more when another is low.
type detector struct {
	Use       []int
	Pairs     bool
	Mean, Std []float64
	W         []float64
	B         float64
}

// inputs are the detector's inputs for f: the standardised features, then
// their pairwise products when d.Pairs.
func (d detector) inputs(f []float64, dst []float64) []float64 {
	dst = dst[:0]
	for i, fi := range d.Use {
		dst = append(dst, (f[fi]-d.Mean[i])/d.Std[i])
	}
	if d.Pairs {
		n := len(d.Use)
		for i := 0; i < n; i++ {
			for j := i + 1; j < n; j++ {
				dst = append(dst, dst[i]*dst[j])
			}
		}
	}
	return dst
}

func nInputs(nf int, pairs bool) int {
	if pairs {
		return nf + nf*(nf-1)/2
	}
	return nf
}

// score is the detector's logit; with no fitted weights it is the top
// score itself.
func (d detector) score(f []float64) float64 {
	if len(d.W) == 0 {
		return f[fTop]
	}
	var buf [256]float64
	x := d.inputs(f, buf[:0])
	s := d.B
	for i, w := range d.W {
		s += w * x[i]
	}
	return s
}

// fitDetector fits a class-balanced, L2-regularised logistic regression
// over the features use of xs (and their products, with pairs) by
// gradient descent. With only one class present it returns the unfitted
// detector (the top score).
func fitDetector(xs [][]float64, ys []float64, use []int, pairs bool) detector {
	n := len(xs)
	pos := 0.0
	for _, y := range ys {
		pos += y
	}
	if n == 0 || pos == 0 || pos == float64(n) {
		return detector{}
	}
	nf := len(use)
	d := detector{Use: slices.Clone(use), Pairs: pairs, Mean: make([]float64, nf), Std: make([]float64, nf)}
	for _, x := range xs {
		for i, fi := range use {
			d.Mean[i] += x[fi] / float64(n)
		}
	}
	for _, x := range xs {
		for i, fi := range use {
			d.Std[i] += (x[fi] - d.Mean[i]) * (x[fi] - d.Mean[i]) / float64(n)
		}
	}
	for i := range d.Std {
		d.Std[i] = math.Sqrt(d.Std[i])
		if d.Std[i] < 1e-9 {
			d.Std[i] = 1
		}
	}
	ni := nInputs(nf, pairs)
	d.W = make([]float64, ni)
	z := make([][]float64, n)
	for k, x := range xs {
		z[k] = d.inputs(x, make([]float64, 0, ni))
	}
	wPos, wNeg := float64(n)/(2*pos), float64(n)/(2*(float64(n)-pos))
	const (
		lr     = 0.5
		lambda = 1e-2
		iters  = 1500
	)
	grad := make([]float64, ni)
	for it := 0; it < iters; it++ {
		clear(grad)
		var gb float64
		for k, x := range z {
			s := d.B
			for i, v := range x {
				s += d.W[i] * v
			}
			p := 1 / (1 + math.Exp(-s))
			w := wNeg
			if ys[k] == 1 {
				w = wPos
			}
			e := w * (p - ys[k])
			for i, v := range x {
				grad[i] += e * v
			}
			gb += e
		}
		for i := range d.W {
			d.W[i] -= lr * (grad[i]/float64(n) + lambda*d.W[i])
		}
		d.B -= lr * gb / float64(n)
	}
	return d
}
