package bot

import (
	"maps"
	"time"
)

// Stats are one conversation's figures for reporting: counts and names
// only, never what the customer said.
type Stats struct {
	Bot     string    `json:"bot"`
	Version int       `json:"version"`
	Start   time.Time `json:"start"`
	End     time.Time `json:"end,omitzero"`
	// Turns counts the customer messages the bot read.
	Turns     int `json:"turns"`
	Fallbacks int `json:"fallbacks"`
	// Unmatched counts messages no intent matched.
	Unmatched int                   `json:"unmatched"`
	Intents   map[string]IntentStat `json:"intents,omitempty"`
	Slots     map[string]SlotStat   `json:"slots,omitempty"`
	Skills    map[string]SkillStat  `json:"skills,omitempty"`
	// KBAnswers and KBUnanswered count knowledge-base questions.
	KBAnswers    int `json:"kb_answers,omitempty"`
	KBUnanswered int `json:"kb_unanswered,omitempty"`
	// Outcome is "handover", "abandoned" or the outcome of the end step
	// (or "customer_goodbye").
	Outcome        string      `json:"outcome"`
	HandoverReason string      `json:"handover_reason,omitempty"`
	Agentic        AgenticStat `json:"agentic,omitzero"`
}

// IntentStat counts an intent's matches and sums their confidences.
type IntentStat struct {
	Hits          int     `json:"hits"`
	ConfidenceSum float64 `json:"confidence_sum"`
}

// SlotStat counts a slot's prompts, values and give-ups.
type SlotStat struct {
	Asked  int `json:"asked"`
	Filled int `json:"filled"`
	Failed int `json:"failed"`
}

// SkillStat counts a skill's calls and failures.
type SkillStat struct {
	Calls  int `json:"calls"`
	Errors int `json:"errors"`
}

// AgenticStat counts the model's decisions: accepted ones ran, the others
// were taken over by the built-in runtime, by reason.
type AgenticStat struct {
	Decisions int            `json:"decisions,omitempty"`
	Accepted  int            `json:"accepted,omitempty"`
	Takeovers map[string]int `json:"takeovers,omitempty"`
}

func (s *Stats) hitIntent(name string, conf float64) {
	if s.Intents == nil {
		s.Intents = map[string]IntentStat{}
	}
	x := s.Intents[name]
	x.Hits++
	x.ConfidenceSum += conf
	s.Intents[name] = x
}

func (s *Stats) slot(name string) SlotStat {
	if s.Slots == nil {
		s.Slots = map[string]SlotStat{}
	}
	return s.Slots[name]
}

func (s *Stats) skill(name string) SkillStat {
	if s.Skills == nil {
		s.Skills = map[string]SkillStat{}
	}
	return s.Skills[name]
}

func (s Stats) clone() Stats {
	s.Intents = maps.Clone(s.Intents)
	s.Slots = maps.Clone(s.Slots)
	s.Skills = maps.Clone(s.Skills)
	s.Agentic.Takeovers = maps.Clone(s.Agentic.Takeovers)
	return s
}

// Contained reports whether the conversation ended without a hand-over
// and was not abandoned.
func (s Stats) Contained() bool {
	return s.Outcome != OutcomeHandover && s.Outcome != OutcomeAbandoned && s.Outcome != ""
}
