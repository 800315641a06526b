package builtin

import (
	"fmt"
	"strings"

	"github.com/earshot/earshot/inference"
)

// CatalogueEntry maps an intent to the action an agent should take, and
// optionally to a plugin skill that performs it.
type CatalogueEntry struct {
	Intent string `json:"intent"`
	Action string `json:"action"`          // recommended action text shown to the agent
	Skill  string `json:"skill,omitempty"` // optional plugin skill name
	// MinConfidence overrides the default confidence an intent needs
	// before its action is recommended; 0 means the default (0.5).
	MinConfidence float64 `json:"min_confidence,omitempty"`
}

// Catalogue is a site's next-best-action catalogue, built with NewCatalogue.
// It is immutable and safe for concurrent use.
type Catalogue struct {
	byIntent map[string][]CatalogueEntry
}

// Recommendation is a next best action for a detected intent.
type Recommendation struct {
	Intent     string  `json:"intent"`
	Action     string  `json:"action"`
	Skill      string  `json:"skill,omitempty"`
	Confidence float64 `json:"confidence"`
}

// NewCatalogue validates entries (intent and action are required) and
// builds a catalogue; an intent may have several actions.
func NewCatalogue(entries []CatalogueEntry) (*Catalogue, error) {
	c := &Catalogue{byIntent: map[string][]CatalogueEntry{}}
	for i, e := range entries {
		switch {
		case strings.TrimSpace(e.Intent) == "":
			return nil, fmt.Errorf("builtin: catalogue entry %d: intent is required", i)
		case strings.TrimSpace(e.Action) == "":
			return nil, fmt.Errorf("builtin: catalogue entry %d (%s): action is required", i, e.Intent)
		case e.MinConfidence < 0 || e.MinConfidence > 1:
			return nil, fmt.Errorf("builtin: catalogue entry %d (%s): min_confidence must be in [0, 1]", i, e.Intent)
		}
		c.byIntent[e.Intent] = append(c.byIntent[e.Intent], e)
	}
	return c, nil
}

// Recommend maps detected intents (best first) to the catalogue's actions,
// in the intents' order, skipping intents below their entry's confidence.
func (c *Catalogue) Recommend(intents []inference.Intent) []Recommendation {
	if c == nil {
		return nil
	}
	var out []Recommendation
	for _, in := range intents {
		for _, e := range c.byIntent[in.Name] {
			minC := e.MinConfidence
			if minC == 0 {
				minC = 0.5
			}
			if in.Confidence < minC {
				continue
			}
			out = append(out, Recommendation{Intent: in.Name, Action: e.Action, Skill: e.Skill, Confidence: in.Confidence})
		}
	}
	return out
}
