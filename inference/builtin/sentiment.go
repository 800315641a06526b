package builtin

import (
	"context"
	"fmt"
	"math"
	"strings"
	"sync/atomic"

	"github.com/earshot/earshot/inference"
	"github.com/earshot/earshot/inference/builtin/textclass"
	"github.com/earshot/earshot/inference/builtin/vader"
)

// contactCentreLexicon adds what customers say when a service has let them
// down to VADER's general-purpose lexicon, on VADER's -4..+4 scale. It was
// written for Earshot from contact-centre practice (complaints about waiting,
// failures, charges and being passed around), not learnt from any data set.
var contactCentreLexicon = map[string]float64{
	"delayed": -1.6, "delay": -1.4, "delays": -1.4, "late": -1.2, "cancelled": -1.8,
	"canceled": -1.8, "cancellation": -1.0, "missed": -1.2, "waiting": -1.0, "waited": -1.2,
	"stuck": -1.6, "stranded": -2.2, "lost": -1.6, "missing": -1.2, "broken": -2.0,
	"overcharged": -2.4, "charged twice": -2.4, "double charged": -2.4, "hidden fees": -2.0,
	"refund": -0.8, "complaint": -1.6, "complain": -1.6, "disconnected": -1.6, "hung up": -2.0,
	"on hold": -1.6, "no one": -1.2, "nobody": -1.2, "no answer": -1.6, "no response": -1.8,
	"never received": -2.0, "still waiting": -2.0, "still not": -1.6, "still no": -1.6,
	"again": -0.4, "hours": -0.6, "worst": -3.1, "unacceptable": -2.6, "incompetent": -2.6,
	"useless": -2.2, "nightmare": -2.6, "joke": -1.0, "ridiculous": -2.0, "pathetic": -2.6,
	"rude": -2.4, "unprofessional": -2.2, "terrible service": -3.0, "poor service": -2.4,
	"customer service": 0, "error": -1.2, "issue": -0.8, "issues": -0.8, "problem": -1.2,
	"problems": -1.2, "fee": -0.6, "fees": -0.8, "penalty": -1.4, "overbooked": -2.0,
	"declined": -1.4, "locked out": -1.8, "fraud": -2.0, "scam": -2.6, "wrong": -1.6,
	"not working": -2.0, "doesn't work": -2.0, "does not work": -2.0, "keeps": -0.4,
	"fix it": -1.0, "sort this out": -1.0, "speak to a manager": -2.0, "supervisor": -0.8,
	"switch to another": -1.6, "close my account": -1.2, "cancel my": -1.0,
	"appreciate it": 2.0, "thank you so much": 2.6, "that's great": 2.4, "perfect": 2.4,
	// Requests and acknowledgements are not sentiment in a service dialogue.
	"help": 0, "please": 0, "yes": 0, "ok": 0, "okay": 0, "yeah": 0, "want": 0,
	"i'd like": 0, "would like": 0, "customer care": 0, "free of charge": 0,
	"resolved": 1.4, "sorted": 1.2, "helpful": 2.0, "excellent": 2.8, "awesome": 2.8,
}

// sentimentModel is what the built-in sentiment analyzer runs: the shipped
// lexicon scorer, or a linear model trained on the site's labelled data.
type sentimentModel struct {
	lex     *vader.Analyzer
	trained *textclass.Model // nil for the lexicon model
	name    string
}

// SentimentExample is one labelled utterance for training the sentiment model;
// Label is "negative", "neutral" or "positive".
type SentimentExample struct {
	Text  string `json:"text"`
	Label string `json:"label"`
}

func newLexiconSentiment() (*sentimentModel, error) {
	lex, err := vader.New(contactCentreLexicon)
	if err != nil {
		return nil, fmt.Errorf("builtin: sentiment lexicon: %w", err)
	}
	return &sentimentModel{lex: lex, name: "sentiment-lexicon@1"}, nil
}

