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

// analyzer turns text into index terms. It keeps a cache of stems, so one
// analyzer per goroutine (see Index.anPool) makes bulk indexing cheap. It
// is not safe for concurrent use.
type analyzer struct {
	stems map[string]string
	local map[string]uint32 // scratch for analysePassage
	buf   []byte
}

// maxStemCache bounds an analyzer's stem cache.
const maxStemCache = 200_000

func newAnalyzer() *analyzer {
	return &analyzer{stems: map[string]string{}, local: map[string]uint32{}}
}

// words calls fn for each lower-case word of text: runs of letters and
// digits; apostrophes inside a word are dropped ("don't" -> "dont") and a
// possessive "'s" is removed. pos counts every word, stop words included.
// The word passed to fn is only valid during the call.
func (an *analyzer) words(text string, fn func(w []byte, pos int)) {
	b := an.buf[:0]
	pos := 0
	flush := func() {
		if len(b) > 0 && len(b) <= maxTokenLen {
			fn(b, pos)
		}
		if len(b) > 0 {
			pos++
		}
		b = b[:0]
	}
	for i := 0; i < len(text); {
		c := text[i]
		if c < utf8.RuneSelf {
			i++
			switch {
			case 'a' <= c && c <= 'z' || '0' <= c && c <= '9':
				b = append(b, c)
			case 'A' <= c && c <= 'Z':
				b = append(b, c+'a'-'A')
			case c == '\'' && len(b) > 0:
				an.apostrophe(text, &i, flush)
			default:
				flush()
			}
			continue
		}
		r, size := utf8.DecodeRuneInString(text[i:])
		i += size
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			b = utf8.AppendRune(b, unicode.ToLower(r))
		case r == '’' && len(b) > 0:
			an.apostrophe(text, &i, flush)
		default:
			flush()
		}
	}
	flush()
	an.buf = b
}

// apostrophe handles an apostrophe inside a word at text[*i-1]: "'s" at a
// word end is dropped, an apostrophe before a letter is skipped (the word
// goes on), anything else ends the word.
func (an *analyzer) apostrophe(text string, i *int, flush func()) {
	if *i >= len(text) {
		flush()
		return
	}
	next, _ := utf8.DecodeRuneInString(text[*i:])
	if !unicode.IsLetter(next) {
		flush()
		return
	}
	if next == 's' || next == 'S' {
		after := *i + 1
		if after >= len(text) {
			flush()
			*i = after
			return
		}
		r2, _ := utf8.DecodeRuneInString(text[after:])
		if !unicode.IsLetter(r2) && !unicode.IsDigit(r2) {
			flush()
			*i = after
		}
	}
}

// each calls fn for every index term of text (stemmed, stop words dropped)
// with its position.
func (an *analyzer) each(text string, fn func(term string, pos int)) {
	an.words(text, func(w []byte, pos int) {
		if stopWords[string(w)] {
			return
		}
		if st, ok := an.stems[string(w)]; ok {
			fn(st, pos)
			return
		}
		word := string(w)
		st := stem(word)
		if len(an.stems) < maxStemCache {
			an.stems[word] = st
		}
		fn(st, pos)
	})
}

// analyze turns text into index terms, dropping stop words.
func analyze(text string) []token {
	var out []token
	newAnalyzer().each(text, func(term string, pos int) {
		out = append(out, token{term: term, pos: pos})
	})
	return out
}

// words calls fn with each lower-case word of text.
func words(text string, fn func(w string, pos int)) {
	newAnalyzer().words(text, func(w []byte, pos int) { fn(string(w), pos) })
}
