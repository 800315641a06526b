package bot

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/earshot/earshot/inference/bot/slots"
)

// Problem is one thing wrong with a definition. Path names where, in the
// document's own terms: "intents[lost_card].phrases",
// "flows[lost_card].steps[confirm].collect".
type Problem struct {
	Path    string `json:"path"`
	Code    string `json:"code"`
	Message string `json:"message"`
	// Warning problems do not stop a publish.
	Warning bool `json:"warning,omitempty"`
}

func (p Problem) String() string { return p.Path + ": " + p.Message }

// Problems is the result of a validation.
type Problems []Problem

// Errors are the problems that stop a publish.
func (ps Problems) Errors() Problems {
	var out Problems
	for _, p := range ps {
		if !p.Warning {
			out = append(out, p)
		}
	}
	return out
}

func (ps Problems) Error() string {
	var b strings.Builder
	for i, p := range ps {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(p.String())
	}
	return b.String()
}

// Problem codes.
const (
	CodeRequired       = "required"
	CodeInvalid        = "invalid"
	CodeDuplicate      = "duplicate"
	CodeUnknown        = "unknown_reference"
	CodeFewPhrases     = "too_few_phrases"
	CodeUnreachable    = "unreachable"
	CodeUsedBefore     = "used_before_collected"
	CodeSkillMissing   = "skill_unavailable"
	CodeLoop           = "loop_without_input"
	CodeNoModel        = "needs_local_model"
	CodeAmbiguousPhras = "ambiguous_phrase"
)

// Env is what validation checks a definition against. Nil functions skip
// their check.
type Env struct {
	// QueueExists reports whether a queue exists.
	QueueExists func(id string) bool
	// CheckSkill returns nil when plugin is an installed, enabled and
	// approved skill plugin that offers skill, else why not.
	CheckSkill func(ctx context.Context, plugin, skill string) error
	// HasGenerator reports whether a local model can serve agentic mode.
	HasGenerator bool
}

var (
	idRE    = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)
	nameRE  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)
	langRE  = regexp.MustCompile(`^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$`)
	curRE   = regexp.MustCompile(`^[A-Z]{3}$`)
	urlRE   = regexp.MustCompile(`(?i)\b(?:https?://|www\.)`)
	maxText = 2000
)

// builtinVars are the variables every conversation has.
var builtinVars = []string{"last_message", "intent", "confidence", "today", "bot_name", "position"}

// program is a compiled definition: what the runtime executes.
type program struct {
	def     Definition
	slots   map[string]*cslot
	skills  map[string]*Skill
	intents map[string]*Intent
	flows   map[string]*cflow
	kb      bool // the bot answers from the knowledge base somewhere
}

type cslot struct {
	Slot
	spec slots.Spec
}

type cflow struct {
	name  string
	steps []cstep
	index map[string]int
}

type stepKind int

const (
	stepSend stepKind = iota + 1
	stepCollect
	stepCondition
	stepSkill
	stepKB
	stepSet
	stepHandover
	stepEnd
	stepGoto
)

type cstep struct {
	Step
	kind       stepKind
	cases      []ccase
	els        target
	next       target
	onError    target
	onNoAnswer target
	sets       []cset
}

type ccase struct {
	src string
	e   expr
	to  target
}

type cset struct {
	name string
	e    expr
}

// target is a place to go: a step of a flow. step < 0 means "none":
// carry on with the next step.
type target struct {
	flow string
	step int
}

var none = target{step: -1}

// Validate checks a definition against env and returns every problem
// found (none means it can be published).
func Validate(ctx context.Context, d Definition, env Env) Problems {
	_, ps := compile(ctx, d, env)
	return ps
}

type checker struct {
	ps Problems
}

func (c *checker) add(path, code, format string, a ...any) {
	c.ps = append(c.ps, Problem{Path: path, Code: code, Message: fmt.Sprintf(format, a...)})
}

func (c *checker) warn(path, code, format string, a ...any) {
	c.ps = append(c.ps, Problem{Path: path, Code: code, Message: fmt.Sprintf(format, a...), Warning: true})
}

