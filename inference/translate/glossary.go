package translate

import (
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Term is one glossary entry: a product name or term that is never
// translated (Fixed empty), or translated a fixed way per target language.
type Term struct {
	// Text is the term as written in messages; matching ignores case and
	// requires word boundaries.
	Text string `json:"text"`
	// Fixed maps a target language to the term's translation; a language
	// missing from it keeps Text as written.
	Fixed map[Lang]string `json:"fixed,omitempty"`
}

// Glossary is a site's list of terms, applied to every engine: before
// translation each occurrence is replaced by a placeholder that engines
// pass through unchanged, and after it the placeholder becomes the term
// (or its fixed translation). A Glossary is immutable once built.
type Glossary struct {
	terms []Term // longest first, so that "Banco Norte Plus" wins over "Banco Norte"
}

// Glossary limits: a term is at most 100 characters, a glossary at most
// 1000 terms.
const (
	maxTermLen   = 100
	maxTermCount = 1000
)

// NewGlossary checks terms and builds a glossary.
func NewGlossary(terms []Term) (*Glossary, error) {
	if len(terms) > maxTermCount {
		return nil, fmt.Errorf("glossary: %d terms, at most %d", len(terms), maxTermCount)
	}
	seen := map[string]bool{}
	g := &Glossary{}
	for i, t := range terms {
		t.Text = strings.TrimSpace(t.Text)
		switch {
		case t.Text == "":
			return nil, fmt.Errorf("glossary[%d].text is empty", i)
		case utf8.RuneCountInString(t.Text) > maxTermLen:
			return nil, fmt.Errorf("glossary[%d].text is longer than %d characters", i, maxTermLen)
		case strings.IndexFunc(t.Text, func(r rune) bool { return !printable(r) || r == '\n' || r == '\t' }) >= 0:
			return nil, fmt.Errorf("glossary[%d].text has control characters", i)
		case seen[strings.ToLower(t.Text)]:
			return nil, fmt.Errorf("glossary[%d].text %q is listed twice", i, t.Text)
		}
		for l, f := range t.Fixed {
			if !l.Known() {
				return nil, fmt.Errorf("glossary[%d].fixed: unknown language %q", i, l)
			}
			if strings.TrimSpace(f) == "" || utf8.RuneCountInString(f) > maxTermLen {
				return nil, fmt.Errorf("glossary[%d].fixed.%s must be 1..%d characters", i, l, maxTermLen)
			}
		}
		seen[strings.ToLower(t.Text)] = true
		g.terms = append(g.terms, t)
	}
	slices.SortStableFunc(g.terms, func(a, b Term) int { return len(b.Text) - len(a.Text) })
	return g, nil
}

// Len returns the number of terms.
func (g *Glossary) Len() int {
	if g == nil {
		return 0
	}
	return len(g.terms)
}

// Placeholders are made of letters only, so that every engine keeps them
// as one unknown word: "Zxq", the index in base 25 written with the letters
// other than q, and a closing "q". No placeholder is a part of another, and
// no common word of the supported languages contains "zxq".
const placeholderStem = "Zxq"

const placeholderDigits = "abcdefghijklmnoprstuvwxyz"

func placeholder(i int) string {
	var digits []byte
	for {
		digits = append(digits, placeholderDigits[i%25])
		i /= 25
		if i == 0 {
			break
		}
	}
	slices.Reverse(digits)
	return placeholderStem + string(digits) + "q"
}

// protected is a text with its glossary terms replaced.
type protected struct {
	text  string
	terms []protectedTerm
}

type protectedTerm struct {
	placeholder string
	original    string // as written in the message
	term        *Term
}

// protect replaces every glossary term (and every pre-existing placeholder
// look-alike, so that a customer cannot forge one) in text.
func (g *Glossary) protect(text string) protected {
	p := protected{text: text}
	if g.Len() == 0 && !strings.Contains(strings.ToLower(text), strings.ToLower(placeholderStem)) {
		return p
	}
	var b strings.Builder
	lower := strings.ToLower(text)
	for i := 0; i < len(text); {
		if m := g.match(text, lower, i); m != nil {
			ph := placeholder(len(p.terms))
			p.terms = append(p.terms, protectedTerm{placeholder: ph, original: text[i : i+len(m.Text)], term: m})
			b.WriteString(ph)
			i += len(m.Text)
			continue
		}
		if strings.HasPrefix(lower[i:], strings.ToLower(placeholderStem)) && boundaryBefore(text, i) {
			// Protect the look-alike word itself, so that restore cannot
			// confuse it with a real placeholder.
			j := i
			for j < len(text) {
				r, n := utf8.DecodeRuneInString(text[j:])
				if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
					break
				}
				j += n
			}
			ph := placeholder(len(p.terms))
			p.terms = append(p.terms, protectedTerm{placeholder: ph, original: text[i:j]})
			b.WriteString(ph)
			i = j
			continue
		}
		_, n := utf8.DecodeRuneInString(text[i:])
		b.WriteString(text[i : i+n])
		i += n
	}
	p.text = b.String()
	return p
}

// match returns the longest term that starts at byte i of text on word
// boundaries. lower is strings.ToLower(text); terms are compared case-
// insensitively, and ToLower keeps byte offsets for the scripts of the
// supported languages.
func (g *Glossary) match(text, lower string, i int) *Term {
	if g == nil || len(lower) != len(text) || !boundaryBefore(text, i) {
		return nil
	}
	for k := range g.terms {
		t := &g.terms[k]
		n := len(t.Text)
		if i+n <= len(text) && lower[i:i+n] == strings.ToLower(t.Text) && boundaryAfter(text, i+n) {
			return t
		}
	}
	return nil
}

func isWordRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

func boundaryBefore(s string, i int) bool {
	if i == 0 {
		return true
	}
	r, _ := utf8.DecodeLastRuneInString(s[:i])
	return !isWordRune(r)
}

func boundaryAfter(s string, i int) bool {
	if i >= len(s) {
		return true
	}
	r, _ := utf8.DecodeRuneInString(s[i:])
	return !isWordRune(r)
}

// restore puts the terms back into a translation into to. It reports false
// when the engine lost or duplicated a placeholder; the caller then treats
// the translation as failed. All placeholders are found before any is
// replaced, so a restored term cannot be mistaken for a placeholder.
func (p protected) restore(translated string, to Lang) (string, bool) {
	if len(p.terms) == 0 {
		return translated, true
	}
	search, folded := strings.ToLower(translated), true
	if len(search) != len(translated) {
		// Lower-casing changed byte offsets: match case as written.
		search, folded = translated, false
	}
	type hit struct {
		at, n int
		repl  string
	}
	hits := make([]hit, 0, len(p.terms))
	for _, t := range p.terms {
		ph := t.placeholder
		if folded {
			ph = strings.ToLower(ph)
		}
		if strings.Count(search, ph) != 1 {
			return "", false
		}
		repl := t.original
		if t.term != nil {
			if f, ok := t.term.Fixed[to]; ok {
				repl = f
			}
		}
		hits = append(hits, hit{strings.Index(search, ph), len(ph), repl})
	}
	slices.SortFunc(hits, func(a, b hit) int { return a.at - b.at })
	var b strings.Builder
	last := 0
	for _, h := range hits {
		b.WriteString(translated[last:h.at])
		b.WriteString(h.repl)
		last = h.at + h.n
	}
	b.WriteString(translated[last:])
	return b.String(), true
}
