package redact

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// token is one whitespace-delimited chunk of the input with its leading and
// trailing punctuation stripped (kept as flags), or the parts of a chunk
// joined by an apostrophe ("it's").
type token struct {
	start, end int    // byte offsets of the token (punctuation excluded)
	text       string // original text
	low        string // lower case
	// digits is the digit string a written number token carries
	// ("4111-1111" -> "41111111"); empty when the token has any other
	// character than digits and the separators '-', ' ' (none inside a
	// token) or when its shape marks it as something else (an amount, a
	// time, a decimal).
	digits string
	// shape of the token: 'd' digit, 'a' letter, other bytes kept
	// ("(555)" -> "ddd", "03/27" -> "dd/dd").
	shape string
	// pre and post are the punctuation stripped before and after.
	pre, post string
	// seg is the index of the input segment the token came from (streaming
	// joins two segments).
	seg int
}

// brk reports whether the punctuation after the token ends a clause: a
// run of digits or a spelled value does not continue past it.
func (t *token) brk() bool {
	return strings.ContainsAny(t.post, ".?!;:") && !strings.HasSuffix(t.post, "...")
}

// isWordChar reports whether r belongs inside a token.
func isWordChar(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r)
}

// tokenize splits s into tokens. seg is recorded on every token.
func tokenize(s string, seg int, out []token) []token {
	i := 0
	for i < len(s) {
		// skip spaces
		r, w := utf8.DecodeRuneInString(s[i:])
		if unicode.IsSpace(r) {
			i += w
			continue
		}
		// a chunk runs to the next space
		j := i
		for j < len(s) {
			r, w := utf8.DecodeRuneInString(s[j:])
			if unicode.IsSpace(r) {
				break
			}
			j += w
		}
		out = appendChunk(s, i, j, seg, out)
		i = j
	}
	return out
}

// appendChunk strips leading and trailing punctuation from s[i:j] and
// appends the token (or nothing when the chunk is punctuation only, which
// is then added to the previous token's post).
func appendChunk(s string, i, j, seg int, out []token) []token {
	a, b := i, j
	for a < b {
		r, w := utf8.DecodeRuneInString(s[a:])
		if isWordChar(r) || (r == '+' && a+w < b && isDigitByte(s[a+w])) {
			break
		}
		a += w
	}
	for b > a {
		r, w := utf8.DecodeLastRuneInString(s[a:b])
		if isWordChar(r) {
			break
		}
		b -= w
	}
	if a == b {
		if n := len(out); n > 0 {
			out[n-1].post += s[i:j]
		}
		return out
	}
	t := token{start: a, end: b, text: s[a:b], pre: s[i:a], post: s[b:j], seg: seg}
	t.low = lower(t.text)
	t.shape, t.digits = shapeOf(t.text)
	if strings.ContainsAny(t.pre, "$£€¥") || strings.HasPrefix(t.post, "%") {
		t.digits = "" // an amount or a percentage
	}
	return append(out, t)
}

func isDigitByte(c byte) bool { return c >= '0' && c <= '9' }

// lower is strings.ToLower without an allocation for ASCII lower case.
func lower(s string) string {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' || c >= 0x80 {
			return strings.ToLower(s)
		}
	}
	return s
}

// shapeOf returns the token's shape and, for number tokens, its digits.
// A number token is digits, optionally grouped by '-' ("4111-1111",
// "123-45-6789"); a leading '+' is allowed ("+44"). Amounts ("1,234.56"),
// decimals, times ("3:45") and dates ("03/27") have shapes of their own
// and no digits.
func shapeOf(s string) (shape, digits string) {
	var sb, db []byte
	var sbuf, dbuf [32]byte
	sb, db = sbuf[:0], dbuf[:0]
	onlyNum := true
	for i := 0; i < len(s); {
		r, w := utf8.DecodeRuneInString(s[i:])
		switch {
		case r >= '0' && r <= '9':
			sb = append(sb, 'd')
			db = append(db, byte(r))
		case unicode.IsLetter(r):
			sb = append(sb, 'a')
			onlyNum = false
		case r == '-':
			sb = append(sb, '-')
		case r == '+' && i == 0:
			sb = append(sb, '+')
		default:
			if r < utf8.RuneSelf {
				sb = append(sb, byte(r))
			} else {
				sb = append(sb, '?')
			}
			onlyNum = false
		}
		i += w
	}
	if onlyNum && len(db) > 0 {
		return string(sb), string(db)
	}
	return string(sb), ""
}

// Number words. Values 0-9 are digits, 10-19 teens, 20-90 tens.
var unitWords = map[string]int{
	"zero": 0, "oh": 0, "o": 0, "nought": 0, "naught": 0, "nil": 0,
	"one": 1, "two": 2, "three": 3, "four": 4, "five": 5,
	"six": 6, "seven": 7, "eight": 8, "nine": 9,
	// recogniser homophones: only inside a run (see ambiguous)
	"for": 4, "to": 2, "too": 2, "ate": 8, "won": 1, "tree": 3, "fore": 4, "niner": 9, "mine": 9, "fire": 5,
}

// ambiguous number words are ordinary words as often as digits: they
// extend a run of digits but do not start or end one on their own.
var ambiguous = map[string]bool{"oh": true, "o": true, "for": true, "to": true, "too": true,
	"ate": true, "won": true, "tree": true, "fore": true, "nil": true, "mine": true, "fire": true}

var teenWords = map[string]int{
	"ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
	"fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
}

var tensWords = map[string]int{
	"twenty": 20, "thirty": 30, "forty": 40, "fourty": 40, "fifty": 50,
	"sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90,
}

// ordinalWords are the day numbers of spoken dates ("fourteenth").
var ordinalWords = map[string]int{
	"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6,
	"seventh": 7, "eighth": 8, "ninth": 9, "tenth": 10, "eleventh": 11,
	"twelfth": 12, "thirteenth": 13, "fourteenth": 14, "fifteenth": 15,
	"sixteenth": 16, "seventeenth": 17, "eighteenth": 18, "nineteenth": 19,
	"twentieth": 20, "thirtieth": 30,
}

// fillers may sit inside a spoken number without breaking it.
var fillers = map[string]bool{"uh": true, "um": true, "er": true, "erm": true, "ah": true,
	"hmm": true, "mm": true, "uhm": true, "dash": true, "hyphen": true}

// letterWords maps how a recogniser writes a spelled letter to the letter.
// Used only where a spelled value is expected (after "national insurance",
// "iban", "postcode"), never to find one.
var letterWords = map[string]byte{
	"a": 'a', "ay": 'a', "eh": 'a', "b": 'b', "be": 'b', "bee": 'b', "c": 'c', "see": 'c', "sea": 'c',
	"d": 'd', "dee": 'd', "e": 'e', "f": 'f', "eff": 'f', "g": 'g', "gee": 'g', "h": 'h', "aitch": 'h',
	"i": 'i', "eye": 'i', "j": 'j', "jay": 'j', "k": 'k', "kay": 'k', "l": 'l', "el": 'l', "ell": 'l',
	"m": 'm', "em": 'm', "n": 'n', "en": 'n', "p": 'p', "pee": 'p', "pea": 'p', "q": 'q', "queue": 'q',
	"cue": 'q', "r": 'r', "are": 'r', "ar": 'r', "s": 's', "es": 's', "ess": 's', "t": 't', "tee": 't',
	"tea": 't', "u": 'u', "you": 'u', "v": 'v', "vee": 'v', "w": 'w', "x": 'x', "ex": 'x', "y": 'y',
	"why": 'y', "z": 'z', "zed": 'z', "zee": 'z',
}
