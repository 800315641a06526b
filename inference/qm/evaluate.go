package qm

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/earshot/earshot/inference"
)

// IntentAt is an intent detected in one turn.
type IntentAt struct {
	Seq  int    `json:"seq"`
	Name string `json:"name"`
}

// Facts is what the engines see of an engagement.
type Facts struct {
	Engagement  string
	Queue       string
	Agent       string
	Channel     string
	Start       time.Time
	Turns       []Turn
	Metrics     Metrics
	Intents     []IntentAt
	Disposition string // the recorded (or recommended) disposition code
	Tasks       []inference.Task
	// HandleMS is the engagement's handle time (end minus start).
	HandleMS int64
}

// LLM is a local language model the llm engine may ask; nil when none is
// configured or the controls forbid it.
type LLM struct {
	Gen   inference.Generator
	Model string
}

// EvaluatorConfig bounds the evaluator.
type EvaluatorConfig struct {
	// MaxModels bounds the trained classifiers kept in memory.
	MaxModels int `json:"max_models"`
	// LLMTimeout bounds one question's answer from the language model.
	LLMTimeout time.Duration `json:"llm_timeout"`
	// MaxPromptTurns bounds the transcript the language model sees.
	MaxPromptTurns int `json:"max_prompt_turns"`
}

// DefaultEvaluatorConfig returns the defaults.
func DefaultEvaluatorConfig() EvaluatorConfig {
	return EvaluatorConfig{MaxModels: 256, LLMTimeout: 60 * time.Second, MaxPromptTurns: 200}
}

// Validate checks the bounds.
func (c EvaluatorConfig) Validate() error {
	if c.MaxModels < 1 || c.LLMTimeout <= 0 || c.MaxPromptTurns < 1 {
		return fmt.Errorf("qm: evaluator: max_models, llm_timeout and max_prompt_turns must be positive")
	}
	return nil
}

// Evaluator answers scorecards. It keeps the classifiers it trained from
// the scorecards' examples, by scorecard version and question. It is safe
// for concurrent use.
type Evaluator struct {
	cfg     EvaluatorConfig
	logger  *slog.Logger
	metrics *metrics

	// match sets the classifier engine.
	match matchConfig

	mu sync.Mutex
	// +checklocks:mu
	models map[string]*exampleMatcher
}

// NewEvaluator returns an evaluator. A nil logger discards logs; a nil reg
// registers no metrics.
func NewEvaluator(cfg EvaluatorConfig, logger *slog.Logger, reg prometheus.Registerer) (*Evaluator, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	return &Evaluator{cfg: cfg, logger: logger.With("component", "qm"), metrics: m, match: defaultMatchConfig(), models: map[string]*exampleMatcher{}}, nil
}

// Evaluate answers every question of sc for the engagement. llm may be
// nil. The evaluation is returned scored, with status auto.
func (ev *Evaluator) Evaluate(ctx context.Context, sc *Scorecard, f *Facts, llm *LLM, now time.Time) *Evaluation {
	e := &Evaluation{ID: EvaluationID(f.Engagement, sc.ID), Engagement: f.Engagement, Scorecard: sc.ID, ScorecardVersion: sc.Version,
		Queue: f.Queue, Agent: f.Agent, Channel: f.Channel, EngagementStart: f.Start, Status: StatusAuto,
		History: []Event{{Action: "created", By: "system", At: now}}, CreatedAt: now, UpdatedAt: now}
	for _, q := range sc.Questions() {
		a := ev.answer(ctx, sc, q, f, llm)
		if a.Evidence == nil {
			a.Evidence = []Evidence{}
		}
		ev.metrics.answers.WithLabelValues(a.Engine).Inc()
		e.Answers = append(e.Answers, a)
	}
	e.Rescore(sc)
	ev.metrics.evaluations.Inc()
	return e
}

