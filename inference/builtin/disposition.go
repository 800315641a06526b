package builtin

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"

	"github.com/earshot/earshot/inference"
	"github.com/earshot/earshot/inference/builtin/textclass"
)

// dispositionModel is the part of the disposition classifier learnt from the
// dispositions agents chose; model is nil until trained.
type dispositionModel struct {
	model   *textclass.Model
	version int
	n       int // engagements it was trained on
}

// DispositionExample is one past engagement with the code its agent chose.
type DispositionExample struct {
	Conv []inference.Utterance `json:"conv"`
	Code string                `json:"code"`
}

// convText joins a conversation for the disposition models; the customer's
// words count twice, they state why the customer called.
func convText(conv []inference.Utterance) string {
	var b strings.Builder
	for _, u := range conv {
		b.WriteString(u.Text)
		b.WriteString(" \n")
		if u.Party == inference.PartyCustomer {
			b.WriteString(u.Text)
			b.WriteString(" \n")
		}
	}
	return b.String()
}

// codeMatcher scores a conversation against codes' names, descriptions and
// examples by TF-IDF cosine over words and character 3-5 grams (so
// "refunded" meets "refund").
type codeMatcher struct {
	vec   *textclass.Vectorizer
	codes []string
	docs  []textclass.SparseVec
}

func newCodeMatcher(codes []inference.DispositionCode) *codeMatcher {
	docs := make([]string, len(codes))
	for i, c := range codes {
		docs[i] = strings.ReplaceAll(c.Code, "_", " ") + " " + c.Name + " " + c.Name + " " + c.Description + " " + strings.Join(c.Examples, " ")
	}
	cfg := textclass.FeatureConfig{WordMin: 1, WordMax: 1, CharMin: 4, CharMax: 5, CharWeight: 1, MinDF: 1}
	m := &codeMatcher{vec: textclass.FitVectorizer(cfg, docs)}
	for i, c := range codes {
		m.codes = append(m.codes, c.Code)
		m.docs = append(m.docs, m.vec.Transform(docs[i]))
	}
	return m
}

func sparseDot(a, b textclass.SparseVec) float64 {
	var s float64
	i, j := 0, 0
	for i < len(a.Idx) && j < len(b.Idx) {
		switch {
		case a.Idx[i] == b.Idx[j]:
			s += float64(a.Val[i]) * float64(b.Val[j])
			i++
			j++
		case a.Idx[i] < b.Idx[j]:
			i++
		default:
			j++
		}
	}
	return s
}

// probs returns a softmax over cosine similarities.
func (m *codeMatcher) probs(text string) map[string]float64 {
	x := m.vec.Transform(text)
	out := make(map[string]float64, len(m.codes))
	maxS := math.Inf(-1)
	sims := make([]float64, len(m.codes))
	for i, d := range m.docs {
		sims[i] = sparseDot(x, d) / 2 // both blocks are unit length: cosine in [0,1]
		maxS = max(maxS, sims[i])
	}
	var z float64
	for i, s := range sims {
		e := math.Exp(20 * (s - maxS))
		out[m.codes[i]] = e
		z += e
	}
	for k := range out {
		out[k] /= z
	}
	return out
}

// matcherCache keeps code matchers for recently seen code lists.
type matcherCache struct {
	mu sync.Mutex
	m  map[string]*codeMatcher // +checklocks:mu
}

