package nlu

import (
	"math"
	"sync"

	"github.com/earshot/earshot/inference/builtin/textclass"
)

// neighbours finds the training phrases nearest to a message (cosine of
// their TF-IDF vectors) through an inverted index, so that a message costs
// the length of its features' postings, not the number of phrases.
type neighbours struct {
	postings map[int32][]posting
	labels   []string
	norms    []float32
	vocab    map[string]struct{}
}

type posting struct {
	ex int32
	w  float32
}

func newNeighbours(vec *textclass.Vectorizer, exs []textclass.Example) *neighbours {
	nn := &neighbours{postings: map[int32][]posting{}, labels: make([]string, len(exs)), norms: make([]float32, len(exs)), vocab: map[string]struct{}{}}
	for i, e := range exs {
		x := vec.Transform(e.Text)
		var sq float64
		for k, f := range x.Idx {
			nn.postings[f] = append(nn.postings[f], posting{int32(i), x.Val[k]})
			sq += float64(x.Val[k]) * float64(x.Val[k])
		}
		nn.labels[i] = e.Label
		nn.norms[i] = float32(math.Sqrt(sq))
		for _, t := range textclass.Tokens(e.Text) {
			nn.vocab[t] = struct{}{}
		}
	}
	return nn
}

// nearest returns the highest cosine to a phrase of label, the highest to
// any phrase, and the label of that nearest phrase.
func (nn *neighbours) nearest(x textclass.SparseVec, label string) (sameLabel, any float64, anyLabel string) {
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
	qn := math.Sqrt(sq)
	if qn == 0 {
		return 0, 0, ""
	}
	best := int32(-1)
	for _, i := range touched {
		d := dots[i]
		if d == 0 || nn.norms[i] == 0 {
			continue
		}
		c := float64(d) / (qn * float64(nn.norms[i]))
		if nn.labels[i] == label && c > sameLabel {
			sameLabel = c
		}
		// Ties go to the earlier phrase, whatever the visiting order.
		if c > any || (c == any && best >= 0 && i < best) {
			any, best = c, i
		}
	}
	if best >= 0 {
		anyLabel = nn.labels[best]
	}
	return sameLabel, any, anyLabel
}

// dotBuf is nearest's scratch space: one dot product per phrase (all zero
// between uses) and the phrases touched.
type dotBuf struct {
	dots    []float32
	touched []int32
}

var dotsPool = sync.Pool{New: func() any { return new(dotBuf) }}

// unseen is the share of text's words that no training phrase contains.
func (nn *neighbours) unseen(text string) float64 {
	toks := textclass.Tokens(text)
	if len(toks) == 0 {
		return 1
	}
	n := 0
	for _, t := range toks {
		if _, ok := nn.vocab[t]; !ok {
			n++
		}
	}
	return float64(n) / float64(len(toks))
}

// nFeatures is the length of a feature vector.
const nFeatures = 7

// features describes how well a message fits the model: its top intent's
// score, the margin to the second, the cosine to the nearest phrase of the
// top intent and to the nearest phrase of any label, whether that nearest
// phrase agrees with the top intent, the share of unseen words, and the
// background's score against the top intent's. sc are the intents' scores
// (without the background), best first.
func features(x textclass.SparseVec, sc []textclass.Scored, bg float64, hasBG bool, nn *neighbours, text string) []float64 {
	f := make([]float64, nFeatures)
	f[0] = sc[0].Score
	if len(sc) > 1 {
		f[1] = sc[0].Score - sc[1].Score
	}
	same, any, label := nn.nearest(x, sc[0].Label)
	f[2], f[3] = same, any
	if label == sc[0].Label {
		f[4] = 1
	}
	f[5] = nn.unseen(text)
	f[6] = -2
	if hasBG {
		f[6] = bg - sc[0].Score
	}
	return f
}

// detector is a logistic model of "this message is in scope and the top
// intent is right" over standardised features.
type detector struct {
	Mean, Std []float64
	W         []float64
	B         float64
}

// score is the detector's logit; with no fitted weights it is the top
// score itself.
func (d detector) score(f []float64) float64 {
	if len(d.W) == 0 {
		return f[0]
	}
	s := d.B
	for i, w := range d.W {
		s += w * (f[i] - d.Mean[i]) / d.Std[i]
	}
	return s
}

// fitDetector fits a class-balanced, L2-regularised logistic regression by
// gradient descent. With only one class present it returns the
// unfitted detector (the top score).
func fitDetector(xs [][]float64, ys []float64) detector {
	n := len(xs)
	pos := 0.0
	for _, y := range ys {
		pos += y
	}
	if n == 0 || pos == 0 || pos == float64(n) {
		return detector{}
	}
	d := detector{Mean: make([]float64, nFeatures), Std: make([]float64, nFeatures), W: make([]float64, nFeatures)}
	for _, x := range xs {
		for i, v := range x {
			d.Mean[i] += v / float64(n)
		}
	}
	for _, x := range xs {
		for i, v := range x {
			d.Std[i] += (v - d.Mean[i]) * (v - d.Mean[i]) / float64(n)
		}
	}
	for i := range d.Std {
		d.Std[i] = math.Sqrt(d.Std[i])
		if d.Std[i] < 1e-9 {
			d.Std[i] = 1
		}
	}
	z := make([][]float64, n)
	for k, x := range xs {
		z[k] = make([]float64, nFeatures)
		for i, v := range x {
			z[k][i] = (v - d.Mean[i]) / d.Std[i]
		}
	}
	wPos, wNeg := float64(n)/(2*pos), float64(n)/(2*(float64(n)-pos))
	const (
		lr     = 0.5
		lambda = 1e-2
		iters  = 1500
	)
	grad := make([]float64, nFeatures)
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