func (c *checker) text(path, s string, required bool) {
	switch {
	case required && strings.TrimSpace(s) == "":
		c.add(path, CodeRequired, "is required")
	case !utf8.ValidString(s):
		c.add(path, CodeInvalid, "is not valid UTF-8")
	case utf8.RuneCountInString(s) > maxText:
		c.add(path, CodeInvalid, "is longer than %d characters", maxText)
	}
}

// compile checks d and builds its program; the program is usable only
// when no problem is an error.
func compile(ctx context.Context, d Definition, env Env) (*program, Problems) {
	d = d.WithDefaults()
	c := &checker{}
	p := &program{def: d, slots: map[string]*cslot{}, skills: map[string]*Skill{}, intents: map[string]*Intent{}, flows: map[string]*cflow{}}
	if !idRE.MatchString(d.ID) {
		c.add("id", CodeInvalid, "must be 1 to 64 lowercase letters, digits, '-' or '_', starting with a letter or digit")
	}
	c.text("name", d.Name, true)
	c.checkVoice(d)
	c.text("description", d.Description, false)
	c.text("greeting", d.Greeting, false)
	if !langRE.MatchString(d.Language) {
		c.add("language", CodeInvalid, "must be a language tag such as en or es-MX")
	}
	if d.Queue == "" {
		c.add("queue", CodeRequired, "names the human queue conversations are handed over to")
	} else if env.QueueExists != nil && !env.QueueExists(d.Queue) {
		c.add("queue", CodeUnknown, "queue %q does not exist", d.Queue)
	}
	s := d.Settings
	if s.Threshold != nil && (*s.Threshold != *s.Threshold) {
		c.add("settings.threshold", CodeInvalid, "is not a number")
	}
	if s.FallbackLimit > 20 {
		c.add("settings.fallback_limit", CodeInvalid, "must be at most 20")
	}
	if s.MinPhrases > 1000 {
		c.add("settings.min_phrases", CodeInvalid, "must be at most 1000")
	}
	if time.Duration(s.IdleTimeout) < time.Minute || time.Duration(s.IdleTimeout) > 24*time.Hour {
		c.add("settings.idle_timeout", CodeInvalid, "must be between 1m and 24h")
	}
	c.widget(d.Widget)
	c.handlers(d.Handlers)

	// Slots.
	for i, sl := range d.Slots {
		path := fmt.Sprintf("slots[%s]", orIndex(sl.Name, i))
		if !declarable(c, p.slots, "slot", path, sl.Name) {
			continue
		}
		if slices.Contains(builtinVars, sl.Name) {
			c.add(path+".name", CodeInvalid, "%q is a built-in variable", sl.Name)
		}
		cs := &cslot{Slot: sl}
		cs.spec = c.slotSpec(path, sl)
		p.slots[sl.Name] = cs
	}
	// Skills.
	for i, sk := range d.Skills {
		path := fmt.Sprintf("skills[%s]", orIndex(sk.Name, i))
		if !declarable(c, p.skills, "skill", path, sk.Name) {
			continue
		}
		sk := sk
		p.skills[sk.Name] = &sk
		if sk.Plugin == "" {
			c.add(path+".plugin", CodeRequired, "names the skill plugin")
		} else if env.CheckSkill != nil {
			if err := env.CheckSkill(ctx, sk.Plugin, sk.Skill); err != nil {
				c.add(path, CodeSkillMissing, "skill %s of plugin %s cannot run: %v", sk.Skill, sk.Plugin, err)
			}
		}
		if time.Duration(sk.Timeout) > MaxSkillTimeout {
			c.add(path+".timeout", CodeInvalid, "must be at most %s", MaxSkillTimeout)
		}
		for _, k := range slices.Sorted(mapKeys(sk.Input)) {
			c.text(path+".input."+k, sk.Input[k], false)
		}
	}
	// Flows: declare first so that steps may name any flow.
	for i, f := range d.Flows {
		path := fmt.Sprintf("flows[%s]", orIndex(f.Name, i))
		if !declarable(c, p.flows, "flow", path, f.Name) {
			continue
		}
		cf := &cflow{name: f.Name, index: map[string]int{}}
		if len(f.Steps) == 0 {
			c.add(path+".steps", CodeRequired, "a flow needs at least one step")
		}
		for j, st := range f.Steps {
			if st.ID == "" {
				continue
			}
			if !nameRE.MatchString(st.ID) {
				c.add(fmt.Sprintf("%s.steps[%d].id", path, j), CodeInvalid, "must be an identifier (letters, digits, '_')")
				continue
			}
			if _, dup := cf.index[st.ID]; dup {
				c.add(fmt.Sprintf("%s.steps[%s].id", path, st.ID), CodeDuplicate, "step %q appears twice", st.ID)
				continue
			}
			cf.index[st.ID] = j
		}
		p.flows[f.Name] = cf
	}
	for _, f := range d.Flows {
		cf := p.flows[f.Name]
		if cf == nil || cf.steps != nil {
			continue
		}
		cf.steps = make([]cstep, len(f.Steps))
		for j, st := range f.Steps {
			cf.steps[j] = c.step(p, cf, j, st)
		}
	}
	// Intents.
	seenPhrase := map[string]string{}
	for i, it := range d.Intents {
		path := fmt.Sprintf("intents[%s]", orIndex(it.Name, i))
		if !declarable(c, p.intents, "intent", path, it.Name) {
			continue
		}
		it := it
		p.intents[it.Name] = &it
		n := 0
		for k, ph := range it.Phrases {
			c.text(fmt.Sprintf("%s.phrases[%d]", path, k), ph, false)
			key := strings.ToLower(strings.Join(strings.Fields(ph), " "))
			if key == "" {
				continue
			}
			n++
			if other, ok := seenPhrase[key]; ok && other != it.Name {
				c.add(fmt.Sprintf("%s.phrases[%d]", path, k), CodeAmbiguousPhras, "phrase %q is also a phrase of intent %s", ph, other)
			}
			seenPhrase[key] = it.Name
		}
		if n < s.MinPhrases {
			c.add(path+".phrases", CodeFewPhrases, "has %d training phrases; at least %d are needed", n, s.MinPhrases)
		}
		switch {
		case it.Flow != "" && it.Answer != "":
			c.add(path, CodeInvalid, "an intent either starts a flow or answers from the knowledge base, not both")
		case it.Flow != "":
			if p.flows[it.Flow] == nil {
				c.add(path+".flow", CodeUnknown, "flow %q does not exist", it.Flow)
			}
		case it.Answer == "kb":
			p.kb = true
		case it.Answer != "":
			c.add(path+".answer", CodeInvalid, "must be \"kb\"")
		default:
			c.add(path, CodeRequired, "needs a flow to start or answer: kb")
		}
	}
	if len(p.intents) < 2 {
		c.add("intents", CodeRequired, "a bot needs at least two intents")
	}
	for _, cs := range p.slots {
		if cs.OnFail != "" {
			if f, ok := strings.CutPrefix(cs.OnFail, "flow:"); !ok || p.flows[f] == nil {
				c.add(fmt.Sprintf("slots[%s].on_fail", cs.Name), CodeUnknown, "must name an existing flow as flow:<name>")
			}
		}
	}
	if d.Agentic.Enabled && !env.HasGenerator {
		c.warn("agentic.enabled", CodeNoModel, "agentic mode needs a local model (ollama.models.generate); the built-in runtime answers until one is configured")
	}
	c.graph(p)
	sort.SliceStable(c.ps, func(i, j int) bool { return c.ps[i].Path < c.ps[j].Path })
	return p, c.ps
}

