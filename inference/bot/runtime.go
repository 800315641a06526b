package bot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/earshot/earshot/inference"
	"github.com/earshot/earshot/inference/bot/nlu"
	"github.com/earshot/earshot/inference/bot/slots"
)

// SkillRunner runs a bot's skill through a skill plugin. The daemon's
// implementation goes through the plugin host, which hands the plugin only
// the approved scopes, audits the hand-over and bounds the call; the
// runtime adds the skill's own timeout through ctx.
type SkillRunner interface {
	RunSkill(ctx context.Context, call SkillCall) (SkillResult, error)
}

// SkillCall is one call of a skill.
type SkillCall struct {
	// Conversation is the engagement ID.
	Conversation string
	Bot          string
	// Name is the bot's name for the skill; Plugin and Skill say which
	// plugin and which of its skills run.
	Name, Plugin, Skill string
	// Input is the JSON object built from the skill's input templates.
	Input json.RawMessage
}

// SkillResult is what a skill returned.
type SkillResult struct {
	Message string
	// Result is the skill's JSON result, when it is an object.
	Result map[string]any
}

// Knowledge answers a question from the knowledge base, within the bot's
// queue.
type Knowledge interface {
	Answer(ctx context.Context, question string) (KBAnswer, error)
}

// KBAnswer is a knowledge-base answer. Empty Text means no answer.
type KBAnswer struct {
	Text      string     `json:"text"`
	Citations []Citation `json:"citations,omitempty"`
	Generated bool       `json:"generated,omitempty"`
}

// Citation names the article an answer came from.
type Citation struct {
	ArticleID string `json:"article_id"`
	Title     string `json:"title"`
}

// Deps are the services a bot's runtime uses. Skills and Knowledge may be
// nil (skill and kb steps then fail to their error branch); Generator nil
// means no agentic mode.
type Deps struct {
	Skills    SkillRunner
	Knowledge Knowledge
	Generator inference.Generator
	Logger    *slog.Logger
	Metrics   *Metrics
}

// Config tunes the runtime.
type Config struct {
	NLU nlu.Config
	// MaxStepsPerTurn bounds the steps one customer message may run (a
	// guard; validation already refuses loops that never wait).
	MaxStepsPerTurn int
	// MaxInputChars is how much of a customer message the bot reads.
	MaxInputChars int
}

// DefaultConfig returns the runtime's defaults.
func DefaultConfig() Config {
	return Config{NLU: nlu.DefaultConfig(), MaxStepsPerTurn: 200, MaxInputChars: 1000}
}

// Validate reports the first problem of c.
func (c Config) Validate() error {
	if c.MaxStepsPerTurn < 10 {
		return fmt.Errorf("bot: max_steps_per_turn must be at least 10, got %d", c.MaxStepsPerTurn)
	}
	if c.MaxInputChars < 100 {
		return fmt.Errorf("bot: max_input_chars must be at least 100, got %d", c.MaxInputChars)
	}
	return c.NLU.Validate()
}

// Engine is one published version of a bot, ready to converse: its
// compiled definition and its trained intent detector. It is immutable
// and safe for concurrent use; sessions hold their own state.
type Engine struct {
	cfg     Config
	prog    *program
	nlu     *nlu.Model
	version int
	deps    Deps
	log     *slog.Logger
}

// ErrInvalid is returned (wrapped, with the Problems) for a definition
// that does not validate.
var ErrInvalid = errors.New("bot: definition does not validate")

// InvalidError carries the problems of a refused definition.
type InvalidError struct{ Problems Problems }

func (e *InvalidError) Error() string { return ErrInvalid.Error() + ": " + e.Problems.Error() }

// Unwrap makes errors.Is(err, ErrInvalid) hold.
func (e *InvalidError) Unwrap() error { return ErrInvalid }

