package bot

import (
	"fmt"
	"strings"
	"time"

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
