package pipeline

import (
	"fmt"
	"sort"
	"strings"
	"unicode"

	"github.com/earshot/earshot/media/stt"
)

// DefaultModeTriggers are the phrases with which an agent or a virtual
// agent asks for numbers or spelled codes.
func DefaultModeTriggers() map[stt.Mode][]string {
	return map[stt.Mode][]string{
		stt.ModeDigits: {"card number", "account number", "phone number", "telephone number", "sort code",
			"routing number", "member number", "policy number", "last four digits", "security code", "pin number"},
		stt.ModeLetters: {"spell that", "spell it", "spell your", "postcode", "post code", "reference code", "confirmation code"},
	}
}

// triggers matches normalised phrases, longest first.
type triggers []trigger

type trigger struct {
	phrase string // normalised: lower case words separated by one space
	mode   stt.Mode
}

func newTriggers(m map[stt.Mode][]string) (triggers, error) {
	var t triggers
	for mode, phrases := range m {
		if _, err := stt.ParseMode(string(mode)); err != nil {
			return nil, fmt.Errorf("pipeline: mode_triggers: %w", err)
		}
		for _, p := range phrases {
			n := normalise(p)
			if n == "" {
				return nil, fmt.Errorf("pipeline: mode_triggers: empty phrase for %s", mode)
			}
			t = append(t, trigger{phrase: n, mode: mode})
		}
	}
	sort.Slice(t, func(i, j int) bool {
		if len(t[i].phrase) != len(t[j].phrase) {
			return len(t[i].phrase) > len(t[j].phrase)
		}
		return t[i].phrase < t[j].phrase
	})
	return t, nil
}

// match returns the mode of the first trigger phrase found in text (as
// whole words).
func (t triggers) match(text string) (stt.Mode, bool) {
	if len(t) == 0 {
		return "", false
	}
	n := " " + normalise(text) + " "
	for _, tr := range t {
		if strings.Contains(n, " "+tr.phrase+" ") {
			return tr.mode, true
		}
	}
	return "", false
}

func normalise(s string) string {
	return strings.Join(strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '\''
	}), " ")
}
