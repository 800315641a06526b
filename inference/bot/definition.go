package bot

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/earshot/earshot/inference/bot/slots"
)

// Definition is one bot as a site designs it: the document administrators
// edit, import and export (YAML or JSON) and keep in version control.
// Field names are snake_case in both forms.
type Definition struct {
	// ID names the bot in URLs: lowercase letters, digits, '-' and '_'.
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// Language is the language the bot is written in (BCP 47, "en").
	// Conversations in another language go through translation.
	Language string `json:"language,omitempty"`
	// Queue is the human queue a conversation continues in when the bot
	// hands it over.
	Queue string `json:"queue"`
	// Greeting is the bot's first message.
	Greeting string   `json:"greeting,omitempty"`
	Settings Settings `json:"settings,omitzero"`
	Widget   Widget   `json:"widget,omitzero"`
	Intents  []Intent `json:"intents"`
	Slots    []Slot   `json:"slots,omitempty"`
	Skills   []Skill  `json:"skills,omitempty"`
	Flows    []Flow   `json:"flows,omitempty"`
	// Handlers override the wording of the global handlers.
	Handlers Handlers `json:"handlers,omitzero"`
	Agentic  Agentic  `json:"agentic,omitzero"`
	// Voice configures calls the bot answers (see Voice).
	Voice *Voice `json:"voice,omitempty"`
}

// Settings tune the runtime. Zero values take the defaults.
type Settings struct {
	// FallbackLimit hands the conversation over after this many
	// misunderstandings in a row (default 2).
	FallbackLimit int `json:"fallback_limit,omitempty"`
	// MinPhrases is the fewest training phrases an intent may have
	// (default 5); publishing refuses fewer.
	MinPhrases int `json:"min_phrases,omitempty"`
	// Threshold, when set, replaces the out-of-scope threshold learned at
	// training (on the detector's score). Leave it unset.
	Threshold *float64 `json:"threshold,omitempty"`
	// IdleTimeout ends a conversation the customer left (default 10m).
	IdleTimeout Duration `json:"idle_timeout,omitempty"`
	// MaxTurns hands over a conversation that goes on this long (default
	// 50).
	MaxTurns int `json:"max_turns,omitempty"`
}

// Widget configures the embeddable web chat.
type Widget struct {
	Enabled bool `json:"enabled,omitempty"`
	// AllowedOrigins are the sites (scheme://host[:port]) whose pages may
	// open the widget's connection. The daemon's own page at /chat/{bot}
	// is always allowed.
	AllowedOrigins []string `json:"allowed_origins,omitempty"`
	Title          string   `json:"title,omitempty"`
	// MessagesPerMinute bounds one client (default 20); SessionsPerMinute
	// bounds new conversations from one address (default 10); BotMessagesPerSecond
	// bounds the whole bot (default 200); MaxSessions its open
	// conversations (default 2000).
	MessagesPerMinute    int `json:"messages_per_minute,omitempty"`
	SessionsPerMinute    int `json:"sessions_per_minute,omitempty"`
	BotMessagesPerSecond int `json:"bot_messages_per_second,omitempty"`
	MaxSessions          int `json:"max_sessions,omitempty"`
	// MaxMessageChars bounds one customer message (default 2000).
	MaxMessageChars int `json:"max_message_chars,omitempty"`
}

// Intent is something customers ask for, with its training phrases and
// what the bot does about it: run a flow, or answer from the knowledge
// base.
type Intent struct {
	Name        string   `json:"name"`
	Description string   `json:"description,omitempty"`
	Phrases     []string `json:"phrases"`
	// Flow names the flow the intent starts.
	Flow string `json:"flow,omitempty"`
	// Answer "kb" answers from the knowledge base with the customer's
	// message as the question.
	Answer string `json:"answer,omitempty"`
}