// declarable reports whether name may be declared as a kind at path: an
// identifier not declared before. It adds the problem when not.
func declarable[T any](c *checker, declared map[string]*T, kind, path, name string) bool {
	if !nameRE.MatchString(name) {
		c.add(path+".name", CodeInvalid, "must be an identifier (letters, digits, '_')")
		return false
	}
	if declared[name] != nil {
		c.add(path+".name", CodeDuplicate, "%s %q is declared twice", kind, name)
		return false
	}
	return true
}

func orIndex(name string, i int) string {
	if name == "" {
		return strconv.Itoa(i)
	}
	return name
}

func mapKeys[K comparable, V any](m map[K]V) func(func(K) bool) {
	return func(yield func(K) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func (c *checker) widget(w Widget) {
	for i, o := range w.AllowedOrigins {
		path := fmt.Sprintf("widget.allowed_origins[%d]", i)
		u, err := url.Parse(o)
		if o == "*" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			c.add(path, CodeInvalid, "%q must be an origin such as https://www.example.com (scheme, host, optional port; no wildcard)", o)
		}
	}
	c.text("widget.title", w.Title, false)
	if w.MessagesPerMinute > 600 || w.SessionsPerMinute > 600 || w.BotMessagesPerSecond > 100000 || w.MaxSessions > 100000 {
		c.add("widget", CodeInvalid, "rate limits are out of range")
	}
	if w.MaxMessageChars > 16000 {
		c.add("widget.max_message_chars", CodeInvalid, "must be at most 16000")
	}
}

func (c *checker) handlers(h Handlers) {
	for name, v := range map[string]string{"fallback": h.Fallback, "handover": h.Handover, "position": h.Position,
		"cancel": h.Cancel, "greeting": h.Greeting, "goodbye": h.Goodbye, "thanks": h.Thanks,
		"skill_error": h.SkillError, "no_answer": h.NoAnswer, "unavailable": h.Unavailable} {
		c.text("handlers."+name, v, false)
		for _, x := range templateVars(v) {
			if !slices.Contains(builtinVars, x) {
				c.add("handlers."+name, CodeUnknown, "a handler message may only use built-in variables, not %q", x)
			}
		}
	}
}

func (c *checker) slotSpec(path string, sl Slot) slots.Spec {
	sp := slots.Spec{Type: sl.Type, Options: sl.Options, Min: sl.Min, Max: sl.Max, Currencies: sl.Currencies,
		DefaultCurrency: sl.Currency, Dates: sl.Dates, MinLen: sl.MinLen, MaxLen: sl.MaxLen}
	if !sl.Type.Valid() {
		c.add(path+".type", CodeInvalid, "unknown slot type %q (one of %v)", sl.Type, slots.Types)
	}
	c.text(path+".prompt", sl.Prompt, true)
	c.text(path+".reprompt", sl.Reprompt, false)
	if sl.Retries > 10 {
		c.add(path+".retries", CodeInvalid, "must be at most 10")
	}
	if sl.Pattern != "" {
		re, err := regexp.Compile(sl.Pattern)
		if err != nil {
			c.add(path+".pattern", CodeInvalid, "does not compile: %v", err)
		} else if re.NumSubexp() > 1 {
			c.add(path+".pattern", CodeInvalid, "may have at most one capture group (the value)")
		} else {
			sp.Pattern = re
		}
		if sl.Type != slots.Text && sl.Type != slots.AccountNumber {
			c.add(path+".pattern", CodeInvalid, "only text and account_number slots take a pattern")
		}
	}
	if sl.Type == slots.Choice {
		if len(sl.Options) < 2 {
			c.add(path+".options", CodeRequired, "a choice slot needs at least two options")
		}
		seen := map[string]bool{}
		for k, o := range sl.Options {
			v := strings.ToLower(strings.TrimSpace(o.Value))
			if v == "" {
				c.add(fmt.Sprintf("%s.options[%d]", path, k), CodeRequired, "option value is empty")
			} else if seen[v] {
				c.add(fmt.Sprintf("%s.options[%d]", path, k), CodeDuplicate, "option %q appears twice", o.Value)
			}
			seen[v] = true
		}
	} else if len(sl.Options) > 0 {
		c.add(path+".options", CodeInvalid, "only choice slots take options")
	}
	if sl.Min != nil && sl.Max != nil && *sl.Min > *sl.Max {
		c.add(path+".min", CodeInvalid, "min is above max")
	}
	for _, cur := range append(slices.Clone(sl.Currencies), sl.Currency) {
		if cur != "" && !curRE.MatchString(cur) {
			c.add(path+".currencies", CodeInvalid, "%q is not an ISO 4217 code", cur)
		}
	}
	if sl.Dates != "" && sl.Dates != "past" && sl.Dates != "future" {
		c.add(path+".dates", CodeInvalid, "must be past or future")
	}
	if sl.MinLen < 0 || sl.MaxLen < 0 || (sl.MaxLen > 0 && sl.MinLen > sl.MaxLen) {
		c.add(path+".min_len", CodeInvalid, "bad length bounds")
	}
	return sp
}

// resolve parses a jump: "step_id" in flow cf, or "flow:name".
func (c *checker) resolve(p *program, cf *cflow, path, ref string) target {
	if ref == "" {
		return none
	}
	if name, ok := strings.CutPrefix(ref, "flow:"); ok {
		if f := p.flows[name]; f == nil {
			c.add(path, CodeUnknown, "flow %q does not exist", name)
			return none
		}
		return target{flow: name, step: 0}
	}
	i, ok := cf.index[ref]
	if !ok {
		c.add(path, CodeUnknown, "step %q does not exist in flow %s", ref, cf.name)
		return none
	}
	return target{flow: cf.name, step: i}
}

func (c *checker) step(p *program, cf *cflow, j int, st Step) cstep {
	path := fmt.Sprintf("flows[%s].steps[%s]", cf.name, orIndex(st.ID, j))
	cs := cstep{Step: st, els: none, next: none, onError: none, onNoAnswer: none}
	var kinds []stepKind
	if st.Send != "" {
		kinds = append(kinds, stepSend)
	}
	if len(st.Collect) > 0 {
		kinds = append(kinds, stepCollect)
	}
	if len(st.Condition) > 0 {
		kinds = append(kinds, stepCondition)
	}
	if st.Skill != "" {
		kinds = append(kinds, stepSkill)
	}
	if st.KB != "" {
		kinds = append(kinds, stepKB)
	}
	if len(st.Set) > 0 {
		kinds = append(kinds, stepSet)
	}
	if st.Handover != "" {
		kinds = append(kinds, stepHandover)
	}
	if st.End != "" {
		kinds = append(kinds, stepEnd)
	}
	if st.Goto != "" {
		kinds = append(kinds, stepGoto)
	}
	switch len(kinds) {
	case 0:
		c.add(path, CodeRequired, "a step needs one action: send, collect, condition, skill, kb, set, handover, end or goto")
		return cs
	case 1:
		cs.kind = kinds[0]
	default:
		c.add(path, CodeInvalid, "a step does exactly one thing; this one has %d actions", len(kinds))
		cs.kind = kinds[0]
	}
	c.text(path+".send", st.Send, false)
	for k, ch := range st.Choices {
		c.text(fmt.Sprintf("%s.choices[%d]", path, k), ch, true)
	}
	if len(st.Choices) > 0 && cs.kind != stepSend {
		c.add(path+".choices", CodeInvalid, "only send steps offer choices")
	}
	for _, name := range st.Collect {
		if p.slots[name] == nil {
			c.add(path+".collect", CodeUnknown, "slot %q is not declared", name)
		}
	}
	if cs.kind == stepSkill && p.skills[st.Skill] == nil {
		c.add(path+".skill", CodeUnknown, "skill %q is not declared", st.Skill)
	}
	if st.Save != "" && (!nameRE.MatchString(st.Save) || p.slots[st.Save] != nil) {
		c.add(path+".save", CodeInvalid, "must be an identifier that is not a slot")
	}
	if cs.kind == stepKB {
		p.kb = true
		if st.KB != "last_message" {
			c.text(path+".kb", st.KB, false)
		}
	}
	for k, cse := range st.Condition {
		e, _, err := parseExpr(cse.If)
		if err != nil {
			c.add(fmt.Sprintf("%s.condition[%d].if", path, k), CodeInvalid, "%v", err)
		}
		to := c.resolve(p, cf, fmt.Sprintf("%s.condition[%d].goto", path, k), cse.Goto)
		if cse.Goto == "" {
			c.add(fmt.Sprintf("%s.condition[%d].goto", path, k), CodeRequired, "a case needs a goto")
		}
		cs.cases = append(cs.cases, ccase{src: cse.If, e: e, to: to})
	}
	for _, name := range slices.Sorted(mapKeys(st.Set)) {
		if !nameRE.MatchString(name) || slices.Contains(builtinVars, name) {
			c.add(path+".set."+name, CodeInvalid, "must be an identifier that is not a built-in variable")
			continue
		}
		if p.slots[name] != nil {
			c.add(path+".set."+name, CodeInvalid, "%q is a slot; slots are collected, not set", name)
			continue
		}
		e, _, err := parseExpr(st.Set[name])
		if err != nil {
			c.add(path+".set."+name, CodeInvalid, "%v", err)
			continue
		}
		cs.sets = append(cs.sets, cset{name, e})
	}
	c.text(path+".handover", st.Handover, false)
	c.text(path+".end", st.End, false)
	cs.els = c.resolve(p, cf, path+".else", st.Else)
	cs.onError = c.resolve(p, cf, path+".on_error", st.OnError)
	cs.onNoAnswer = c.resolve(p, cf, path+".on_no_answer", st.OnNoAnswer)
	if cs.kind == stepGoto {
		cs.next = c.resolve(p, cf, path+".goto", st.Goto)
	} else {
		cs.next = c.resolve(p, cf, path+".next", st.Next)
	}
	if st.Else != "" && cs.kind != stepCondition {
		c.add(path+".else", CodeInvalid, "only condition steps have else")
	}
	if st.OnError != "" && cs.kind != stepSkill {
		c.add(path+".on_error", CodeInvalid, "only skill steps have on_error")
	}
	if st.OnNoAnswer != "" && cs.kind != stepKB {
		c.add(path+".on_no_answer", CodeInvalid, "only kb steps have on_no_answer")
	}
	if (cs.kind == stepHandover || cs.kind == stepEnd) && st.Next != "" {
		c.add(path+".next", CodeInvalid, "nothing follows a %s step", map[stepKind]string{stepHandover: "handover", stepEnd: "end"}[cs.kind])
	}
	return cs
}

// node is one step of one flow in the bot's step graph.
type node struct {
	flow string
	step int
}

// successors lists where a step may go next.
func (p *program) successors(n node) []node {
	cf := p.flows[n.flow]
	st := cf.steps[n.step]
	var out []node
	add := func(t target) {
		if t.step >= 0 && p.flows[t.flow] != nil && t.step < len(p.flows[t.flow].steps) {
			out = append(out, node(t))
		}
	}
	fallthrough_ := func() {
		if st.next.step >= 0 {
			add(st.next)
		} else if n.step+1 < len(cf.steps) {
			out = append(out, node{n.flow, n.step + 1})
		}
	}
	switch st.kind {
	case stepHandover, stepEnd:
	case stepGoto:
		add(st.next)
	case stepCondition:
		for _, cs := range st.cases {
			add(cs.to)
		}
		if st.els.step >= 0 {
			add(st.els)
		} else {
			fallthrough_()
		}
	case stepSkill:
		add(st.onError)
		fallthrough_()
	case stepKB:
		add(st.onNoAnswer)
		fallthrough_()
	case stepCollect:
		for _, name := range st.Collect {
			if sl := p.def.slotNamed(name); sl != nil && sl.OnFail != "" {
				if f, ok := strings.CutPrefix(sl.OnFail, "flow:"); ok && p.flows[f] != nil && len(p.flows[f].steps) > 0 {
					out = append(out, node{f, 0})
				}
			}
		}
		fallthrough_()
	default:
		fallthrough_()
	}
	return out
}

func (d Definition) slotNamed(name string) *Slot {
	for i := range d.Slots {
		if d.Slots[i].Name == name {
			return &d.Slots[i]
		}
	}
	return nil
}

// graph checks what needs the whole step graph: unreachable flows and
// steps, loops that never wait for the customer, and variables read before
// they are collected or set.
func (c *checker) graph(p *program) {
	var roots []node
	for _, it := range p.intents {
		if f := p.flows[it.Flow]; f != nil && len(f.steps) > 0 {
			roots = append(roots, node{it.Flow, 0})
		}
	}
	reached := map[node]bool{}
	var visit func(n node)
	visit = func(n node) {
		if reached[n] {
			return
		}
		reached[n] = true
		for _, s := range p.successors(n) {
			visit(s)
		}
	}
	for _, r := range roots {
		visit(r)
	}
	for _, name := range slices.Sorted(mapKeys(p.flows)) {
		f := p.flows[name]
		if len(f.steps) == 0 || f.steps[0].kind == 0 {
			continue
		}
		if !reached[node{name, 0}] {
			c.add(fmt.Sprintf("flows[%s]", name), CodeUnreachable, "no intent, step or slot leads to this flow")
			continue
		}
		for j := range f.steps {
			if !reached[node{name, j}] {
				c.add(fmt.Sprintf("flows[%s].steps[%s]", name, orIndex(f.steps[j].ID, j)), CodeUnreachable, "no step leads here")
			}
		}
	}
	for _, name := range slices.Sorted(mapKeys(p.skills)) {
		used := false
		for _, f := range p.flows {
			for _, st := range f.steps {
				used = used || st.Skill == name
			}
		}
		if !used {
			c.warn(fmt.Sprintf("skills[%s]", name), CodeUnreachable, "no step calls this skill")
		}
	}
	c.loops(p)
	c.dataflow(p, roots)
}

// loops finds cycles of the step graph on which no step waits for the
// customer (a collect step), with Tarjan's strongly connected components.
func (c *checker) loops(p *program) {
	index, low := map[node]int{}, map[node]int{}
	onStack := map[node]bool{}
	var stack []node
	next := 0
	var sccs [][]node
	var strong func(v node)
	strong = func(v node) {
		index[v], low[v] = next, next
		next++
		stack = append(stack, v)
		onStack[v] = true
		for _, w := range p.successors(v) {
			if _, seen := index[w]; !seen {
				strong(w)
				low[v] = min(low[v], low[w])
			} else if onStack[w] {
				low[v] = min(low[v], index[w])
			}
		}
		if low[v] == index[v] {
			var scc []node
			for {
				w := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				onStack[w] = false
				scc = append(scc, w)
				if w == v {
					break
				}
			}
			sccs = append(sccs, scc)
		}
	}
	for _, name := range slices.Sorted(mapKeys(p.flows)) {
		for j := range p.flows[name].steps {
			if p.flows[name].steps[j].kind == 0 {
				continue
			}
			if _, seen := index[node{name, j}]; !seen {
				strong(node{name, j})
			}
		}
	}
	for _, scc := range sccs {
		cyclic := len(scc) > 1 || slices.Contains(p.successors(scc[0]), scc[0])
		if !cyclic {
			continue
		}
		waits := false
		var names []string
		for _, n := range scc {
			st := p.flows[n.flow].steps[n.step]
			waits = waits || st.kind == stepCollect
			names = append(names, n.flow+"."+orIndex(st.ID, n.step))
		}
		if !waits {
			sort.Strings(names)
			c.add(fmt.Sprintf("flows[%s]", scc[0].flow), CodeLoop, "steps %s form a loop that never waits for the customer", strings.Join(names, ", "))
		}
	}
}

// dataflow checks that every variable a step reads is, on every path to
// it, collected (a slot) or set (a Set step or a skill's result) before.
// Each flow is entered with nothing known.
func (c *checker) dataflow(p *program, roots []node) {
	assigned := map[string]bool{}
	for _, f := range p.flows {
		for _, st := range f.steps {
			for _, s := range st.sets {
				assigned[s.name] = true
			}
			if st.kind == stepSkill {
				assigned[saveName(st.Step)] = true
			}
		}
	}
	// known[n]: variables known on entry to n (nil: not computed yet,
	// i.e. "everything" for the intersection).
	known := map[node]map[string]bool{}
	var work []node
	for _, name := range slices.Sorted(mapKeys(p.flows)) {
		if len(p.flows[name].steps) > 0 {
			n := node{name, 0}
			known[n] = map[string]bool{}
			work = append(work, n)
		}
	}
	for len(work) > 0 {
		n := work[0]
		work = work[1:]
		st := p.flows[n.flow].steps[n.step]
		out := clone(known[n])
		switch st.kind {
		case stepCollect:
			for _, s := range st.Collect {
				out[s] = true
			}
		case stepSet:
			for _, s := range st.sets {
				out[s.name] = true
			}
		}
		for _, s := range p.successors(n) {
			in := out
			if st.kind == stepSkill && s == (node{st.onError.flow, st.onError.step}) && st.onError.step >= 0 {
				in = clone(known[n]) // the call failed: nothing saved
			} else if st.kind == stepSkill {
				in = clone(out)
				in[saveName(st.Step)] = true
			}
			if s.step == 0 {
				in = map[string]bool{} // entering a flow: nothing known
			}
			prev, ok := known[s]
			var merged map[string]bool
			if !ok {
				merged = clone(in)
			} else {
				merged = map[string]bool{}
				for k := range prev {
					if in[k] {
						merged[k] = true
					}
				}
			}
			if !ok || len(merged) != len(prev) {
				known[s] = merged
				work = append(work, s)
			}
		}
	}
	for _, name := range slices.Sorted(mapKeys(p.flows)) {
		for j, st := range p.flows[name].steps {
			n := node{name, j}
			k, ok := known[n]
			if !ok || st.kind == 0 {
				continue
			}
			path := fmt.Sprintf("flows[%s].steps[%s]", name, orIndex(st.ID, j))
			if st.kind == stepCollect {
				// A slot's prompt may read the slots the form asks before it.
				k = clone(k)
				for _, sn := range st.Collect {
					if sl := p.slots[sn]; sl != nil {
						for _, v := range append(templateVars(sl.Prompt), templateVars(sl.Reprompt)...) {
							root, _, _ := strings.Cut(v, ".")
							if !slices.Contains(builtinVars, root) && !k[root] {
								c.add(path, CodeUsedBefore, "the prompt of slot %q uses %q before it is collected", sn, root)
							}
						}
					}
					k[sn] = true
				}
			}
			for _, v := range stepReads(p, st) {
				root, _, _ := strings.Cut(v, ".")
				switch {
				case slices.Contains(builtinVars, root) || k[root]:
				case p.slots[root] != nil:
					c.add(path, CodeUsedBefore, "slot %q is used before it is collected", root)
				case assigned[root]:
					c.add(path, CodeUsedBefore, "variable %q may be used before it is set", root)
				default:
					c.add(path, CodeUnknown, "variable %q is never collected or set", root)
				}
			}
		}
	}
	_ = roots
}

func saveName(st Step) string {
	if st.Save != "" {
		return st.Save
	}
	return st.Skill
}

func clone(m map[string]bool) map[string]bool {
	out := make(map[string]bool, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// stepReads lists the variables a step reads, sorted and unique.
func stepReads(p *program, st cstep) []string {
	var vs []string
	vs = append(vs, templateVars(st.Send)...)
	for _, ch := range st.Choices {
		vs = append(vs, templateVars(ch)...)
	}
	if st.kind == stepKB && st.KB != "last_message" {
		vs = append(vs, templateVars(st.KB)...)
	}
	for _, cs := range st.Condition {
		if _, v, err := parseExpr(cs.If); err == nil {
			vs = append(vs, v...)
		}
	}
	for _, s := range st.Set {
		if _, v, err := parseExpr(s); err == nil {
			vs = append(vs, v...)
		}
	}
	if sk := p.skills[st.Skill]; sk != nil && st.kind == stepSkill {
		for _, t := range sk.Input {
			vs = append(vs, templateVars(t)...)
		}
	}
	slices.Sort(vs)
	return slices.Compact(vs)
}