// NewEngine validates def against env, and trains its intent detector. A
// definition with problems that are errors is refused with an
// *InvalidError; warnings come back with the engine.
func NewEngine(ctx context.Context, cfg Config, def Definition, version int, env Env, deps Deps) (*Engine, Problems, error) {
	if err := cfg.Validate(); err != nil {
		return nil, nil, err
	}
	prog, ps := compile(ctx, def, env)
	if errs := ps.Errors(); len(errs) > 0 {
		return nil, ps, &InvalidError{errs}
	}
	var ex []nlu.Example
	for _, it := range prog.def.Intents {
		for _, ph := range it.Phrases {
			if strings.TrimSpace(ph) != "" {
				ex = append(ex, nlu.Example{Text: ph, Intent: it.Name})
			}
		}
	}
	m, err := nlu.Train(ctx, cfg.NLU, ex)
	if err != nil {
		return nil, ps, fmt.Errorf("bot %s: train intents: %w", def.ID, err)
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.Metrics == nil {
		deps.Metrics = nopMetrics()
	}
	return &Engine{cfg: cfg, prog: prog, nlu: m, version: version, deps: deps,
		log: deps.Logger.With("component", "bot", "bot", def.ID, "version", version)}, ps, nil
}

// Definition returns the engine's definition, defaults filled in.
func (e *Engine) Definition() Definition { return e.prog.def }

// Version is the published version the engine runs.
func (e *Engine) Version() int { return e.version }

// NLUReport describes how the intent detector was calibrated.
func (e *Engine) NLUReport() nlu.Report { return e.nlu.Report() }

// Classify reads a message with the bot's intent detector (for tests and
// the admin's try-out).
func (e *Engine) Classify(text string) nlu.Result { return e.classify(text) }

func (e *Engine) classify(text string) nlu.Result {
	r := e.nlu.Classify(text)
	if th := e.prog.def.Settings.Threshold; th != nil {
		r.InScope = r.Score >= *th
	}
	return r
}

// Input is one customer message.
type Input struct {
	Text string
	// Time is when it was said; zero means now.
	Time time.Time
	// Agentic: the controls allow the local model to decide this turn.
	Agentic bool
}

// Message is one message of the bot.
type Message struct {
	Text      string     `json:"text"`
	Choices   []string   `json:"choices,omitempty"`
	Citations []Citation `json:"citations,omitempty"`
	// Kind is "text", "prompt" (asks for a slot), "answer" (from the
	// knowledge base), "handover" or "error".
	Kind string `json:"kind"`
}

// Handover is the bot's hand-over of a conversation to the human queue.
type Handover struct {
	Reason string      `json:"reason"`
	Intent string      `json:"intent,omitempty"`
	Slots  []SlotValue `json:"slots"`
}

// SlotValue is a collected slot, for the agent who takes over.
type SlotValue struct {
	Name      string     `json:"name"`
	Type      slots.Type `json:"type"`
	Value     string     `json:"value"`
	Sensitive bool       `json:"sensitive,omitempty"`
}

// Turn is the bot's answer to one input.
type Turn struct {
	Messages []Message `json:"messages"`
	// Handover is set when the bot hands the conversation over; End is
	// the outcome when it ended the conversation.
	Handover *Handover `json:"handover,omitempty"`
	End      string    `json:"end,omitempty"`
	// Intent is the detector's reading, when it was asked.
	Intent   *nlu.Result `json:"intent,omitempty"`
	Fallback bool        `json:"fallback,omitempty"`
	// Agentic is the model's decision, when it was asked.
	Agentic *Decision `json:"agentic,omitempty"`
	// External is the time spent waiting for skills, the knowledge base
	// and the model during the turn.
	External time.Duration `json:"-"`
}

func (t *Turn) say(kind, text string, choices ...string) {
	t.Messages = append(t.Messages, Message{Text: text, Kind: kind, Choices: choices})
}

type mode int

const (
	modeIdle mode = iota
	modeCollecting
	modeHandedOver
	modeEnded
)

// Session is one conversation with a bot. It is not safe for concurrent
// use: one goroutine (the conversation's) drives it, one Input at a time.
// Nothing it holds is written to logs.
type Session struct {
	e     *Engine
	id    string
	start time.Time
	now   time.Time

	mode   mode
	flow   string
	step   int
	asking string // the slot asked for, while collecting
	// retries counts the reprompts of each slot.
	retries map[string]int
	vars    Vars
	values  map[string]slots.Value
	intent  string
	// served: some request was answered (a flow ran to its end, a
	// knowledge answer was given).
	served bool
	// fallbacks counts misunderstandings in a row.
	fallbacks int
	stats     Stats
	coach     []CoachItem
	history   []line
}

type line struct {
	party inference.Party
	text  string
}

// NewSession starts a conversation. id is the engagement's ID (it reaches
// skill calls); now is the conversation's date and time zone, against
// which customers' dates are resolved.
func (e *Engine) NewSession(id string, now time.Time) *Session {
	s := &Session{e: e, id: id, start: now, now: now, retries: map[string]int{}, vars: Vars{}, values: map[string]slots.Value{}}
	s.stats = Stats{Bot: e.prog.def.ID, Version: e.version, Start: now.UTC()}
	s.vars["bot_name"] = e.prog.def.Name
	e.deps.Metrics.sessions.WithLabelValues(e.prog.def.ID).Inc()
	return s
}

// Engine returns the engine the session runs on.
func (s *Session) Engine() *Engine { return s.e }

// Greeting returns the bot's first message.
func (s *Session) Greeting() Turn {
	var t Turn
	g := s.e.prog.def.Greeting
	if g == "" {
		g = s.e.prog.def.Handlers.Greeting
	}
	s.emit(&t, "text", render(g, s.vars))
	return t
}

func (s *Session) emit(t *Turn, kind, text string, choices ...string) {
	t.say(kind, text, choices...)
	s.remember(inference.PartyBot, text)
}

func (s *Session) remember(p inference.Party, text string) {
	s.history = append(s.history, line{p, text})
	if len(s.history) > 12 {
		s.history = s.history[len(s.history)-12:]
	}
}

// Active reports whether the bot still answers (not handed over, not
// ended).
func (s *Session) Active() bool { return s.mode == modeIdle || s.mode == modeCollecting }

// Handle answers one customer message.
func (s *Session) Handle(ctx context.Context, in Input) Turn {
	start := time.Now()
	var t Turn
	defer func() {
		m := s.e.deps.Metrics
		m.turns.WithLabelValues(s.e.prog.def.ID).Inc()
		m.latency.Observe((time.Since(start) - t.External).Seconds())
	}()
	if !s.Active() {
		return t
	}
	s.now = in.Time
	if s.now.IsZero() {
		s.now = time.Now().In(s.start.Location())
	}
	text := slots.Clean(in.Text)
	if r := []rune(text); len(r) > s.e.cfg.MaxInputChars {
		text = string(r[:s.e.cfg.MaxInputChars])
	}
	if text == "" {
		return t
	}
	s.stats.Turns++
	s.vars["last_message"] = text
	s.vars["today"] = s.now.Format("2006-01-02")
	s.remember(inference.PartyCustomer, text)
	if s.stats.Turns > s.e.prog.def.Settings.MaxTurns {
		s.handover(&t, "max_turns")
		return t
	}
	switch detectGlobal(text) {
	case globalHuman:
		s.handover(&t, "customer_request")
		return t
	case globalCancel:
		if s.mode == modeCollecting || s.flow != "" {
			s.leaveFlow()
			s.emit(&t, "text", s.e.prog.def.Handlers.Cancel)
			return t
		}
	case globalGoodbye:
		s.emit(&t, "text", s.e.prog.def.Handlers.Goodbye)
		s.end(&t, "customer_goodbye")
		return t
	case globalThanks:
		if s.mode == modeIdle {
			s.emit(&t, "text", s.e.prog.def.Handlers.Thanks)
			return t
		}
	case globalGreeting:
		if s.mode == modeIdle {
			s.emit(&t, "text", s.e.prog.def.Handlers.Greeting)
			return t
		}
	}
	if s.mode == modeCollecting {
		if s.collect(ctx, &t, text, in) {
			s.run(ctx, &t)
			return t
		}
		if !s.Active() || len(t.Messages) > 0 {
			return t
		}
		// Not an answer: perhaps a new request (handled below).
	}
	s.understand(ctx, &t, text, in)
	return t
}

// understand handles a message that is not an answer to a prompt: the
// model decides when agentic mode is on, else the intent detector.
func (s *Session) understand(ctx context.Context, t *Turn, text string, in Input) {
	if in.Agentic && s.e.agentic() {
		if s.decide(ctx, t, text) {
			return
		}
	}
	r := s.e.classify(text)
	t.Intent = &r
	if !r.InScope {
		s.misunderstood(t, text, r)
		return
	}
	s.startIntent(ctx, t, text, r)
}

func (s *Session) misunderstood(t *Turn, text string, r nlu.Result) {
	t.Fallback = true
	s.fallbacks++
	s.stats.Fallbacks++
	s.stats.Unmatched++
	s.e.deps.Metrics.fallbacks.WithLabelValues(s.e.prog.def.ID).Inc()
	s.addCoach(text, r, "unmatched")
	if s.fallbacks >= s.e.prog.def.Settings.FallbackLimit {
		s.handover(t, "fallbacks")
		return
	}
	// A misunderstanding while collecting leaves the prompt standing.
	s.emit(t, "text", s.e.prog.def.Handlers.Fallback)
	if s.mode == modeCollecting {
		s.ask(t, s.asking, true)
	}
}

func (s *Session) addCoach(text string, r nlu.Result, kind string) {
	if len(s.coach) >= 50 {
		return
	}
	s.coach = append(s.coach, CoachItem{Text: text, Intent: r.Intent, Confidence: r.Confidence, Kind: kind})
}

func (s *Session) startIntent(ctx context.Context, t *Turn, text string, r nlu.Result) {
	s.fallbacks = 0
	it := s.e.prog.intents[r.Intent]
	s.intent = it.Name
	s.vars["intent"] = it.Name
	s.vars["confidence"] = r.Confidence
	s.stats.hitIntent(it.Name, r.Confidence)
	if r.Confidence < 0.5 {
		s.addCoach(text, r, "low_confidence")
	}
	if it.Answer == "kb" {
		s.leaveFlow()
		s.answer(ctx, t, text, none)
		return
	}
	s.enterFlow(it.Flow)
	s.prefill(text)
	s.run(ctx, t)
}

func (s *Session) enterFlow(name string) {
	s.flow, s.step, s.asking, s.mode = name, 0, "", modeIdle
}

func (s *Session) leaveFlow() {
	s.flow, s.step, s.asking = "", 0, ""
	if s.mode == modeCollecting {
		s.mode = modeIdle
	}
}

// prefill fills the current flow's slots that the request itself gave
// ("I lost my card ending 1234"), for slot types specific enough not to
// mistake: card digits, email, phone, account numbers, amounts, dates,
// choices.
func (s *Session) prefill(text string) {
	f := s.e.prog.flows[s.flow]
	for _, st := range f.steps {
		for _, name := range st.Collect {
			sl := s.e.prog.slots[name]
			if _, done := s.values[name]; done || sl == nil {
				continue
			}
			switch sl.Type {
			case slots.CardLast4, slots.Email, slots.Phone, slots.AccountNumber, slots.Amount, slots.Date, slots.Choice:
				if v, ok := sl.spec.Extract(text, s.now); ok && sl.spec.Check(v) == nil {
					s.setSlot(sl, v)
				}
			}
		}
	}
}

func (s *Session) setSlot(sl *cslot, v slots.Value) {
	if sl.Sensitive {
		// The model never reads a sensitive value: the message that gave
		// it is masked in the history it is shown.
		for i := len(s.history) - 1; i >= 0; i-- {
			if s.history[i].party == inference.PartyCustomer {
				s.history[i].text = "[" + sl.Name + " given]"
				break
			}
		}
	}
	s.values[sl.Name] = v
	s.vars[sl.Name] = v.Any()
	if sl.Type == slots.Amount {
		s.vars[sl.Name+"_currency"] = v.Currency
	}
	st := s.stats.slot(sl.Name)
	st.Filled++
	s.stats.Slots[sl.Name] = st
}

// collect reads an answer to the slot asked for, and any other slot of
// the same form the message gives. It reports whether the asked slot was
// filled; when it was not, it has reprompted (or given up) unless the
// message looks like a new request, which the caller then handles.
func (s *Session) collect(ctx context.Context, t *Turn, text string, in Input) bool {
	sl := s.e.prog.slots[s.asking]
	v, ok := sl.spec.Extract(text, s.now)
	var bad error
	if ok {
		bad = sl.spec.Check(v)
	}
	if !ok && in.Agentic && s.e.agentic() {
		// The model may read the value where the extractor could not; its
		// reading is checked by the same extractor and validation.
		v, ok = s.agentSlot(ctx, t, text, sl)
		if ok {
			bad = sl.spec.Check(v)
		}
	}
	if ok && bad == nil {
		s.setSlot(sl, v)
		s.fallbacks = 0
		// Other slots of the same form the message answers too.
		st := s.e.prog.flows[s.flow].steps[s.step]
		for _, other := range st.Collect {
			os := s.e.prog.slots[other]
			if _, done := s.values[other]; done || other == sl.Name || os.Type == sl.Type || os.Type == slots.Text || os.Type == slots.YesNo || os.Type == slots.Number {
				continue
			}
			if ov, ok := os.spec.Extract(text, s.now); ok && os.spec.Check(ov) == nil {
				s.setSlot(os, ov)
			}
		}
		return true
	}
	if !ok {
		// Perhaps a new request: a confident intent that starts something
		// else takes over from the form.
		r := s.e.classify(text)
		if r.InScope && r.Confidence >= 0.6 && r.Intent != s.intent {
			t.Intent = &r
			s.leaveFlow()
			s.startIntent(ctx, t, text, r)
			return false
		}
	}
	s.retries[sl.Name]++
	st := s.stats.slot(sl.Name)
	if s.retries[sl.Name] > sl.Retries {
		st.Failed++
		s.stats.Slots[sl.Name] = st
		if f, ok := strings.CutPrefix(sl.OnFail, "flow:"); ok {
			s.enterFlow(f)
			s.run(ctx, t)
			return false
		}
		s.handover(t, "slot_not_collected")
		return false
	}
	s.stats.Slots[sl.Name] = st
	if bad != nil {
		s.emit(t, "error", invalidMessage(sl, bad))
	}
	s.ask(t, sl.Name, true)
	return false
}

// invalidMessage words a validation failure for the customer without
// repeating what they typed.
func invalidMessage(sl *cslot, err error) string {
	msg := strings.TrimPrefix(err.Error(), slots.ErrInvalid.Error()+": ")
	return "That doesn't look right (" + msg + ")."
}

// ask says a slot's prompt (or reprompt) and waits for the answer.
func (s *Session) ask(t *Turn, name string, again bool) {
	sl := s.e.prog.slots[name]
	prompt := sl.Prompt
	if again && sl.Reprompt != "" {
		prompt = sl.Reprompt
	}
	var choices []string
	switch sl.Type {
	case slots.Choice:
		for _, o := range sl.Options {
			choices = append(choices, o.Value)
		}
	case slots.YesNo:
		choices = []string{"Yes", "No"}
	}
	s.emit(t, "prompt", render(prompt, s.vars), choices...)
	s.mode, s.asking = modeCollecting, name
	st := s.stats.slot(name)
	st.Asked++
	s.stats.Slots[name] = st
}

// run executes the current flow from the current step until it waits for
// the customer, ends, or hands over.
func (s *Session) run(ctx context.Context, t *Turn) {
	for n := 0; s.flow != "" && s.Active(); n++ {
		if n >= s.e.cfg.MaxStepsPerTurn {
			s.e.log.Error("flow ran too many steps in one turn; handing over", "flow", s.flow)
			s.handover(t, "runaway_flow")
			return
		}
		f := s.e.prog.flows[s.flow]
		if s.step >= len(f.steps) {
			s.served = true
			s.leaveFlow()
			return
		}
		st := &f.steps[s.step]
		next := st.next
		switch st.kind {
		case stepSend:
			var ch []string
			for _, c := range st.Choices {
				ch = append(ch, render(c, s.vars))
			}
			s.emit(t, "text", render(st.Send, s.vars), ch...)
		case stepCollect:
			missing := ""
			for _, name := range st.Collect {
				if _, ok := s.values[name]; !ok {
					missing = name
					break
				}
			}
			if missing != "" {
				s.ask(t, missing, false)
				return
			}
			s.mode, s.asking = modeIdle, ""
		case stepCondition:
			to := st.els
			matched := false
			for _, c := range st.cases {
				if truthy(c.e.eval(s.vars, s.now)) {
					to, matched = c.to, true
					break
				}
			}
			if matched || to.step >= 0 {
				next = to
			}
		case stepSkill:
			if !s.callSkill(ctx, t, st) {
				if st.onError.step >= 0 {
					next = st.onError
				} else {
					s.emit(t, "error", s.e.prog.def.Handlers.SkillError)
					s.handover(t, "skill_error")
					return
				}
			}
		case stepKB:
			q := s.vars["last_message"].(string)
			if st.KB != "last_message" {
				q = render(st.KB, s.vars)
			}
			if !s.answer(ctx, t, q, st.onNoAnswer) && st.onNoAnswer.step >= 0 {
				next = st.onNoAnswer
			}
		case stepSet:
			for _, x := range st.sets {
				s.vars[x.name] = x.e.eval(s.vars, s.now)
			}
		case stepHandover:
			s.handover(t, st.Handover)
			return
		case stepEnd:
			s.end(t, st.End)
			return
		case stepGoto:
		}
		if next.step >= 0 {
			s.flow, s.step = next.flow, next.step
		} else {
			s.step++
		}
	}
}

// callSkill runs a skill step; false means it failed.
func (s *Session) callSkill(ctx context.Context, t *Turn, st *cstep) bool {
	sk := s.e.prog.skills[st.Skill]
	ok := s.runSkill(ctx, t, sk, saveName(st.Step))
	return ok
}

func (s *Session) runSkill(ctx context.Context, t *Turn, sk *Skill, save string) bool {
	stat := s.stats.skill(sk.Name)
	stat.Calls++
	defer func() { s.stats.Skills[sk.Name] = stat }()
	m := s.e.deps.Metrics
	if s.e.deps.Skills == nil {
		stat.Errors++
		m.skillCalls.WithLabelValues(s.e.prog.def.ID, "error").Inc()
		return false
	}
	input := map[string]string{}
	for k, tpl := range sk.Input {
		input[k] = render(tpl, s.vars)
	}
	raw, _ := json.Marshal(input)
	cctx, cancel := context.WithTimeout(ctx, time.Duration(sk.Timeout))
	defer cancel()
	start := time.Now()
	res, err := s.e.deps.Skills.RunSkill(cctx, SkillCall{Conversation: s.id, Bot: s.e.prog.def.ID, Name: sk.Name,
		Plugin: sk.Plugin, Skill: sk.Skill, Input: raw})
	t.External += time.Since(start)
	if err == nil && cctx.Err() != nil {
		err = cctx.Err()
	}
	if err != nil {
		stat.Errors++
		result := "error"
		if errors.Is(err, context.DeadlineExceeded) {
			result = "timeout"
		}
		m.skillCalls.WithLabelValues(s.e.prog.def.ID, result).Inc()
		s.e.log.Warn("skill failed", "skill", sk.Name, "plugin", sk.Plugin, "conversation", s.id, "err", err)
		return false
	}
	m.skillCalls.WithLabelValues(s.e.prog.def.ID, "ok").Inc()
	out := map[string]any{}
	for k, v := range res.Result {
		out[k] = v
	}
	out["message"] = res.Message
	out["ok"] = true
	s.vars[save] = out
	return true
}

// answer answers q from the knowledge base; false means no answer (the
// no-answer message was said unless onNoAnswer leads elsewhere).
func (s *Session) answer(ctx context.Context, t *Turn, q string, onNoAnswer target) bool {
	if s.e.deps.Knowledge == nil {
		s.stats.KBUnanswered++
		if onNoAnswer.step < 0 {
			s.emit(t, "text", s.e.prog.def.Handlers.NoAnswer)
		}
		return false
	}
	start := time.Now()
	a, err := s.e.deps.Knowledge.Answer(ctx, q)
	t.External += time.Since(start)
	if err != nil || strings.TrimSpace(a.Text) == "" {
		if err != nil {
			s.e.log.Warn("knowledge-base answer failed", "conversation", s.id, "err", err)
		}
		s.stats.KBUnanswered++
		if onNoAnswer.step < 0 {
			s.emit(t, "text", s.e.prog.def.Handlers.NoAnswer)
		}
		return false
	}
	s.stats.KBAnswers++
	s.served = true
	t.Messages = append(t.Messages, Message{Text: a.Text, Kind: "answer", Citations: a.Citations})
	s.remember(inference.PartyBot, a.Text)
	return true
}

// handover hands the conversation to the human queue.
func (s *Session) handover(t *Turn, reason string) {
	if !s.Active() {
		return
	}
	s.emit(t, "handover", render(s.e.prog.def.Handlers.Handover, s.vars))
	s.mode = modeHandedOver
	s.stats.Outcome, s.stats.HandoverReason = OutcomeHandover, reason
	s.e.deps.Metrics.handovers.WithLabelValues(s.e.prog.def.ID, reason).Inc()
	t.Handover = &Handover{Reason: reason, Intent: s.intent, Slots: s.Slots()}
}

// Handover hands the conversation over from outside a turn (the feature
// was switched off, the daemon is told to): it returns the bot's last
// message, or nothing when the bot was no longer active.
func (s *Session) Handover(reason, message string) Turn {
	var t Turn
	if !s.Active() {
		return t
	}
	if message != "" {
		s.emit(&t, "text", message)
	}
	s.handover(&t, reason)
	return t
}

func (s *Session) end(t *Turn, outcome string) {
	s.mode = modeEnded
	s.stats.Outcome = outcome
	t.End = outcome
}

// Slots returns the collected slots in declaration order.
func (s *Session) Slots() []SlotValue {
	out := []SlotValue{}
	for _, sl := range s.e.prog.def.Slots {
		if v, ok := s.values[sl.Name]; ok {
			out = append(out, SlotValue{Name: sl.Name, Type: sl.Type, Value: v.Text, Sensitive: sl.Sensitive})
		}
	}
	return out
}

// PositionMessage words the waiting message for place n of the queue.
func (s *Session) PositionMessage(n int) string {
	return render(s.e.prog.def.Handlers.Position, Vars{"position": float64(n)})
}

// Unavailable is the message said when the bot is switched off.
func (s *Session) Unavailable() string { return s.e.prog.def.Handlers.Unavailable }

// Outcomes of a conversation, besides a flow's own end outcomes.
const (
	OutcomeHandover  = "handover"
	OutcomeAbandoned = "abandoned"
	// OutcomeCompleted: the customer left after the bot served a request,
	// with no form left half-filled.
	OutcomeCompleted = "completed"
)

// Finish closes the session's statistics when the conversation ends. A
// conversation that ends while the bot still answers, without an end of
// its own, is completed when the bot served a request and was not waiting
// for an answer, and abandoned otherwise.
func (s *Session) Finish(end time.Time) Stats {
	if s.stats.Outcome == "" {
		s.stats.Outcome = OutcomeAbandoned
		if s.served && s.mode != modeCollecting {
			s.stats.Outcome = OutcomeCompleted
		}
	}
	if s.stats.End.IsZero() {
		s.stats.End = end.UTC()
		s.e.deps.Metrics.outcomes.WithLabelValues(s.e.prog.def.ID, outcomeLabel(s.stats.Outcome)).Inc()
	}
	return s.Stats()
}

func outcomeLabel(o string) string {
	switch o {
	case OutcomeHandover, OutcomeAbandoned, OutcomeCompleted:
		return o
	}
	return "ended"
}

// Stats returns a copy of the session's statistics (no customer content).
func (s *Session) Stats() Stats { return s.stats.clone() }

// Coach returns the messages the bot did not understand or understood
// with low confidence: candidate training phrases (customer content).
func (s *Session) Coach() []CoachItem { return slices.Clone(s.coach) }

// CoachItem is a customer message the bot could learn from.
type CoachItem struct {
	Text       string  `json:"text"`
	Intent     string  `json:"intent"` // the nearest intent
	Confidence float64 `json:"confidence"`
	// Kind is "unmatched" or "low_confidence".
	Kind string `json:"kind"`
}

func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n])
}