// Slot is a value the bot collects from the customer.
type Slot struct {
	Name string     `json:"name"`
	Type slots.Type `json:"type"`
	// Prompt asks for the value; Reprompt asks again after an answer that
	// gave none (default: the prompt).
	Prompt   string `json:"prompt"`
	Reprompt string `json:"reprompt,omitempty"`
	// Retries is how many reprompts the customer gets before the slot's
	// flow gives up (default 2); then OnFail runs, else the conversation
	// is handed over.
	Retries int    `json:"retries,omitempty"`
	OnFail  string `json:"on_fail,omitempty"`
	// Sensitive slots are masked in logs, models and reports, and
	// redacted where redaction is on.
	Sensitive bool `json:"sensitive,omitempty"`
	// DTMF lets a caller key the value (digits) on a call.
	DTMF *SlotDTMF `json:"dtmf,omitempty"`
	// Options are a choice slot's values; they are offered as buttons.
	Options []slots.Option `json:"options,omitempty"`
	// Pattern: an account_number's pattern, or the regular expression a
	// text slot must match (its first group is the value).
	Pattern string   `json:"pattern,omitempty"`
	Min     *float64 `json:"min,omitempty"`
	Max     *float64 `json:"max,omitempty"`
	// Currencies accepted by an amount (ISO 4217); Currency is the
	// default.
	Currencies []string `json:"currencies,omitempty"`
	Currency   string   `json:"currency,omitempty"`
	// Dates is "past" or "future" for dates said without a year.
	Dates  string `json:"dates,omitempty"`
	MinLen int    `json:"min_len,omitempty"`
	MaxLen int    `json:"max_len,omitempty"`
}

// Skill is an action a skill plugin runs for the bot.
type Skill struct {
	Name   string `json:"name"`
	Plugin string `json:"plugin"`
	// Skill is the plugin's skill name (default: Name).
	Skill string `json:"skill,omitempty"`
	// Input maps the skill's input fields to templates over the
	// conversation's variables ("{{last4}}").
	Input map[string]string `json:"input,omitempty"`
	// Timeout bounds one call (default 5s, at most 60s).
	Timeout Duration `json:"timeout,omitempty"`
}

// Flow is a small graph of steps. It starts at its first step; each step
// goes on to Next, or to the step after it.
type Flow struct {
	Name  string `json:"name"`
	Steps []Step `json:"steps"`
}

// Step is one node of a flow. It does exactly one thing: Send, Collect,
// Condition, Skill, KB, Set, Handover, End or Goto.
type Step struct {
	ID string `json:"id,omitempty"`
	// Send says a message (a template over the variables), with optional
	// quick-reply buttons.
	Send    string   `json:"send,omitempty"`
	Choices []string `json:"choices,omitempty"`
	// Collect fills these slots (a form): each missing slot is asked for
	// in turn, values the customer already gave are kept.
	Collect []string `json:"collect,omitempty"`
	// Condition branches on the variables: the first case whose If holds
	// goes to its Goto; else Else (or the next step).
	Condition []Case `json:"condition,omitempty"`
	Else      string `json:"else,omitempty"`
	// Skill calls a declared skill; its result is stored in the variable
	// Save (default: the skill's name). OnError is the step that runs if
	// the call fails or times out.
	Skill   string `json:"skill,omitempty"`
	Save    string `json:"save,omitempty"`
	OnError string `json:"on_error,omitempty"`
	// KB answers from the knowledge base; the question is a template
	// (default: the customer's last message). OnNoAnswer is the step for
	// when the knowledge base has nothing.
	KB         string `json:"kb,omitempty"`
	OnNoAnswer string `json:"on_no_answer,omitempty"`
	// Set assigns variables: name -> expression.
	Set map[string]string `json:"set,omitempty"`
	// Handover hands the conversation to the human queue, with this
	// reason.
	Handover string `json:"handover,omitempty"`
	// End ends the conversation with this outcome ("resolved", ...).
	End string `json:"end,omitempty"`
	// Goto jumps: "step_id" in this flow, or "flow:name" to another
	// flow.
	Goto string `json:"goto,omitempty"`
	// Next overrides the step that follows (same forms as Goto).
	Next string `json:"next,omitempty"`
}

// Case is one branch of a condition.
type Case struct {
	If   string `json:"if"`
	Goto string `json:"goto"`
}

