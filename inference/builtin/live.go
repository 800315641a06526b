package builtin

import (
	"context"
	"fmt"

	"github.com/earshot/earshot/inference"
)

// Live runs the live analyzers for one engagement, one final segment at a
// time. It is owned by the engagement's goroutine and is not safe for
// concurrent use; the Provider it uses may be shared.
type Live struct {
	p          *Provider
	catalogue  *Catalogue
	escalation *Escalation
}

// LiveResult is what one final segment produced.
type LiveResult struct {
	// Sentiment is set for customer segments only.
	Sentiment *inference.Sentiment `json:"sentiment,omitempty"`
	// Trend is the customer's smoothed sentiment after this segment.
	Trend           float64                `json:"trend"`
	Intents         []inference.Intent     `json:"intents,omitempty"`
	NextBestActions []Recommendation       `json:"next_best_actions,omitempty"`
	Escalation      Risk                   `json:"escalation"`
	Provenance      []inference.Provenance `json:"provenance"`
}

// NewLive starts live analysis of an engagement; catalogue may be nil (no
// next best actions).
func (p *Provider) NewLive(catalogue *Catalogue, esc EscalationConfig) *Live {
	return &Live{p: p, catalogue: catalogue, escalation: NewEscalation(esc)}
}

// Segment analyses one final segment. Customer segments get sentiment and
// intents; every segment updates the escalation risk (silences, duration).
func (l *Live) Segment(ctx context.Context, u inference.Utterance) (LiveResult, error) {
	if err := validateConv([]inference.Utterance{u}); err != nil {
		l.p.metrics.badInput.WithLabelValues("segment").Inc()
		return LiveResult{}, fmt.Errorf("builtin: live segment: %w", err)
	}
	var res LiveResult
	var s inference.Sentiment
	if u.Party == inference.PartyCustomer {
		var err error
		if s, err = l.p.Sentiment(ctx, u.Text); err != nil {
			return LiveResult{}, err
		}
		res.Sentiment = &s
		if res.Intents, err = l.p.DetectIntents(ctx, u.Text); err != nil {
			return LiveResult{}, err
		}
		res.NextBestActions = l.catalogue.Recommend(res.Intents)
		res.Provenance = append(res.Provenance, l.p.SentimentModel(), l.p.IntentModel())
	}
	res.Escalation = l.escalation.Observe(u, s)
	res.Trend = l.escalation.Trend().Value()
	res.Provenance = append(res.Provenance, inference.Provenance{Provider: ProviderName, Model: "escalation-rules@1"})
	return res, nil
}

// Trend returns the customer's sentiment trend so far.
func (l *Live) Trend() []TrendPoint { return l.escalation.Trend().Points() }

// Tick updates the escalation risk at nowMS (offset from the engagement
// start) when no segment arrived: ongoing silences and handle-time overruns.
func (l *Live) Tick(nowMS int64) Risk { return l.escalation.Tick(nowMS) }
