package builtin

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/earshot/earshot/inference"
	"github.com/earshot/earshot/inference/builtin/textclass"
)

// intentModel is the trained intent detector; model is nil until the site
// has trained one.
type intentModel struct {
	model   *textclass.Model
	version int
}

// IntentPhrases are the training phrases of one intent.
type IntentPhrases struct {
	Intent  string   `json:"intent"`
	Phrases []string `json:"phrases"`
}

// noIntent is the label of the background class the detector learns from
// utterances that carry no intent (greetings, small talk); it is never
// reported.
const noIntent = "_none"

var noIntentPhrases = []string{
	"hello", "hi there", "good morning", "good afternoon", "thanks", "thank you very much",
	"okay", "ok great", "yes", "no", "yeah", "sure", "one moment please", "can you hear me",
	"bye", "goodbye", "have a nice day", "that's all", "alright", "sorry what was that",
	"let me check", "hold on a second", "mm hmm", "right", "I see", "perfect thanks",
}

// TrainIntents trains the intent detector on training phrases (each intent
// needs at least one phrase; two intents at least) and swaps it in
// atomically. A built-in background class of greetings and small talk is
// added so that such utterances detect no intent.
func (p *Provider) TrainIntents(ctx context.Context, intents []IntentPhrases) error {
	var ex []textclass.Example
	seen := map[string]bool{}
	for i, it := range intents {
		name := strings.TrimSpace(it.Intent)
		switch {
		case name == "" || name == noIntent:
			p.metrics.badInput.WithLabelValues("intent_training").Inc()
			return fmt.Errorf("builtin: train intents: entry %d: bad intent name %q", i, it.Intent)
		case seen[name]:
			p.metrics.badInput.WithLabelValues("intent_training").Inc()
			return fmt.Errorf("builtin: train intents: entry %d: intent %q given twice", i, name)
		}
		seen[name] = true
		n := 0
		for _, ph := range it.Phrases {
			if strings.TrimSpace(ph) == "" {
				continue
			}
			ex = append(ex, textclass.Example{Text: ph, Label: name})
			n++
		}
		if n == 0 {
			p.metrics.badInput.WithLabelValues("intent_training").Inc()
			return fmt.Errorf("builtin: train intents: intent %q has no training phrases", name)
		}
	}
	if len(seen) < 2 {
		p.metrics.badInput.WithLabelValues("intent_training").Inc()
		return fmt.Errorf("builtin: train intents: need at least two intents, got %d", len(seen))
	}
	for _, ph := range noIntentPhrases {
		ex = append(ex, textclass.Example{Text: ph, Label: noIntent})
	}
	m, err := p.trainText(ctx, "intent", ex)
	if err != nil {
		return fmt.Errorf("builtin: train intents: %w", err)
	}
	p.intents.Store(&intentModel{model: m, version: p.intents.Load().version + 1})
	return nil
}

// DetectIntents implements inference.IntentDetector: the intents whose
// confidence reaches the configured threshold, best first (at most three).
// Before any training it returns no intents.
func (p *Provider) DetectIntents(ctx context.Context, text string) ([]inference.Intent, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p.metrics.calls.WithLabelValues("intent").Inc()
	im := p.intents.Load()
	if im.model == nil || len(textclass.Tokens(text)) == 0 {
		return nil, nil
	}
	var out []inference.Intent
	for _, s := range im.model.Scores(text) {
		if len(out) == 3 || s.Prob < p.cfg.IntentThreshold {
			break
		}
		if s.Label == noIntent {
			break
		}
		out = append(out, inference.Intent{Name: s.Label, Confidence: s.Prob})
	}
	return out, nil
}

// IntentModel names the intent model in use, for Provenance.
func (p *Provider) IntentModel() inference.Provenance {
	return inference.Provenance{Provider: ProviderName, Model: fmt.Sprintf("intent-svm@1.%d", p.intents.Load().version)}
}

// Intents lists the intents the current model knows, sorted.
func (p *Provider) Intents() []string {
	im := p.intents.Load()
	if im.model == nil {
		return nil
	}
	var out []string
	for _, l := range im.model.Labels {
		if l != noIntent {
			out = append(out, l)
		}
	}
	sort.Strings(out)
	return out
}