// Handlers are the global handlers' messages. Empty fields take the
// defaults.
type Handlers struct {
	Fallback string `json:"fallback,omitempty"`
	// Handover is said when the conversation is handed over.
	Handover string `json:"handover,omitempty"`
	// Position is the waiting message; {{position}} is the place in the
	// queue.
	Position string `json:"position,omitempty"`
	Cancel   string `json:"cancel,omitempty"`
	Greeting string `json:"greeting,omitempty"`
	Goodbye  string `json:"goodbye,omitempty"`
	Thanks   string `json:"thanks,omitempty"`
	// SkillError is said when a skill fails and its step has no OnError.
	SkillError string `json:"skill_error,omitempty"`
	// NoAnswer is said when the knowledge base has no answer.
	NoAnswer string `json:"no_answer,omitempty"`
	// Unavailable is said when the bot is switched off mid-conversation.
	Unavailable string `json:"unavailable,omitempty"`
}

// Agentic lets a local language model choose the bot's next action.
type Agentic struct {
	Enabled bool `json:"enabled,omitempty"`
	// Timeout bounds one decision (default 4s); the built-in runtime
	// takes over when it passes.
	Timeout Duration `json:"timeout,omitempty"`
	// FreeText allows the model to write messages of its own (bounded);
	// without it the model only picks among the bot's actions.
	FreeText bool `json:"free_text,omitempty"`
	// Instructions are added to the model's system prompt.
	Instructions string `json:"instructions,omitempty"`
}

// Duration is a time.Duration written as a string ("5s", "10m").
type Duration time.Duration

// UnmarshalText parses a duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("duration %q: %w", b, err)
	}
	*d = Duration(v)
	return nil
}

// MarshalText writes the duration as a string.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalJSON accepts a duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration must be a string like \"5s\", got %s", b)
	}
	return d.UnmarshalText([]byte(s))
}

// Defaults of the settings.
const (
	DefaultFallbackLimit = 2
	DefaultMinPhrases    = 5
	DefaultIdleTimeout   = 10 * time.Minute
	DefaultMaxTurns      = 50
	DefaultRetries       = 2
	DefaultSkillTimeout  = 5 * time.Second
	MaxSkillTimeout      = 60 * time.Second
	DefaultAgentTimeout  = 4 * time.Second
)

// Default widget limits.
const (
	DefaultMessagesPerMinute    = 20
	DefaultSessionsPerMinute    = 10
	DefaultBotMessagesPerSecond = 200
	DefaultMaxSessions          = 2000
	DefaultMaxMessageChars      = 2000
)

