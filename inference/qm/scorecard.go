package qm

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Answer types of a question.
const (
	TypeYesNo   = "yes_no"    // yes, no (and n.a. when allowed)
	TypeScale15 = "scale_1_5" // 1..5 (and n.a. when allowed)
)

// Engines that answer questions.
const (
	EngineRule       = "rule"
	EngineClassifier = "classifier"
	EngineLLM        = "llm" // a local language model (Ollama) under a JSON schema
	EngineManual     = "manual"
)

// Answer values besides the scale's digits.
const (
	AnswerYes = "yes"
	AnswerNo  = "no"
	AnswerNA  = "na"
)

// Scorecard is a versioned evaluation form. The store assigns Version;
// a change is a new version, and evaluations name the version they used.
type Scorecard struct {
	ID          string    `json:"id"`
	Version     int       `json:"version"`
	Name        string    `json:"name"`
	Description string    `json:"description,omitempty"`
	Queues      []string  `json:"queues,omitempty"` // empty: every queue
	Channels    []string  `json:"channels,omitempty"`
	Sections    []Section `json:"sections"`
	// PassScore is the score (0..100) at or above which an evaluation passes.
	PassScore float64   `json:"pass_score"`
	Sampling  Sampling  `json:"sampling"`
	Archived  bool      `json:"archived,omitempty"`
	CreatedAt time.Time `json:"created_at,omitzero"`
	CreatedBy string    `json:"created_by,omitempty"`
}

// Section groups questions; its weight is relative to the other sections.
type Section struct {
	Name      string     `json:"name"`
	Weight    float64    `json:"weight"`
	Questions []Question `json:"questions"`
}

// Question is one item of a scorecard and how it is answered.
type Question struct {
	ID       string  `json:"id"`
	Text     string  `json:"text"`
	Type     string  `json:"type"`
	Weight   float64 `json:"weight"`
	AutoFail bool    `json:"auto_fail,omitempty"` // "no" (or 1-2 on a scale) fails the whole evaluation
	AllowNA  bool    `json:"allow_na,omitempty"`
	Engine   string  `json:"engine"`
	// Rule answers the question when Engine is rule, and is the fallback
	// of the llm engine when set.
	Rule *Rule `json:"rule,omitempty"`
	// Applies, when set, makes the question n.a. unless it holds (e.g.
	// "did the agent explain the refund policy" applies when the
	// customer asked for a refund). Requires AllowNA.
	Applies *Rule `json:"applies,omitempty"`
	// Examples train the built-in classifier (engine classifier, and the
	// fallback of the llm engine when set): agent utterances that do
	// and do not do what the question asks.
	Examples *Examples `json:"examples,omitempty"`
	// Fallback is the engine used when the llm engine fails or its
	// evidence does not check out: rule, classifier or manual.
	Fallback string `json:"fallback,omitempty"`
}

// Examples are the training texts of a classifier question.
type Examples struct {
	Yes []string `json:"yes"`
	No  []string `json:"no"`
	// Party whose utterances are classified (default agent).
	Party string `json:"party,omitempty"`
	// Threshold is the similarity (0-1) to the nearest yes example above
	// which an utterance counts (default 0.2); the nearest example must
	// be a yes example in any case.
	Threshold float64 `json:"threshold,omitempty"`
}

// Rule kinds.
const (
	RulePhrase      = "phrase"      // a phrase was said (or not, with absent)
	RuleIntent      = "intent"      // an intent was detected
	RuleMetric      = "metric"      // a speaker metric compared with a value
	RuleSentiment   = "sentiment"   // the customer's end sentiment >= start
	RuleDisposition = "disposition" // a disposition (one of codes, or any) was recorded
	RuleTask        = "task"        // a follow-up task was recorded
	RuleAll         = "all"         // every sub-rule holds
	RuleAny         = "any"         // at least one sub-rule holds
)

// Rule is a check over an engagement.
type Rule struct {
	Kind string `json:"kind"`
	// Absent inverts phrase, intent, disposition and task rules.
	Absent bool `json:"absent,omitempty"`
	// Phrases (any counts), said by Party, within the first or last
	// seconds when given.
	Phrases      []string `json:"phrases,omitempty"`
	Party        string   `json:"party,omitempty"`
	WithinFirstS int      `json:"within_first_s,omitempty"`
	WithinLastS  int      `json:"within_last_s,omitempty"`
	Intent       string   `json:"intent,omitempty"`
	Metric       string   `json:"metric,omitempty"`
	Op           string   `json:"op,omitempty"` // <, <=, >, >=, ==
	Value        float64  `json:"value,omitempty"`
	Codes        []string `json:"codes,omitempty"`
	Rules        []Rule   `json:"rules,omitempty"`
	// Scale maps a rule to a 1-5 answer: the answer is ScaleTrue when the
	// rule holds and ScaleFalse otherwise (defaults 5 and 1).
	ScaleTrue  int `json:"scale_true,omitempty"`
	ScaleFalse int `json:"scale_false,omitempty"`
}