func (m *sentimentModel) score(text string, cfg Config) inference.Sentiment {
	if m.trained == nil {
		c := m.lex.Score(stripHandles(text)).Compound
		return lexiconSentiment(c, cfg)
	}
	scores := m.trained.Scores(text)
	var s inference.Sentiment
	s.Label, s.Confidence = scores[0].Label, scores[0].Prob
	for _, sc := range scores {
		switch sc.Label {
		case "positive":
			s.Score += sc.Prob
		case "negative":
			s.Score -= sc.Prob
		}
	}
	return s
}

// lexiconSentiment maps a compound score to a label with the configured
// thresholds; confidence grows with the distance from the nearest threshold.
func lexiconSentiment(c float64, cfg Config) inference.Sentiment {
	s := inference.Sentiment{Score: c}
	switch {
	case c >= cfg.PositiveThreshold:
		s.Label = "positive"
		s.Confidence = 0.5 + 0.5*math.Min(1, (c-cfg.PositiveThreshold)/(1-cfg.PositiveThreshold+1e-9))
	case c <= cfg.NegativeThreshold:
		s.Label = "negative"
		s.Confidence = 0.5 + 0.5*math.Min(1, (cfg.NegativeThreshold-c)/(1+cfg.NegativeThreshold+1e-9))
	default:
		s.Label = "neutral"
		mid := (cfg.PositiveThreshold + cfg.NegativeThreshold) / 2
		half := (cfg.PositiveThreshold - cfg.NegativeThreshold) / 2
		s.Confidence = 0.5 + 0.5*(1-math.Min(1, math.Abs(c-mid)/(half+1e-9)))
	}
	return s
}

// Sentiment implements inference.SentimentAnalyzer.
func (p *Provider) Sentiment(ctx context.Context, text string) (inference.Sentiment, error) {
	if err := ctx.Err(); err != nil {
		return inference.Sentiment{}, err
	}
	m := p.sentiment.Load()
	p.metrics.calls.WithLabelValues("sentiment").Inc()
	return m.score(text, p.cfg), nil
}

// SentimentModel names the sentiment model in use, for Provenance.
func (p *Provider) SentimentModel() inference.Provenance {
	return inference.Provenance{Provider: ProviderName, Model: p.sentiment.Load().name}
}

var sentimentLabels = map[string]bool{"negative": true, "neutral": true, "positive": true}

// TrainSentiment trains a linear sentiment model on the site's labelled
// utterances and swaps it in atomically when done. Use ResetSentiment to
// return to the shipped lexicon model.
func (p *Provider) TrainSentiment(ctx context.Context, examples []SentimentExample) error {
	ex := make([]textclass.Example, 0, len(examples))
	for i, e := range examples {
		if !sentimentLabels[e.Label] {
			p.metrics.badInput.WithLabelValues("sentiment_training").Inc()
			return fmt.Errorf("builtin: train sentiment: example %d: label %q is not negative, neutral or positive", i, e.Label)
		}
		ex = append(ex, textclass.Example{Text: e.Text, Label: e.Label})
	}
	m, err := p.trainText(ctx, "sentiment", ex)
	if err != nil {
		return fmt.Errorf("builtin: train sentiment: %w", err)
	}
	cur := p.sentiment.Load()
	p.sentiment.Store(&sentimentModel{lex: cur.lex, trained: m, name: "sentiment-linear@1"})
	return nil
}

// ResetSentiment returns to the shipped lexicon model.
func (p *Provider) ResetSentiment() {
	cur := p.sentiment.Load()
	p.sentiment.Store(&sentimentModel{lex: cur.lex, name: "sentiment-lexicon@1"})
}

var _ atomic.Pointer[sentimentModel]

// stripHandles removes social-media handles (@name) and links: they address
// or point, they carry no sentiment (and a handle may collide with a
// lexicon word, as @united does).
func stripHandles(text string) string {
	if !strings.ContainsAny(text, "@/") {
		return text
	}
	f := strings.Fields(text)
	out := f[:0]
	for _, w := range f {
		if strings.HasPrefix(w, "@") || strings.HasPrefix(w, "http://") || strings.HasPrefix(w, "https://") {
			continue
		}
		out = append(out, w)
	}
	return strings.Join(out, " ")
}