// WithDefaults returns d with the defaults filled in where fields are
// zero. It never changes what a site set.
func (d Definition) WithDefaults() Definition {
	s := &d.Settings
	if s.FallbackLimit <= 0 {
		s.FallbackLimit = DefaultFallbackLimit
	}
	if s.MinPhrases <= 0 {
		s.MinPhrases = DefaultMinPhrases
	}
	if s.IdleTimeout <= 0 {
		s.IdleTimeout = Duration(DefaultIdleTimeout)
	}
	if s.MaxTurns <= 0 {
		s.MaxTurns = DefaultMaxTurns
	}
	w := &d.Widget
	if w.MessagesPerMinute <= 0 {
		w.MessagesPerMinute = DefaultMessagesPerMinute
	}
	if w.SessionsPerMinute <= 0 {
		w.SessionsPerMinute = DefaultSessionsPerMinute
	}
	if w.BotMessagesPerSecond <= 0 {
		w.BotMessagesPerSecond = DefaultBotMessagesPerSecond
	}
	if w.MaxSessions <= 0 {
		w.MaxSessions = DefaultMaxSessions
	}
	if w.MaxMessageChars <= 0 {
		w.MaxMessageChars = DefaultMaxMessageChars
	}
	if d.Language == "" {
		d.Language = "en"
	}
	if d.Agentic.Timeout <= 0 {
		d.Agentic.Timeout = Duration(DefaultAgentTimeout)
	}
	h := &d.Handlers
	def := func(p *string, v string) {
		if strings.TrimSpace(*p) == "" {
			*p = v
		}
	}
	def(&h.Fallback, "Sorry, I didn't understand that. Could you say it another way?")
	def(&h.Handover, "I'm passing you to a member of our team, who will see what we discussed.")
	def(&h.Position, "You are number {{position}} in the queue. Someone will be with you shortly.")
	def(&h.Cancel, "No problem, I've stopped that. Is there anything else I can help with?")
	def(&h.Greeting, "Hello! How can I help you today?")
	def(&h.Goodbye, "Thank you for chatting with us. Goodbye!")
	def(&h.Thanks, "You're welcome. Is there anything else I can help with?")
	def(&h.SkillError, "Sorry, I couldn't complete that just now.")
	def(&h.NoAnswer, "I couldn't find an answer to that in our help articles.")
	def(&h.Unavailable, "Our assistant is not available right now; I'm passing you to our team.")
	for i := range d.Slots {
		if d.Slots[i].Retries <= 0 {
			d.Slots[i].Retries = DefaultRetries
		}
	}
	for i := range d.Skills {
		if d.Skills[i].Skill == "" {
			d.Skills[i].Skill = d.Skills[i].Name
		}
		if d.Skills[i].Timeout <= 0 {
			d.Skills[i].Timeout = Duration(DefaultSkillTimeout)
		}
	}
	return d
}

// Format is the encoding of an imported or exported definition.
type Format string

// The formats.
const (
	JSON Format = "json"
	YAML Format = "yaml"
)

// MaxDefinitionBytes bounds one definition document.
const MaxDefinitionBytes = 4 << 20

// ErrFormat is wrapped by errors of Decode.
var ErrFormat = errors.New("bot: malformed definition")

// Decode reads a definition in format f (YAML or JSON; "" guesses from
// the first character). Unknown fields are errors naming the field (and
// the line, in YAML). It does not validate the bot: see Validate.
func Decode(data []byte, f Format) (Definition, error) {
	var d Definition
	if len(data) > MaxDefinitionBytes {
		return d, fmt.Errorf("%w: larger than %d bytes", ErrFormat, MaxDefinitionBytes)
	}
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return d, fmt.Errorf("%w: empty document", ErrFormat)
	}
	if f == "" {
		f = YAML
		if trimmed[0] == '{' {
			f = JSON
		}
	}
	switch f {
	case JSON:
		dec := json.NewDecoder(bytes.NewReader(trimmed))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&d); err != nil {
			return Definition{}, fmt.Errorf("%w: %v", ErrFormat, jsonError(err))
		}
		if dec.More() {
			return Definition{}, fmt.Errorf("%w: trailing data after the JSON document", ErrFormat)
		}
	case YAML:
		if err := yaml.UnmarshalWithOptions(trimmed, &d, yaml.Strict()); err != nil {
			return Definition{}, fmt.Errorf("%w: %s", ErrFormat, yaml.FormatError(err, false, false))
		}
	default:
		return d, fmt.Errorf("%w: unknown format %q (json or yaml)", ErrFormat, f)
	}
	return d, nil
}

func jsonError(err error) string {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		return fmt.Sprintf("field %q: expected %s, got %s", te.Field, te.Type, te.Value)
	case errors.As(err, &se):
		return fmt.Sprintf("malformed JSON at byte %d", se.Offset)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return "unknown field " + strings.TrimPrefix(err.Error(), "json: unknown field ")
	}
	return err.Error()
}

// Encode writes d in format f.
func Encode(d Definition, f Format) ([]byte, error) {
	raw, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("bot: encode definition: %w", err)
	}
	switch f {
	case JSON, "":
		return append(raw, '\n'), nil
	case YAML:
		out, err := yaml.JSONToYAML(raw)
		if err != nil {
			return nil, fmt.Errorf("bot: encode definition: %w", err)
		}
		return out, nil
	}
	return nil, fmt.Errorf("bot: unknown format %q (json or yaml)", f)
}
