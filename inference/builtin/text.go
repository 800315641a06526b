package builtin

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/earshot/earshot/inference"
	"github.com/earshot/earshot/inference/builtin/textclass"
)

// stopwords are English function words and dialogue fillers that never make
// keywords and carry no weight in sentence scoring.
var stopwords = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`a about above after again against all also am an and any are arent as at
	be because been before being below between both but by can cant could couldnt did didnt do does doesnt
	doing dont down during each few for from further had hadnt has hasnt have havent having he hed hell hes
	her here heres hers herself him himself his how hows i id ill im ive if in into is isnt it its itself
	lets me more most mustnt my myself no nor not of off on once only or other ought our ours ourselves out
	over own same shant she shed shell shes should shouldnt so some such than that thats the their theirs
	them themselves then there theres these they theyd theyll theyre theyve this those through to too under
	until up very was wasnt we wed well were weve werent what whats when whens where wheres which while who
	whos whom why whys with wont would wouldnt you youd youll youre youve your yours yourself yourselves
	yes yeah yep ok okay oh uh um hmm mm hi hello hey thanks thank please sure right just really like
	get got go going know think want see let say said tell told can will shall may might must one two
	thing things something anything lot bit way good great fine much many also actually maybe still
	now today mr mrs ms sir madam dear bye goodbye morning afternoon evening alright gonna wanna kind sort
	s t d ll m re ve don`) {
		m[w] = true
	}
	return m
}()

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