func (ev *Evaluator) answer(ctx context.Context, sc *Scorecard, q Question, f *Facts, llm *LLM) Answer {
	if q.Applies != nil {
		ok, applicable, evid, why := evalRule(q.Applies, f)
		if !applicable || !ok {
			return Answer{Question: q.ID, Value: AnswerNA, Engine: EngineRule, Justification: "Not applicable: " + why, Evidence: evid}
		}
	}
	switch q.Engine {
	case EngineRule:
		return ruleAnswer(q, f)
	case EngineClassifier:
		return ev.classifierAnswer(sc, q, f)
	case EngineLLM:
		if llm != nil && llm.Gen != nil {
			a, err := ev.llmAnswer(ctx, q, f, llm)
			if err == nil {
				ev.metrics.llm.WithLabelValues("ok").Inc()
				return a
			}
			ev.metrics.llm.WithLabelValues("fallback").Inc()
			ev.logger.Debug("language model answer refused; falling back", "engagement", f.Engagement, "question", q.ID, "err", err)
			fb := ev.fallback(sc, q, f)
			fb.FellBack = EngineLLM
			fb.Justification = fmt.Sprintf("%s (the language model's answer was not used: %s)", fb.Justification, short(err))
			return fb
		}
		return ev.fallback(sc, q, f)
	}
	return Answer{Question: q.ID, Engine: EngineManual, Justification: "Answered by an evaluator."}
}

func short(err error) string {
	s := err.Error()
	if len(s) > 160 {
		s = s[:160]
	}
	return s
}

// fallback answers with the question's fallback engine, or the rule or
// examples it has, or leaves it to an evaluator.
func (ev *Evaluator) fallback(sc *Scorecard, q Question, f *Facts) Answer {
	switch {
	case q.Fallback == EngineRule || q.Fallback == "" && q.Rule != nil:
		return ruleAnswer(q, f)
	case q.Fallback == EngineClassifier || q.Fallback == "" && q.Examples != nil:
		return ev.classifierAnswer(sc, q, f)
	}
	return Answer{Question: q.ID, Engine: EngineManual, Justification: "Left to an evaluator: no automatic engine could answer."}
}

func ruleAnswer(q Question, f *Facts) Answer {
	ok, applicable, evid, why := evalRule(q.Rule, f)
	a := Answer{Question: q.ID, Engine: EngineRule, Evidence: evid, Justification: why, Confidence: 1}
	switch {
	case !applicable && q.AllowNA:
		a.Value = AnswerNA
	case q.Type == TypeScale15:
		hi, lo := q.Rule.ScaleTrue, q.Rule.ScaleFalse
		if hi == 0 {
			hi = 5
		}
		if lo == 0 {
			lo = 1
		}
		a.Value = strconv.Itoa(lo)
		if ok && applicable {
			a.Value = strconv.Itoa(hi)
		}
	case ok && applicable:
		a.Value = AnswerYes
	default:
		a.Value = AnswerNo
	}
	return a
}

func evidenceOf(t Turn) Evidence {
	return Evidence{Seq: t.Seq, StartMS: t.StartMS, EndMS: t.EndMS}
}