// Sampling says which engagements of a queue are evaluated.
type Sampling struct {
	// Percent of engagements evaluated (0..100), by default; 100 is all.
	Percent float64 `json:"percent"`
	// Queues overrides Percent per queue.
	Queues map[string]float64 `json:"queues,omitempty"`
}

// Known is what a definition may refer to: the site's intents and
// disposition codes. Nil sets are not checked.
type Known struct {
	Intents      map[string]bool
	Dispositions map[string]bool
	Queues       map[string]bool
}

var idPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,63}$`)

// Validate checks a scorecard. The error is a *FieldError naming the
// field, as a JSON path ("sections[0].questions[2].rule.metric").
func (s *Scorecard) Validate(k Known) error {
	bad := func(field, format string, a ...any) error {
		return &FieldError{Field: field, Msg: fmt.Sprintf(format, a...)}
	}
	switch {
	case !idPattern.MatchString(s.ID):
		return bad("id", "id must be 1-64 lowercase letters, digits, '_', '.' or '-'")
	case strings.TrimSpace(s.Name) == "":
		return bad("name", "name is required")
	case len(s.Sections) == 0:
		return bad("sections", "at least one section is required")
	case s.PassScore < 0 || s.PassScore > 100:
		return bad("pass_score", "pass_score must be within 0..100")
	case s.Sampling.Percent < 0 || s.Sampling.Percent > 100:
		return bad("sampling.percent", "percent must be within 0..100")
	}
	for q, p := range s.Sampling.Queues {
		if p < 0 || p > 100 {
			return bad("sampling.queues."+q, "percent must be within 0..100")
		}
		if k.Queues != nil && !k.Queues[q] {
			return bad("sampling.queues."+q, "unknown queue %q", q)
		}
	}
	for i, q := range s.Queues {
		if k.Queues != nil && !k.Queues[q] {
			return bad(fmt.Sprintf("queues[%d]", i), "unknown queue %q", q)
		}
	}
	for i, c := range s.Channels {
		if c != "voice" && c != "chat" {
			return bad(fmt.Sprintf("channels[%d]", i), "channel must be voice or chat")
		}
	}
	ids := map[string]bool{}
	for si, sec := range s.Sections {
		sp := fmt.Sprintf("sections[%d]", si)
		switch {
		case strings.TrimSpace(sec.Name) == "":
			return bad(sp+".name", "name is required")
		case sec.Weight <= 0:
			return bad(sp+".weight", "weight is required and must be positive")
		case len(sec.Questions) == 0:
			return bad(sp+".questions", "at least one question is required")
		}
		for qi, q := range sec.Questions {
			qp := fmt.Sprintf("%s.questions[%d]", sp, qi)
			if err := q.validate(qp, k); err != nil {
				return err
			}
			if ids[q.ID] {
				return bad(qp+".id", "duplicate question id %q", q.ID)
			}
			ids[q.ID] = true
		}
	}
	return nil
}

func (q *Question) validate(qp string, k Known) error {
	bad := func(field, format string, a ...any) error {
		return &FieldError{Field: qp + "." + field, Msg: fmt.Sprintf(format, a...)}
	}
	switch {
	case !idPattern.MatchString(q.ID):
		return bad("id", "id must be 1-64 lowercase letters, digits, '_', '.' or '-'")
	case strings.TrimSpace(q.Text) == "":
		return bad("text", "text is required")
	case q.Type != TypeYesNo && q.Type != TypeScale15:
		return bad("type", "unknown question type %q (want %s or %s)", q.Type, TypeYesNo, TypeScale15)
	case q.Weight <= 0:
		return bad("weight", "weight is required and must be positive")
	case q.Applies != nil && !q.AllowNA:
		return bad("applies", "a question that may not apply needs allow_na")
	}
	switch q.Engine {
	case EngineRule:
		if q.Rule == nil {
			return bad("rule", "engine rule needs a rule")
		}
	case EngineClassifier:
		if q.Examples == nil {
			return bad("examples", "engine classifier needs examples")
		}
		if q.Type != TypeYesNo {
			return bad("type", "the classifier answers yes_no questions only")
		}
	case EngineLLM:
		if q.Fallback != "" && q.Fallback != EngineRule && q.Fallback != EngineClassifier && q.Fallback != EngineManual {
			return bad("fallback", "fallback must be rule, classifier or manual")
		}
		if q.Fallback == EngineRule && q.Rule == nil {
			return bad("rule", "fallback rule needs a rule")
		}
		if q.Fallback == EngineClassifier && q.Examples == nil {
			return bad("examples", "fallback classifier needs examples")
		}
	case EngineManual:
	default:
		return bad("engine", "unknown engine %q (want rule, classifier, llm or manual)", q.Engine)
	}
	if q.Rule != nil {
		if err := q.Rule.validate(qp+".rule", q.Type, k); err != nil {
			return err
		}
	}
	if q.Applies != nil {
		if err := q.Applies.validate(qp+".applies", TypeYesNo, k); err != nil {
			return err
		}
	}
	if e := q.Examples; e != nil {
		switch {
		case len(e.Yes) < 2:
			return bad("examples.yes", "at least two yes examples are required")
		case len(e.No) < 2:
			return bad("examples.no", "at least two no examples are required")
		case e.Party != "" && e.Party != PartyAgent && e.Party != PartyCustomer:
			return bad("examples.party", "party must be agent or customer")
		case e.Threshold < 0 || e.Threshold >= 1:
			return bad("examples.threshold", "threshold must be within [0, 1)")
		}
	}
	return nil
}

func (r *Rule) validate(p, qtype string, k Known) error {
	bad := func(field, format string, a ...any) error {
		return &FieldError{Field: p + field, Msg: fmt.Sprintf(format, a...)}
	}
	if r.Party != "" && r.Party != PartyAgent && r.Party != PartyCustomer {
		return bad(".party", "party must be agent or customer")
	}
	if r.WithinFirstS < 0 || r.WithinLastS < 0 {
		return bad(".within_first_s", "must not be negative")
	}
	if qtype == TypeScale15 {
		for _, v := range []struct {
			name string
			x    int
		}{{".scale_true", r.ScaleTrue}, {".scale_false", r.ScaleFalse}} {
			if v.x != 0 && (v.x < 1 || v.x > 5) {
				return bad(v.name, "must be within 1..5")
			}
		}
	}
	switch r.Kind {
	case RulePhrase:
		if len(r.Phrases) == 0 {
			return bad(".phrases", "a phrase rule needs phrases")
		}
		for i, ph := range r.Phrases {
			if len(newPhrase(ph)) == 0 {
				return bad(fmt.Sprintf(".phrases[%d]", i), "phrase has no words")
			}
		}
	case RuleIntent:
		if r.Intent == "" {
			return bad(".intent", "an intent rule needs an intent")
		}
		if k.Intents != nil && !k.Intents[r.Intent] {
			return bad(".intent", "unknown intent %q", r.Intent)
		}
	case RuleMetric:
		if _, ok := MetricNames[r.Metric]; !ok {
			return bad(".metric", "unknown metric %q", r.Metric)
		}
		if !slices.Contains([]string{"<", "<=", ">", ">=", "=="}, r.Op) {
			return bad(".op", "op must be <, <=, >, >= or ==")
		}
		if partyMetrics[r.Metric] && r.Party == "" {
			return bad(".party", "metric %s needs a party", r.Metric)
		}
	case RuleSentiment:
	case RuleDisposition:
		for i, c := range r.Codes {
			if k.Dispositions != nil && !k.Dispositions[c] {
				return bad(fmt.Sprintf(".codes[%d]", i), "unknown disposition code %q", c)
			}
		}
	case RuleTask:
	case RuleAll, RuleAny:
		if len(r.Rules) == 0 {
			return bad(".rules", "%s needs rules", r.Kind)
		}
		for i := range r.Rules {
			if err := r.Rules[i].validate(fmt.Sprintf("%s.rules[%d]", p, i), qtype, k); err != nil {
				return err
			}
		}
	default:
		return bad(".kind", "unknown rule kind %q", r.Kind)
	}
	return nil
}

// Questions returns every question in order.
func (s *Scorecard) Questions() []Question {
	var out []Question
	for _, sec := range s.Sections {
		out = append(out, sec.Questions...)
	}
	return out
}

// AppliesTo reports whether the scorecard evaluates engagements of queue
// and channel.
func (s *Scorecard) AppliesTo(queue, channel string) bool {
	if s.Archived {
		return false
	}
	if len(s.Queues) > 0 && !slices.Contains(s.Queues, queue) {
		return false
	}
	return len(s.Channels) == 0 || slices.Contains(s.Channels, channel)
}

// Sampled reports whether the engagement falls in the scorecard's sample
// for its queue. The draw is a hash of the engagement and scorecard IDs,
// so it is the same every time it is asked.
func (s *Scorecard) Sampled(engagementID, queue string) bool {
	p := s.Sampling.Percent
	if v, ok := s.Sampling.Queues[queue]; ok {
		p = v
	}
	switch {
	case p >= 100:
		return true
	case p <= 0:
		return false
	}
	h := uint64(14695981039346656037)
	for _, b := range []byte(engagementID + "\x00" + s.ID) {
		h ^= uint64(b)
		h *= 1099511628211
	}
	return float64(h%10000) < p*100
}
