package tts

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Lexicon limits.
const (
	MaxLexiconEntries = 2000
	maxLexiconKey     = 64
	maxLexiconValue   = 200
)

// Lexicon is a bot's pronunciation lexicon: words and phrases (product
// names, acronyms) and how to say them, in words the engine reads well
// ("Earshot" "ear shot", "IBAN" "eye ban", "SMS" "S M S"). Matching is
// whole-word and case-insensitive; the longest entry wins where entries
// overlap. A Lexicon is immutable and safe for concurrent use.
type Lexicon struct {
	re   *regexp.Regexp
	says map[string]string
}

// NewLexicon compiles entries (written form -> spoken form).
func NewLexicon(entries map[string]string) (*Lexicon, error) {
	if len(entries) > MaxLexiconEntries {
		return nil, fmt.Errorf("tts: lexicon: %d entries, at most %d", len(entries), MaxLexiconEntries)
	}
	l := &Lexicon{says: make(map[string]string, len(entries))}
	if len(entries) == 0 {
		return l, nil
	}
	keys := make([]string, 0, len(entries))
	for k, v := range entries {
		k = strings.TrimSpace(k)
		switch {
		case k == "" || len(k) > maxLexiconKey || !utf8.ValidString(k):
			return nil, fmt.Errorf("tts: lexicon: entry %q: the written form must be 1..%d bytes of text", k, maxLexiconKey)
		case strings.TrimSpace(v) == "" || len(v) > maxLexiconValue || !utf8.ValidString(v):
			return nil, fmt.Errorf("tts: lexicon: entry %q: the spoken form must be 1..%d bytes of text", k, maxLexiconValue)
		}
		lk := strings.ToLower(k)
		if _, dup := l.says[lk]; dup {
			return nil, fmt.Errorf("tts: lexicon: entry %q is given twice (case does not matter)", k)
		}
		l.says[lk] = strings.TrimSpace(v)
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if len(keys[i]) != len(keys[j]) {
			return len(keys[i]) > len(keys[j])
		}
		return keys[i] < keys[j]
	})
	alts := make([]string, len(keys))
	for i, k := range keys {
		a := regexp.QuoteMeta(k)
		if r, _ := utf8.DecodeRuneInString(k); isWordRune(r) {
			a = `\b` + a
		}
		if r, _ := utf8.DecodeLastRuneInString(k); isWordRune(r) {
			a += `\b`
		}
		alts[i] = a
	}
	re, err := regexp.Compile(`(?i)(?:` + strings.Join(alts, "|") + `)`)
	if err != nil {
		return nil, fmt.Errorf("tts: lexicon: %w", err)
	}
	l.re = re
	return l, nil
}

func isWordRune(r rune) bool { return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) }

// Apply rewrites text with the lexicon.
func (l *Lexicon) Apply(text string) string {
	if l == nil || l.re == nil {
		return text
	}
	return l.re.ReplaceAllStringFunc(text, func(m string) string {
		if s, ok := l.says[strings.ToLower(m)]; ok {
			return s
		}
		return m
	})
}

// Len returns the number of entries.
func (l *Lexicon) Len() int {
	if l == nil {
		return 0
	}
	return len(l.says)
}