// evalRule evaluates a rule: whether it holds, whether it could be
// decided at all (a metric the channel lacks cannot), the evidence and a
// justification in words.
func evalRule(r *Rule, f *Facts) (holds, applicable bool, evidence []Evidence, why string) {
	inWindow := func(t Turn) bool {
		return (r.Party == "" || side(t.Party) == r.Party) && within(t, r.WithinFirstS, r.WithinLastS, f.Metrics.DurationMS)
	}
	who := "anyone"
	if r.Party != "" {
		who = "the " + r.Party
	}
	where := whereText(CompliancePhrase{WithinFirstS: r.WithinFirstS, WithinLastS: r.WithinLastS})
	switch r.Kind {
	case RulePhrase:
		ps := phrases(r.Phrases, nil)
		for _, t := range f.Turns {
			if !inWindow(t) {
				continue
			}
			toks := tokens(t.Text)
			for _, p := range ps {
				if p.in(toks) {
					ev := evidenceOf(t)
					ev.Quote = p.String()
					return !r.Absent, true, []Evidence{ev}, fmt.Sprintf("%s said %q%s.", upperFirst(who), p.String(), where)
				}
			}
		}
		return r.Absent, true, nil, fmt.Sprintf("%s did not say any of %s%s.", upperFirst(who), quoteList(r.Phrases), where)
	case RuleIntent:
		turns := map[int]Turn{}
		for _, t := range f.Turns {
			turns[t.Seq] = t
		}
		for _, in := range f.Intents {
			t, ok := turns[in.Seq]
			if in.Name == r.Intent && ok && inWindow(t) {
				return !r.Absent, true, []Evidence{evidenceOf(t)}, fmt.Sprintf("Intent %s was detected%s.", r.Intent, where)
			}
		}
		return r.Absent, true, nil, fmt.Sprintf("Intent %s was not detected%s.", r.Intent, where)
	case RuleMetric:
		v, ok := f.Metrics.Value(r.Metric, r.Party)
		if !ok {
			return false, false, nil, fmt.Sprintf("The engagement has no %s figure.", r.Metric)
		}
		var h bool
		switch r.Op {
		case "<":
			h = v < r.Value
		case "<=":
			h = v <= r.Value
		case ">":
			h = v > r.Value
		case ">=":
			h = v >= r.Value
		case "==":
			h = v == r.Value
		}
		of := ""
		if r.Party != "" {
			of = " of the " + r.Party
		}
		return h, true, metricEvidence(r.Metric, f), fmt.Sprintf("%s%s is %s (rule: %s %s %s).", r.Metric, of, fmtNum(v), r.Metric, r.Op, fmtNum(r.Value))
	case RuleSentiment:
		c := f.Metrics.Parties[PartyCustomer]
		if c.SentimentStart == nil || c.SentimentEnd == nil {
			return false, false, nil, "The customer's sentiment is not known."
		}
		h := *c.SentimentEnd >= *c.SentimentStart
		var ev []Evidence
		if n := len(f.Turns); n > 0 {
			for i := n - 1; i >= 0; i-- {
				if side(f.Turns[i].Party) == PartyCustomer {
					ev = []Evidence{evidenceOf(f.Turns[i])}
					break
				}
			}
		}
		return h, true, ev, fmt.Sprintf("The customer's sentiment went from %.2f to %.2f.", *c.SentimentStart, *c.SentimentEnd)
	case RuleDisposition:
		found := f.Disposition != "" && (len(r.Codes) == 0 || containsFold(r.Codes, f.Disposition))
		if found {
			return !r.Absent, true, nil, fmt.Sprintf("Disposition %s was recorded.", f.Disposition)
		}
		return r.Absent, true, nil, "No matching disposition was recorded."
	case RuleTask:
		if len(f.Tasks) > 0 {
			var ev []Evidence
			for _, t := range f.Turns {
				if t.StartMS == f.Tasks[0].EvidenceMS {
					ev = []Evidence{evidenceOf(t)}
					break
				}
			}
			return !r.Absent, true, ev, fmt.Sprintf("%d follow-up task(s) were recorded.", len(f.Tasks))
		}
		return r.Absent, true, nil, "No follow-up task was recorded."
	case RuleAll, RuleAny:
		var whys []string
		var evs []Evidence
		all, anyOK, decided := true, false, false
		for i := range r.Rules {
			h, app, ev, w := evalRule(&r.Rules[i], f)
			whys = append(whys, w)
			if !app {
				continue
			}
			decided = true
			evs = append(evs, ev...)
			all = all && h
			anyOK = anyOK || h
		}
		if r.Kind == RuleAll {
			return all && decided, decided, evs, strings.Join(whys, " ")
		}
		return anyOK, decided, evs, strings.Join(whys, " ")
	}
	return false, false, nil, "Unknown rule."
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

func quoteList(ps []string) string {
	q := make([]string, len(ps))
	for i, p := range ps {
		q[i] = strconv.Quote(p)
	}
	return strings.Join(q, ", ")
}

func fmtNum(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// metricEvidence points at the moments behind a metric: the longest
// silence, the first interruptions.
func metricEvidence(name string, f *Facts) []Evidence {
	m := f.Metrics
	switch name {
	case "longest_silence_ms", "silences", "non_talk_ms":
		var best Interval
		for _, s := range m.Silences {
			if s.dur() > best.dur() {
				best = s
			}
		}
		if best.dur() > 0 {
			return []Evidence{{Seq: -1, StartMS: best.StartMS, EndMS: best.EndMS}}
		}
	case "interruptions", "overlap_ms":
		var out []Evidence
		for _, in := range m.Interruptions[:min(3, len(m.Interruptions))] {
			out = append(out, Evidence{Seq: -1, StartMS: in.AtMS, EndMS: in.AtMS + in.OverlapMS})
		}
		return out
	}
	return nil
}

// classifierAnswer answers a yes/no question from the question's
// examples: yes when one sentence of the party's turns is nearest to a
// "yes" example and similar enough to it (see classifier.go).
func (ev *Evaluator) classifierAnswer(sc *Scorecard, q Question, f *Facts) Answer {
	a := Answer{Question: q.ID, Engine: EngineClassifier}
	if q.Examples == nil {
		a.Engine = EngineManual
		a.Justification = "The question has no examples to train on."
		return a
	}
	m := ev.matcher(sc, q)
	party := q.Examples.Party
	if party == "" {
		party = PartyAgent
	}
	th := q.Examples.Threshold
	if th == 0 {
		th = m.cfg.Threshold
	}
	best, bestSeq := match{YesIndex: -1}, -1
	found := false
	for i, t := range f.Turns {
		if side(t.Party) != party {
			continue
		}
		for _, s := range sentences(t.Text) {
			mt := m.nearest(s)
			c := mt.counts(th)
			// The evidence is the best sentence that counts, else the
			// sentence most like a yes example.
			if bestSeq < 0 || c && !found || c == found && mt.Yes > best.Yes {
				best, bestSeq, found = mt, i, c
			}
		}
	}
	if bestSeq < 0 {
		a.Value = AnswerNo
		a.Justification = fmt.Sprintf("The %s said nothing.", party)
		return a
	}
	t := f.Turns[bestSeq]
	a.Evidence = []Evidence{evidenceOf(t)}
	ex := ""
	if best.YesIndex >= 0 {
		ex = q.Examples.Yes[best.YesIndex]
	}
	if found {
		a.Value = AnswerYes
		a.Confidence = best.Yes
		a.Justification = fmt.Sprintf("The %s's utterance at %s is like the example %q (similarity %.2f).", party, clock(t.StartMS), ex, best.Yes)
	} else {
		a.Value = AnswerNo
		a.Confidence = 1 - best.Yes
		a.Justification = fmt.Sprintf("No utterance of the %s is like the examples of yes; the closest, at %s, is %.2f similar to %q (threshold %.2f).",
			party, clock(t.StartMS), best.Yes, ex, th)
	}
	return a
}

func clock(ms int64) string {
	s := ms / 1000
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}

// matcher returns the examples of a question, vectorised once per
// scorecard version.
func (ev *Evaluator) matcher(sc *Scorecard, q Question) *exampleMatcher {
	key := fmt.Sprintf("%s@%d/%s", sc.ID, sc.Version, q.ID)
	ev.mu.Lock()
	m, ok := ev.models[key]
	ev.mu.Unlock()
	if ok {
		return m
	}
	var others []string
	for _, o := range sc.Questions() {
		if o.ID != q.ID && o.Examples != nil {
			others = append(others, o.Examples.Yes...)
		}
	}
	m = newExampleMatcher(ev.match, q.Examples.Yes, q.Examples.No, others)
	ev.metrics.trained.Inc()
	ev.mu.Lock()
	defer ev.mu.Unlock()
	if len(ev.models) >= ev.cfg.MaxModels {
		for k := range ev.models { // evict one at random
			delete(ev.models, k)
			break
		}
	}
	ev.models[key] = m
	return m
}

// llmReply is the language model's answer under the JSON schema.
type llmReply struct {
	Answer        string `json:"answer"`
	Justification string `json:"justification"`
	Evidence      []struct {
		Seq   int    `json:"seq"`
		Quote string `json:"quote"`
	} `json:"evidence"`
}

func allowed(q Question) []string {
	var vals []string
	if q.Type == TypeScale15 {
		vals = []string{"1", "2", "3", "4", "5"}
	} else {
		vals = []string{AnswerYes, AnswerNo}
	}
	if q.AllowNA {
		vals = append(vals, AnswerNA)
	}
	return vals
}

func llmSchema(q Question) []byte {
	enum, _ := json.Marshal(allowed(q))
	return []byte(`{"type":"object","additionalProperties":false,"properties":{` +
		`"answer":{"type":"string","enum":` + string(enum) + `},` +
		`"justification":{"type":"string","maxLength":600},` +
		`"evidence":{"type":"array","maxItems":3,"items":{"type":"object","additionalProperties":false,"properties":` +
		`{"seq":{"type":"integer","minimum":0,"maximum":100000},"quote":{"type":"string","maxLength":300}},"required":["seq","quote"]}}},` +
		`"required":["answer","justification","evidence"]}`)
}

// llmAnswer asks the language model; its answer is used only when it
// follows the schema and every evidence quote is really in the segment it
// cites.
func (ev *Evaluator) llmAnswer(ctx context.Context, q Question, f *Facts, llm *LLM) (Answer, error) {
	var b strings.Builder
	turns := f.Turns
	if len(turns) > ev.cfg.MaxPromptTurns {
		turns = turns[:ev.cfg.MaxPromptTurns]
	}
	for _, t := range turns {
		fmt.Fprintf(&b, "[%d] %s (%s): %s\n", t.Seq, t.Party, clock(t.StartMS), t.Text)
	}
	req := inference.GenerateRequest{
		System: "You are a contact-centre quality evaluator. Answer the question about the conversation in JSON only. " +
			"Quote the exact words of the segments that support your answer, with their segment numbers.",
		Prompt: "Conversation (segment number, speaker, time):\n" + b.String() + "\nQuestion: " + q.Text +
			"\nAllowed answers: " + strings.Join(allowed(q), ", "),
		Schema: llmSchema(q),
	}
	cctx, cancel := context.WithTimeout(ctx, ev.cfg.LLMTimeout)
	defer cancel()
	text, err := collect(cctx, llm.Gen, req)
	if err != nil {
		return Answer{}, err
	}
	var r llmReply
	dec := json.NewDecoder(strings.NewReader(text))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return Answer{}, fmt.Errorf("%w: %v", ErrBadReply, err)
	}
	a := Answer{Question: q.ID, Engine: EngineLLM, Value: strings.ToLower(strings.TrimSpace(r.Answer)), Justification: strings.TrimSpace(r.Justification)}
	if !ValidAnswer(q, a.Value) {
		return Answer{}, fmt.Errorf("%w: answer %q is not one of %v", ErrBadReply, r.Answer, allowed(q))
	}
	if a.Justification == "" {
		return Answer{}, fmt.Errorf("%w: no justification", ErrBadReply)
	}
	if len(a.Justification) > 2000 {
		a.Justification = a.Justification[:2000]
	}
	if a.Value != AnswerNA && len(r.Evidence) == 0 {
		return Answer{}, fmt.Errorf("%w: no evidence", ErrBadReply)
	}
	bySeq := map[int]Turn{}
	for _, t := range f.Turns {
		bySeq[t.Seq] = t
	}
	for _, e := range r.Evidence {
		t, ok := bySeq[e.Seq]
		if !ok {
			return Answer{}, fmt.Errorf("%w: evidence cites segment %d, which does not exist", ErrBadReply, e.Seq)
		}
		if !quoted(e.Quote, t.Text) {
			return Answer{}, fmt.Errorf("%w: evidence quote is not in segment %d", ErrBadReply, e.Seq)
		}
		ev := evidenceOf(t)
		ev.Quote = strings.Join(tokens(e.Quote), " ")
		a.Evidence = append(a.Evidence, ev)
	}
	a.Confidence = 0
	a.Justification = a.Justification + " (" + llm.Model + ")"
	return a, nil
}

// quoted reports whether quote's words appear, in order and adjacent, in
// text (case and punctuation aside). An empty quote is not evidence.
func quoted(quote, text string) bool {
	q := tokens(quote)
	return len(q) > 0 && phrase(q).in(tokens(text))
}