func (c *matcherCache) get(codes []inference.DispositionCode) *codeMatcher {
	var key strings.Builder
	for _, x := range codes {
		fmt.Fprintf(&key, "%q%q%q%q;", x.Code, x.Name, x.Description, x.Examples)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if m, ok := c.m[key.String()]; ok {
		return m
	}
	if c.m == nil || len(c.m) >= 16 {
		c.m = map[string]*codeMatcher{}
	}
	m := newCodeMatcher(codes)
	c.m[key.String()] = m
	return m
}

// dispositionHistoryWeight is how far the model learnt from history is
// trusted over the description match once it has seen n engagements.
func dispositionHistoryWeight(n int) float64 {
	return float64(n) / float64(n+20) // 20 engagements: half and half
}

// ClassifyDisposition implements inference.DispositionClassifier. It blends
// a match of the conversation against each code's name, description and
// examples with a linear model trained on the codes agents chose
// (TrainDispositions); the more history, the more the learnt model counts.
func (p *Provider) ClassifyDisposition(ctx context.Context, conv []inference.Utterance, codes []inference.DispositionCode) (inference.Disposition, error) {
	if err := ctx.Err(); err != nil {
		return inference.Disposition{}, err
	}
	if err := validateCodes(codes); err != nil {
		p.metrics.badInput.WithLabelValues("disposition_codes").Inc()
		return inference.Disposition{}, fmt.Errorf("builtin: classify disposition: %w", err)
	}
	if err := validateConv(conv); err != nil {
		p.metrics.badInput.WithLabelValues("conversation").Inc()
		return inference.Disposition{}, fmt.Errorf("builtin: classify disposition: %w", err)
	}
	p.metrics.calls.WithLabelValues("disposition").Inc()
	text := convText(conv)
	scores := p.matchers.get(codes).probs(text)
	dm := p.disposition.Load()
	model := "disposition-match@1"
	if dm.model != nil {
		w := dispositionHistoryWeight(dm.n)
		learnt := map[string]float64{}
		var z float64
		for _, s := range dm.model.Scores(text) {
			if _, ok := scores[s.Label]; ok {
				learnt[s.Label] = s.Prob
				z += s.Prob
			}
		}
		if z > 0 {
			for c := range scores {
				scores[c] = (1-w)*scores[c] + w*learnt[c]/z
			}
			model = fmt.Sprintf("disposition-match+svm@1.%d", dm.version)
		}
	}
	best := inference.Disposition{Provenance: inference.Provenance{Provider: ProviderName, Model: model}}
	keys := make([]string, 0, len(scores))
	for k := range scores {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if scores[k] > best.Confidence {
			best.Code, best.Confidence = k, scores[k]
		}
	}
	return best, nil
}

func validateCodes(codes []inference.DispositionCode) error {
	if len(codes) == 0 {
		return fmt.Errorf("no disposition codes given")
	}
	seen := map[string]bool{}
	for i, c := range codes {
		if strings.TrimSpace(c.Code) == "" {
			return fmt.Errorf("code %d: code is required", i)
		}
		if seen[c.Code] {
			return fmt.Errorf("code %d: %q given twice", i, c.Code)
		}
		seen[c.Code] = true
	}
	return nil
}

// TrainDispositions learns from past engagements and the codes their agents
// chose (at least two distinct codes) and swaps the model in atomically.
// The codes' examples, if given, are added as training texts.
func (p *Provider) TrainDispositions(ctx context.Context, history []DispositionExample, codes []inference.DispositionCode) error {
	var ex []textclass.Example
	for i, h := range history {
		if strings.TrimSpace(h.Code) == "" {
			p.metrics.badInput.WithLabelValues("disposition_training").Inc()
			return fmt.Errorf("builtin: train dispositions: engagement %d: code is required", i)
		}
		if err := validateConv(h.Conv); err != nil {
			p.metrics.badInput.WithLabelValues("disposition_training").Inc()
			return fmt.Errorf("builtin: train dispositions: engagement %d: %w", i, err)
		}
		ex = append(ex, textclass.Example{Text: convText(h.Conv), Label: h.Code})
	}
	for _, c := range codes {
		for _, e := range c.Examples {
			ex = append(ex, textclass.Example{Text: e, Label: c.Code})
		}
	}
	m, err := p.trainText(ctx, "disposition", ex)
	if err != nil {
		return fmt.Errorf("builtin: train dispositions: %w", err)
	}
	p.disposition.Store(&dispositionModel{model: m, version: p.disposition.Load().version + 1, n: len(history)})
	return nil
}
