package tts

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// DefaultMaxChunkChars bounds one synthesis call of Sentences' chunks.
const DefaultMaxChunkChars = 400

// Sentences splits text into chunks an engine synthesises one at a time:
// sentences (ending in '.', '!', '?', ';' or a line break, followed by
// space), each at most maxChars bytes (longer sentences are cut at the
// last comma or space before the limit). Engines synthesise chunk by
// chunk so that the first audio of a long prompt comes after its first
// sentence, not after the whole prompt, and so that a shared engine is
// released between chunks. Blank chunks are dropped.
func Sentences(text string, maxChars int) []string {
	if maxChars <= 0 {
		maxChars = DefaultMaxChunkChars
	}
	var out []string
	emit := func(s string) {
		s = strings.TrimSpace(s)
		for len(s) > maxChars {
			cut := cutPoint(s, maxChars)
			if c := strings.TrimSpace(s[:cut]); c != "" {
				out = append(out, c)
			}
			s = strings.TrimSpace(s[cut:])
		}
		if s != "" {
			out = append(out, s)
		}
	}
	start := 0
	for i := 0; i < len(text); {
		r, n := utf8.DecodeRuneInString(text[i:])
		i += n
		end := false
		switch r {
		case '\n':
			end = true
		case '.', '!', '?', ';', '。', '！', '？':
			// A full stop ends a sentence only before space or the end
			// ("3.5", "e.g.x" stay whole); an abbreviation such as "Mr."
			// may split, which costs a pause, not a word.
			if i >= len(text) {
				end = true
			} else {
				next, _ := utf8.DecodeRuneInString(text[i:])
				end = unicode.IsSpace(next) || r >= 0x3000
			}
		}
		if end {
			emit(text[start:i])
			start = i
		}
	}
	emit(text[start:])
	return out
}

// cutPoint returns where to cut s (len(s) > max): after the last comma,
// else the last space, else at a rune boundary at max.
func cutPoint(s string, max int) int {
	head := s[:max]
	if i := strings.LastIndexAny(head, ",:"); i > max/3 {
		return i + 1
	}
	if i := strings.LastIndexFunc(head, unicode.IsSpace); i > 0 {
		return i
	}
	for max > 0 && !utf8.RuneStart(s[max]) {
		max--
	}
	if max == 0 {
		_, n := utf8.DecodeRuneInString(s)
		return n
	}
	return max
}

// StripControl replaces control characters (but line breaks and tabs)
// and invalid UTF-8 with spaces: engines read them as words, or stop at
// a NUL.
func StripControl(text string) string {
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' {
			return r
		}
		if unicode.IsControl(r) || r == utf8.RuneError {
			return ' '
		}
		return r
	}, text)
}
