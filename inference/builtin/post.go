package builtin

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/earshot/earshot/inference"
)

// Topic is a subject of an engagement: a detected intent (when the site has
// trained intents) or a key phrase.
type Topic = inference.Topic

// Topics implements inference.TopicDetector: it returns up to n topics: the intents detected in the customer's
// utterances, weighted by how often and how confidently they occur, then
// key phrases.
func (p *Provider) Topics(ctx context.Context, conv []inference.Utterance, n int) ([]Topic, error) {
	if n <= 0 || n > 50 {
		p.metrics.badInput.WithLabelValues("topics").Inc()
		return nil, fmt.Errorf("builtin: topics: n must be in 1..50, got %d", n)
	}
	if err := validateConv(conv); err != nil {
		p.metrics.badInput.WithLabelValues("conversation").Inc()
		return nil, fmt.Errorf("builtin: topics: %w", err)
	}
	weights := map[string]float64{}
	var total float64
	for _, u := range conv {
		if u.Party != inference.PartyCustomer {
			continue
		}
		in, err := p.DetectIntents(ctx, u.Text)
		if err != nil {
			return nil, err
		}
		if len(in) > 0 && in[0].Confidence >= 0.5 {
			weights[in[0].Name] += in[0].Confidence
			total += in[0].Confidence
		}
	}
	var out []Topic
	for name, w := range weights {
		out = append(out, Topic{Name: name, Weight: w / total, Source: "intent"})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Weight != out[j].Weight {
			return out[i].Weight > out[j].Weight
		}
		return out[i].Name < out[j].Name
	})
	if len(out) < n {
		kws, err := p.Keywords(ctx, conv, n-len(out))
		if err != nil {
			return nil, err
		}
		for _, k := range kws {
			out = append(out, Topic{Name: k.Term, Weight: k.Weight, Source: "keyword"})
		}
	}
	if len(out) > n {
		out = out[:n]
	}
	return out, nil
}

// PostResult holds every post-engagement analysis of one engagement.
type PostResult struct {
	Summary     inference.Summary      `json:"summary"`
	Notes       inference.Notes        `json:"notes"`
	Tasks       []inference.Task       `json:"tasks"`
	Disposition *inference.Disposition `json:"disposition,omitempty"` // nil when no codes were given
	Topics      []Topic                `json:"topics"`
}

// PostEngagement runs all post-engagement analyzers on a finished
// engagement; ref is its start time (for due dates); codes may be empty
// (no disposition).
func (p *Provider) PostEngagement(ctx context.Context, conv []inference.Utterance, ref time.Time, codes []inference.DispositionCode) (PostResult, error) {
	var r PostResult
	var err error
	if r.Summary, err = p.Summarize(ctx, conv); err != nil {
		return PostResult{}, err
	}
	if r.Tasks, err = p.ExtractTasks(ctx, conv, ref); err != nil {
		return PostResult{}, err
	}
	r.Notes = notesFrom(splitSentences(conv), r.Tasks)
	p.metrics.calls.WithLabelValues("notes").Inc()
	if len(codes) > 0 {
		d, err := p.ClassifyDisposition(ctx, conv, codes)
		if err != nil {
			return PostResult{}, err
		}
		r.Disposition = &d
	}
	if r.Topics, err = p.Topics(ctx, conv, 5); err != nil {
		return PostResult{}, err
	}
	return r, nil
}
