package bot

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/earshot/earshot/inference/bot/nlu"
	"github.com/earshot/earshot/inference/bot/slots"
)

// Voice configures how a bot answers calls (SIP, Twilio, browser voice).
// Zero values take the voice runtime's defaults.
type Voice struct {
	// Engine names the speech synthesiser ("flite", "espeak-ng",
	// "tts-http"); empty for the site's default. Voice is one of its
	// voices (e.g. "cmu_us_slt"); Lang the language spoken (default the
	// bot's).
	Engine string `json:"engine,omitempty"`
	Voice  string `json:"voice,omitempty"`
	Lang   string `json:"lang,omitempty"`
	// Lexicon respells words for the synthesiser (product names,
	// acronyms): {"IBAN": "eye ban"}.
	Lexicon map[string]string `json:"lexicon,omitempty"`
	// EndOfTurn is the caller's silence that ends their turn (default
	// 700ms).
	EndOfTurn Duration `json:"end_of_turn,omitempty"`
	// NoInput is how long the bot waits for an answer after a prompt
	// (default 6s); NoInputRetries reprompts follow (default 2) with
	// NoInputPrompt, then the call is handed over with reason "no_input"
	// (or ended, NoInputEnd "end").
	NoInput        Duration `json:"no_input,omitempty"`
	NoInputRetries *int     `json:"no_input_retries,omitempty"`
	NoInputPrompt  string   `json:"no_input_prompt,omitempty"`
	NoInputEnd     string   `json:"no_input_end,omitempty"`
	// BargeIn lets the caller interrupt prompts (default true).
	BargeIn *bool `json:"barge_in,omitempty"`
}

// SlotDTMF lets a caller key a slot's value on the phone's keypad.
type SlotDTMF struct {
	// Max ends the input at this many digits (0: the terminator or a
	// pause ends it); Terminator ends it ("#" if empty, "none" for no
	// terminator).
	Max        int    `json:"max,omitempty"`
	Terminator string `json:"terminator,omitempty"`
}

// checkVoice reports the problems of a bot's voice settings and its
// slots' DTMF settings.
func (c *checker) checkVoice(d Definition) {
	v := d.Voice
	if v != nil {
		for w, say := range v.Lexicon {
			if strings.TrimSpace(w) == "" || strings.TrimSpace(say) == "" {
				c.add("voice.lexicon", CodeInvalid, "has an empty word or pronunciation")
			}
		}
		if len(v.Lexicon) > 1000 {
			c.add("voice.lexicon", CodeInvalid, "has more than 1000 entries")
		}
		if t := time.Duration(v.EndOfTurn); t < 0 || t > 10*time.Second {
			c.add("voice.end_of_turn", CodeInvalid, "must be within 0-10s")
		}
		if t := time.Duration(v.NoInput); t != 0 && (t < time.Second || t > time.Minute) {
			c.add("voice.no_input", CodeInvalid, "must be within 1s-1m")
		}
		if n := v.NoInputRetries; n != nil && (*n < 0 || *n > 10) {
			c.add("voice.no_input_retries", CodeInvalid, "must be within 0-10")
		}
		if v.NoInputEnd != "" && v.NoInputEnd != "handover" && v.NoInputEnd != "end" {
			c.add("voice.no_input_end", CodeInvalid, "must be handover or end")
		}
		c.text("voice.no_input_prompt", v.NoInputPrompt, false)
	}
	for i, sl := range d.Slots {
		if sl.DTMF == nil {
			continue
		}
		path := fmt.Sprintf("slots[%d].dtmf", i)
		if sl.DTMF.Max < 0 || sl.DTMF.Max > 64 {
			c.add(path+".max", CodeInvalid, "must be within 0-64")
		}
		switch t := sl.DTMF.Terminator; t {
		case "", "none", "#", "*":
		default:
			c.add(path+".terminator", CodeInvalid, "must be #, * or none")
		}
	}
}

// Asking returns the slot the session waits for (its name, type and DTMF
// settings), or ok false when it asks for none.
func (s *Session) Asking() (name string, typ slots.Type, dtmf *SlotDTMF, ok bool) {
	if s.mode != modeCollecting || s.asking == "" {
		return "", "", nil, false
	}
	sl := s.e.prog.slots[s.asking]
	if sl == nil {
		return "", "", nil, false
	}
	return sl.Name, sl.Type, sl.DTMF, true
}

// StaticPrompts returns the bot's messages whose wording is fixed in its
// definition (the greeting, the handlers' messages, slot prompts and
// reprompts, and steps' messages), as a session says them: a voice
// synthesises them ahead of calls and caches their audio. Messages with
// variables other than the bot's name are left out (they may carry
// customer data). Sorted, without duplicates.
func (e *Engine) StaticPrompts() []string {
	def := e.prog.def
	vars := Vars{"bot_name": def.Name}
	h := def.Handlers
	texts := []string{def.Greeting, h.Fallback, h.Handover, h.Cancel, h.Greeting, h.Goodbye, h.Thanks,
		h.SkillError, h.NoAnswer, h.Unavailable}
	for _, sl := range def.Slots {
		texts = append(texts, sl.Prompt, sl.Reprompt)
	}
	for _, f := range def.Flows {
		for _, st := range f.Steps {
			texts = append(texts, st.Send)
		}
	}
	seen := map[string]bool{}
	var out []string
	for _, t := range texts {
		static := true
		for _, m := range templateVarRE.FindAllStringSubmatch(t, -1) {
			static = static && m[1] == "bot_name"
		}
		if t = strings.TrimSpace(render(t, vars)); t == "" || !static || seen[t] {
			continue
		}
		seen[t] = true
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}

// Waiting is what a session waits for from the customer.
type Waiting string

// What a session may wait for.
const (
	// WaitingIntent: a new request (no slot is asked for).
	WaitingIntent Waiting = "intent"
	// WaitingSlot: the answer to a slot's prompt.
	WaitingSlot Waiting = "slot"
	// WaitingNothing: the conversation was handed over or ended.
	WaitingNothing Waiting = ""
)

// Peek is what a session would make of a message at its current step,
// found without acting on it.
type Peek struct {
	Waiting Waiting
	// HumanRequest: the message asks for a person (the hand-over handler
	// answers it at any step).
	HumanRequest bool
	// Intent is the intent detector's reading, when the session waits for
	// an intent and no global handler takes the message.
	Intent *nlu.Result
	// Answer is the intent's answer kind: "flow" or "kb" (the knowledge
	// base answers the whole message).
	Answer string
}

// Peek reads text as Handle would at the session's current step,
// without changing the session (no state, statistics, history or
// metrics): a voice call asks it about a partial hypothesis to decide
// whether acting before the caller has finished is safe. The agentic
// model is never asked.
func (s *Session) Peek(text string) Peek {
	var p Peek
	switch {
	case !s.Active():
		return p
	case s.mode == modeCollecting:
		p.Waiting = WaitingSlot
	default:
		p.Waiting = WaitingIntent
	}
	text = slots.Clean(text)
	if r := []rune(text); len(r) > s.e.cfg.MaxInputChars {
		text = string(r[:s.e.cfg.MaxInputChars])
	}
	if text == "" {
		return p
	}
	g := detectGlobal(text)
	p.HumanRequest = g == globalHuman
	if g != globalNone || p.Waiting != WaitingIntent {
		return p
	}
	r := s.e.classify(text)
	p.Intent = &r
	if it := s.e.prog.intents[r.Intent]; r.InScope && it != nil {
		p.Answer = "flow"
		if it.Answer == "kb" {
			p.Answer = "kb"
		}
	}
	return p
}
