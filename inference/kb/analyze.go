package kb

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// token is one analysed word: its normalised term and its position in the
// token stream (stop words keep their positions so phrases stay exact).
type token struct {
	term string
	pos  int
}

// maxTokenLen bounds one token; longer runs (base64, hashes) are dropped.
const maxTokenLen = 40

// stopWords are common English function words dropped from the index and
// from queries. The list is written for this package: short, and without
// words that carry meaning in a contact centre ("not", "no", "off", "on").
var stopWords = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`a an the and or but if then else of to in at by for with from
		as is are was were be been being am do does did doing have has had having i me my mine
		myself we us our ours you your yours he him his she her hers it its they them their theirs
		this that these those there here what which who whom whose when where why how can could
		would should shall will may might must so than too very just also about into over under
		again further once only own same such both each few more most other some any all s t
		d ll m re ve let get got please want need like would im ive id youre dont doesnt isnt
		yes ok okay hi hello thanks thank`) {
		m[w] = true
	}
	return m
}()

// words splits text into lower-case words: runs of letters and digits;
// apostrophes inside a word are dropped ("don't" -> "dont") and a final
// possessive "'s" is removed.
func words(text string, fn func(w string, pos int)) {
	var b strings.Builder
	pos := 0
	flush := func() {
		if b.Len() == 0 {
			return
		}
		w := b.String()
		b.Reset()
		if len(w) > maxTokenLen {
			pos++
			return
		}
		fn(w, pos)
		pos++
	}
	for i := 0; i < len(text); {
		r, size := utf8.DecodeRuneInString(text[i:])
		i += size
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(unicode.ToLower(r))
		case (r == '\'' || r == '’') && b.Len() > 0 && i < len(text):
			// Keep going inside a word; drop a possessive 's.
			next, _ := utf8.DecodeRuneInString(text[i:])
			if !unicode.IsLetter(next) {
				flush()
				continue
			}
			if next == 's' || next == 'S' {
				after := i + 1
				if after >= len(text) {
					flush()
					i = after
					continue
				}
				r2, _ := utf8.DecodeRuneInString(text[after:])
				if !unicode.IsLetter(r2) && !unicode.IsDigit(r2) {
					flush()
					i = after
					continue
				}
			}
		default:
			flush()
		}
	}
	flush()
}

// normalize maps one lower-case word to its index term: stemmed, with
// accents kept (the Porter stemmer leaves non-ASCII words alone).
func normalize(w string) string { return stem(w) }

// analyze turns text into index terms, dropping stop words.
func analyze(text string) []token {
	var out []token
	words(text, func(w string, pos int) {
		if stopWords[w] {
			return
		}
		out = append(out, token{term: normalize(w), pos: pos})
	})
	return out
}
