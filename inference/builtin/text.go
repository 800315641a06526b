package builtin

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/earshot/earshot/inference"
	"github.com/earshot/earshot/inference/builtin/textclass"
)

// stopwords are English function words and dialogue fillers that never make
// keywords and carry no weight in sentence scoring (shared with topic
// discovery through textclass).
var stopwords = textclass.Stopwords()

// words lowercases text and splits it into letter/digit runs, keeping
// contractions together ("don't" -> "dont").
func words(text string) []string { return textclass.Tokens(text) }

func contentWords(ws []string) []string {
	out := ws[:0:0]
	for _, w := range ws {
		if !stopwords[w] && len(w) > 1 && !isNumber(w) {
			out = append(out, w)
		}
	}
	return out
}

func isNumber(w string) bool {
	for _, r := range w {
		if !unicode.IsDigit(r) {
			return false
		}
	}
	return true
}

// sentence is one sentence of one utterance.
type sentence struct {
	text    string
	party   inference.Party
	turn    int // utterance index
	startMS int64
	words   []string
	content []string
}

// splitSentences splits every utterance into sentences at ., ! and ?
// followed by a space (so "3.5" and "e.g." inside words stay whole).
func splitSentences(conv []inference.Utterance) []sentence {
	var out []sentence
	for i, u := range conv {
		text := strings.TrimSpace(u.Text)
		start := 0
		for j := 0; j < len(text); j++ {
			c := text[j]
			if (c == '.' || c == '!' || c == '?') && (j+1 == len(text) || text[j+1] == ' ') {
				out = appendSentence(out, text[start:j+1], u, i)
				start = j + 1
			}
		}
		if start < len(text) {
			out = appendSentence(out, text[start:], u, i)
		}
	}
	return out
}

func appendSentence(out []sentence, s string, u inference.Utterance, turn int) []sentence {
	s = strings.TrimSpace(s)
	if s == "" {
		return out
	}
	ws := words(s)
	if len(ws) == 0 {
		return out
	}
	return append(out, sentence{text: s, party: u.Party, turn: turn, startMS: u.StartMS, words: ws, content: contentWords(ws)})
}

// validateConv checks the fields an analyzer relies on.
func validateConv(conv []inference.Utterance) error {
	for i, u := range conv {
		switch u.Party {
		case inference.PartyCustomer, inference.PartyAgent, inference.PartyBot:
		default:
			return &ConvError{Index: i, Field: "party", Reason: "must be customer, agent or bot"}
		}
		if u.EndMS < u.StartMS {
			return &ConvError{Index: i, Field: "end_ms", Reason: "before start_ms"}
		}
	}
	return nil
}

// ConvError names the utterance and field a conversation was rejected for.
type ConvError struct {
	Index  int
	Field  string
	Reason string
}

func (e *ConvError) Error() string {
	return "builtin: utterance " + itoa(e.Index) + ": " + e.Field + " " + e.Reason
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	neg := i < 0
	if neg {
		i = -i
	}
	var b []byte
	for i > 0 {
		b = append([]byte{byte('0' + i%10)}, b...)
		i /= 10
	}
	if neg {
		b = append([]byte{'-'}, b...)
	}
	return string(b)
}

// capitalise upper-cases the first letter of t when only punctuation
// and spaces precede it ("¿me pueden" -> "¿Me pueden"), working on whole runes so
// that text in any script stays valid UTF-8.
func capitalise(t string) string {
	for i, r := range t {
		switch {
		case unicode.IsLetter(r):
			up := unicode.ToUpper(r)
			if up == r {
				return t
			}
			return t[:i] + string(up) + t[i+utf8.RuneLen(r):]
		case unicode.IsPunct(r) || unicode.IsSymbol(r) || unicode.IsSpace(r):
			continue
		default:
			return t
		}
	}
	return t
}

// truncate cuts t to at most n runes, ending with "…" when it cut.
func truncate(t string, n int) string {
	if utf8.RuneCountInString(t) <= n {
		return t
	}
	i, k := 0, 0
	for i = range t {
		if k == n {
			break
		}
		k++
	}
	return t[:i] + "…"
}
