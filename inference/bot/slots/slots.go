// Package slots holds the virtual agent's built-in entity and slot
// extractors: numbers, amounts with a currency, dates and times resolved
// against the conversation's date, email addresses, phone numbers, the last
// four digits of a card, account numbers by pattern, yes/no, a choice from a
// list, and free text with an optional regular expression. Each extractor
// finds a value in one customer message; Spec.Check then applies the slot's
// own validation (bounds, pattern, length).
//
// Extractors are pure functions of the text and the reference time: they
// keep no state and are safe for concurrent use. They never log what they
// read.
package slots

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Type names a built-in extractor.
type Type string

// The slot types.
const (
	Number        Type = "number"
	Amount        Type = "amount"
	Date          Type = "date"
	Time          Type = "time"
	Email         Type = "email"
	Phone         Type = "phone"
	CardLast4     Type = "card_last4"
	AccountNumber Type = "account_number"
	YesNo         Type = "yes_no"
	Choice        Type = "choice"
	Text          Type = "text"
)

// Types lists every slot type, in documentation order.
var Types = []Type{Number, Amount, Date, Time, Email, Phone, CardLast4, AccountNumber, YesNo, Choice, Text}

// Valid reports whether t is a known type.
func (t Type) Valid() bool { return slices.Contains(Types, t) }

// Option is one value of a choice slot and the words that name it.
type Option struct {
	Value    string   `json:"value" yaml:"value"`
	Synonyms []string `json:"synonyms,omitempty" yaml:"synonyms,omitempty"`
}

// Spec is what a slot's extractor and validation need. Build it with
// Compile, which checks it.
type Spec struct {
	Type Type
	// Options are the values of a choice slot.
	Options []Option
	// Pattern is an account number's pattern, or the regular expression a
	// text slot must match (its first capture group, when it has one, is
	// the value).
	Pattern *regexp.Regexp
	// Min and Max bound numbers and amounts.
	Min, Max *float64
	// Currencies, when set, are the ISO 4217 codes an amount may have;
	// DefaultCurrency is used when the customer names none.
	Currencies      []string
	DefaultCurrency string
	// Dates: "past" or "future" resolves a date without a year (or a
	// weekday) to the nearest one on that side of the reference; "" picks
	// the nearest either way.
	Dates string
	// MinLen and MaxLen bound a text value in characters.
	MinLen, MaxLen int
}

// Value is an extracted slot value. Kind is the slot type; the other
// fields hold what the type gives.
type Value struct {
	Kind Type `json:"kind"`
	// Text is the canonical form: "42", "94.00 USD", "2019-11-06",
	// "15:30", "name@example.com", "+19776252661", "1234", "yes", the
	// chosen option's value, or the text itself.
	Text     string  `json:"text"`
	Num      float64 `json:"num,omitempty"`
	Currency string  `json:"currency,omitempty"`
	Bool     bool    `json:"bool,omitempty"`
}

// Any returns the value as a variable for conditions: a float64 for
// numbers and amounts, a bool for yes/no, a string otherwise.
func (v Value) Any() any {
	switch v.Kind {
	case Number, Amount:
		return v.Num
	case YesNo:
		return v.Bool
	}
	return v.Text
}

// ErrInvalid is wrapped by the errors of Check.
var ErrInvalid = errors.New("slots: invalid value")

// Check applies the slot's validation to an extracted value.
func (s *Spec) Check(v Value) error {
	switch s.Type {
	case Number, Amount:
		if s.Min != nil && v.Num < *s.Min {
			return fmt.Errorf("%w: %s is below %s", ErrInvalid, v.Text, fmtNum(*s.Min))
		}
		if s.Max != nil && v.Num > *s.Max {
			return fmt.Errorf("%w: %s is above %s", ErrInvalid, v.Text, fmtNum(*s.Max))
		}
		if s.Type == Amount && len(s.Currencies) > 0 && !slices.Contains(s.Currencies, v.Currency) {
			return fmt.Errorf("%w: currency %s is not accepted", ErrInvalid, v.Currency)
		}
	case Text:
		n := utf8.RuneCountInString(v.Text)
		if s.MinLen > 0 && n < s.MinLen {
			return fmt.Errorf("%w: shorter than %d characters", ErrInvalid, s.MinLen)
		}
		if s.MaxLen > 0 && n > s.MaxLen {
			return fmt.Errorf("%w: longer than %d characters", ErrInvalid, s.MaxLen)
		}
	}
	return nil
}

func fmtNum(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// Extract finds a value of the slot's type in text, resolving dates and
// times against ref (the conversation's date, in its time zone). ok is
// false when the text holds none.
func (s *Spec) Extract(text string, ref time.Time) (v Value, ok bool) {
	text = clean(text)
	if text == "" {
		return Value{}, false
	}
	switch s.Type {
	case Number:
		n, ok := findNumber(text)
		return Value{Kind: Number, Text: fmtNum(n), Num: n}, ok
	case Amount:
		return s.amount(text)
	case Date:
		d, ok := findDate(text, ref, s.Dates)
		return Value{Kind: Date, Text: d.Format("2006-01-02")}, ok
	case Time:
		h, m, ok := findTime(text)
		return Value{Kind: Time, Text: fmt.Sprintf("%02d:%02d", h, m)}, ok
	case Email:
		m := emailRE.FindString(text)
		return Value{Kind: Email, Text: strings.ToLower(m)}, m != ""
	case Phone:
		p, ok := findPhone(text)
		return Value{Kind: Phone, Text: p}, ok
	case CardLast4:
		l, ok := findLast4(text)
		return Value{Kind: CardLast4, Text: l}, ok
	case AccountNumber:
		return s.account(text)
	case YesNo:
		b, ok := findYesNo(text)
		t := "no"
		if b {
			t = "yes"
		}
		return Value{Kind: YesNo, Text: t, Bool: b}, ok
	case Choice:
		c, ok := findChoice(text, s.Options)
		return Value{Kind: Choice, Text: c}, ok
	case Text:
		return s.freeText(text)
	}
	return Value{}, false
}

// clean drops control characters (keeping spaces), folds runs of white
// space and trims.
func clean(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, " ")
	}
	var b strings.Builder
	space := false
	for _, r := range s {
		switch {
		case unicode.IsSpace(r):
			space = true
		case unicode.IsControl(r) || unicode.Is(unicode.Cf, r):
			continue
		default:
			if space && b.Len() > 0 {
				b.WriteByte(' ')
			}
			space = false
			b.WriteRune(r)
		}
	}
	return b.String()
}

// Clean is the text normalisation every extractor applies first: control
// and format characters removed, white space folded, invalid UTF-8
// replaced. The runtime uses it on every customer message.
func Clean(s string) string { return clean(s) }

// words lowercases and splits text into words of letters, digits and the
// characters that stay inside them (apostrophes, hyphens, dots in
// numbers).
func words(text string) []string {
	var out []string
	var b strings.Builder
	flush := func() {
		if b.Len() > 0 {
			out = append(out, strings.Trim(b.String(), ".'-"))
			b.Reset()
		}
	}
	for _, r := range strings.ToLower(text) {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		case (r == '\'' || r == '’' || r == '-' || r == '.') && b.Len() > 0:
			if r == '’' {
				r = '\''
			}
			b.WriteRune(r)
		default:
			flush()
		}
	}
	flush()
	return slices.DeleteFunc(out, func(w string) bool { return w == "" })
}

var smallNumbers = map[string]int{
	"zero": 0, "oh": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
	"eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
	"fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
}

var tens = map[string]int{
	"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90,
}

var digitRE = regexp.MustCompile(`[-+]?\d[\d,]*(?:\.\d+)?`)

// findNumber returns the first number written in digits ("1,250.5") or
// in words ("twenty three", "two hundred and five").
func findNumber(text string) (float64, bool) {
	if m := digitRE.FindString(text); m != "" {
		if f, err := strconv.ParseFloat(strings.ReplaceAll(m, ",", ""), 64); err == nil && !math.IsInf(f, 0) {
			return f, true
		}
	}
	ws := words(text)
	for i := range ws {
		if n, _, ok := wordNumber(ws, i); ok {
			return float64(n), true
		}
	}
	return 0, false
}

// wordNumber parses a number in words starting at ws[i] and returns it
// and the index after it.
func wordNumber(ws []string, i int) (int, int, bool) {
	total, cur, j, any := 0, 0, i, false
	for ; j < len(ws); j++ {
		w := ws[j]
		switch {
		case smallNumbers[w] > 0 || w == "zero":
			if w == "oh" {
				return 0, i, false
			}
			cur += smallNumbers[w]
		case tens[w] > 0:
			cur += tens[w]
		case w == "hundred" && any:
			cur *= 100
		case w == "thousand" && any:
			total += cur * 1000
			cur = 0
		case w == "and" && any && j+1 < len(ws) && (smallNumbers[ws[j+1]] > 0 || tens[ws[j+1]] > 0):
			continue
		default:
			if !any {
				return 0, i, false
			}
			return total + cur, j, true
		}
		any = true
	}
	return total + cur, j, any
}

var (
	currencySymbols = map[string]string{"$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY"}
	currencyWords   = map[string]string{
		"dollar": "USD", "dollars": "USD", "usd": "USD", "bucks": "USD", "euro": "EUR", "euros": "EUR", "eur": "EUR",
		"pound": "GBP", "pounds": "GBP", "gbp": "GBP", "quid": "GBP", "yen": "JPY", "jpy": "JPY",
		"franc": "CHF", "francs": "CHF", "chf": "CHF", "cad": "CAD", "aud": "AUD",
	}
	amountRE = regexp.MustCompile(`(?i)([$€£¥])\s*(\d[\d,]*(?:\.\d{1,2})?)|(\d[\d,]*(?:[.,]\d{1,2})?)\s*([a-z]{3,7}|[$€£¥])?`)
)

func (s *Spec) amount(text string) (Value, bool) {
	for _, m := range amountRE.FindAllStringSubmatch(text, -1) {
		var num, cur string
		switch {
		case m[1] != "":
			num, cur = m[2], currencySymbols[m[1]]
		default:
			num = m[3]
			if sym, ok := currencySymbols[m[4]]; ok {
				cur = sym
			} else if c, ok := currencyWords[strings.ToLower(m[4])]; ok {
				cur = c
			} else if m[4] != "" && !isWordBoundaryUnit(m[4]) {
				continue // "3 cards" is not an amount
			}
		}
		// A decimal comma ("12,50 EUR") when there is no dot and two
		// digits follow the comma.
		if i := strings.LastIndexByte(num, ','); i >= 0 && !strings.Contains(num, ".") && len(num)-i-1 == 2 {
			num = num[:i] + "." + num[i+1:]
		}
		f, err := strconv.ParseFloat(strings.ReplaceAll(num, ",", ""), 64)
		if err != nil || math.IsInf(f, 0) {
			continue
		}
		if cur == "" {
			cur = s.DefaultCurrency
		}
		return Value{Kind: Amount, Text: fmt.Sprintf("%.2f %s", f, cur), Num: f, Currency: cur}, true
	}
	// Words: "fifty dollars".
	ws := words(text)
	for i := range ws {
		if n, j, ok := wordNumber(ws, i); ok {
			cur := s.DefaultCurrency
			if j < len(ws) {
				if c, ok := currencyWords[ws[j]]; ok {
					cur = c
				}
			}
			return Value{Kind: Amount, Text: fmt.Sprintf("%.2f %s", float64(n), cur), Num: float64(n), Currency: cur}, true
		}
	}
	return Value{}, false
}

// isWordBoundaryUnit reports whether the word after a number leaves it a
// plain amount ("50 please").
func isWordBoundaryUnit(w string) bool {
	switch strings.ToLower(w) {
	case "please", "thanks", "only", "total", "exactly", "and", "or", "but", "for", "on", "in", "to":
		return true
	}
	return false
}

var emailRE = regexp.MustCompile(`(?i)[a-z0-9._%+\-]+@[a-z0-9](?:[a-z0-9\-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9\-]*[a-z0-9])?)*\.[a-z]{2,}`)

var phoneRE = regexp.MustCompile(`\+?\(?\d[\d\s().\-]{5,20}\d`)

// findPhone returns a phone number's digits, with a leading + when the
// customer gave one: 7 to 15 digits.
func findPhone(text string) (string, bool) {
	for _, m := range phoneRE.FindAllString(text, -1) {
		var b strings.Builder
		if strings.HasPrefix(m, "+") {
			b.WriteByte('+')
		}
		n := 0
		for _, r := range m {
			if r >= '0' && r <= '9' {
				b.WriteRune(r)
				n++
			}
		}
		if n >= 7 && n <= 15 {
			return b.String(), true
		}
	}
	return "", false
}

var (
	last4Context = regexp.MustCompile(`(?i)(?:ending(?:\s+(?:in|with))?|ends\s+(?:in|with)|last\s+(?:four|4)(?:\s+digits)?(?:\s+(?:are|is))?|\*{2,}|x{4,})\s*[:\-]?\s*(\d{4})\b`)
	digitRun     = regexp.MustCompile(`\d[\d\s\-]*\d|\d`)
)

// findLast4 returns the last four digits of a card: after "ending in",
// "last four", a masked number, as the end of a full card number, as four
// digits alone, or spelled out ("one two three four").
func findLast4(text string) (string, bool) {
	if m := last4Context.FindStringSubmatch(text); m != nil {
		return m[1], true
	}
	for _, run := range digitRun.FindAllString(text, -1) {
		d := strings.Map(func(r rune) rune {
			if r >= '0' && r <= '9' {
				return r
			}
			return -1
		}, run)
		switch {
		case len(d) == 4:
			return d, true
		case len(d) >= 13 && len(d) <= 19: // a whole card number: keep its end only
			return d[len(d)-4:], true
		}
	}
	ws := words(text)
	var digits []byte
	for _, w := range ws {
		if n, ok := smallNumbers[w]; ok && n <= 9 {
			digits = append(digits, byte('0'+n))
			if len(digits) == 4 {
				return string(digits), true
			}
			continue
		}
		digits = digits[:0]
	}
	return "", false
}

var defaultAccountRE = regexp.MustCompile(`\b\d{6,17}\b`)

func (s *Spec) account(text string) (Value, bool) {
	re := s.Pattern
	if re == nil {
		re = defaultAccountRE
	}
	m := re.FindStringSubmatch(text)
	if m == nil {
		// Numbers written with spaces or dashes: "1234 5678".
		squeezed := strings.NewReplacer(" ", "", "-", "").Replace(text)
		if m = re.FindStringSubmatch(squeezed); m == nil {
			return Value{}, false
		}
	}
	v := m[0]
	if len(m) > 1 && m[1] != "" {
		v = m[1]
	}
	return Value{Kind: AccountNumber, Text: v}, true
}

var (
	yesWords = []string{"yes", "yeah", "yep", "yup", "ya", "yea", "sure", "correct", "right", "ok", "okay", "affirmative",
		"absolutely", "definitely", "indeed", "confirm", "confirmed", "please", "true", "y", "certainly", "go", "do"}
	noWords = []string{"no", "nope", "nah", "not", "don't", "dont", "never", "negative", "wrong", "incorrect", "false",
		"n", "cancel", "stop", "isn't", "wasn't", "didn't"}
)

// findYesNo reads an answer to a yes/no question. A negation wins over a
// "yes" in the same message ("yes, I mean no" is rare; "no, not yet" is
// common), except "yes please"/"go ahead" forms, which are yes.
func findYesNo(text string) (bool, bool) {
	ws := words(text)
	if len(ws) == 0 {
		return false, false
	}
	// The first yes/no word decides: answers lead with it.
	for i, w := range ws {
		if i >= 6 {
			break
		}
		switch {
		case w == "go" && i+1 < len(ws) && ws[i+1] == "ahead":
			return true, true
		case w == "do" && i+1 < len(ws) && (ws[i+1] == "it" || ws[i+1] == "that"):
			return true, true
		case w == "of" && i > 0 && ws[i-1] == "course":
			return true, true
		case slices.Contains(noWords, w):
			return false, true
		case slices.Contains(yesWords, w) && w != "go" && w != "do" && w != "please":
			return true, true
		}
	}
	if ws[0] == "please" && len(ws) <= 2 {
		return true, true
	}
	return false, false
}

// findChoice matches an option by its value or a synonym (whole words,
// any case, plural "s" ignored), by a one-letter typo in a word of five or
// more letters, or by position ("the second", "2").
func findChoice(text string, opts []Option) (string, bool) {
	if len(opts) == 0 {
		return "", false
	}
	ws := words(text)
	joined := " " + strings.Join(ws, " ") + " "
	best, bestLen := "", 0
	for _, o := range opts {
		for _, name := range append([]string{o.Value}, o.Synonyms...) {
			nw := words(name)
			if len(nw) == 0 {
				continue
			}
			phrase := strings.Join(nw, " ")
			if strings.Contains(joined, " "+phrase+" ") || strings.Contains(joined, " "+phrase+"s ") {
				if len(phrase) > bestLen {
					best, bestLen = o.Value, len(phrase)
				}
			}
		}
	}
	if best != "" {
		return best, true
	}
	// One typo in a long single-word option.
	for _, o := range opts {
		for _, name := range append([]string{o.Value}, o.Synonyms...) {
			nw := words(name)
			if len(nw) != 1 || utf8.RuneCountInString(nw[0]) < 5 {
				continue
			}
			for _, w := range ws {
				if editDistanceAtMost1(w, nw[0]) {
					return o.Value, true
				}
			}
		}
	}
	ordinals := []string{"first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth"}
	for i, w := range ws {
		if k := slices.Index(ordinals, w); k >= 0 && k < len(opts) {
			return opts[k].Value, true
		}
		if len(ws) <= 2 && i == 0 {
			if n, err := strconv.Atoi(w); err == nil && n >= 1 && n <= len(opts) {
				return opts[n-1].Value, true
			}
		}
	}
	return "", false
}

// editDistanceAtMost1 reports whether a and b differ by at most one
// insertion, deletion, substitution or swap of neighbours.
func editDistanceAtMost1(a, b string) bool {
	ra, rb := []rune(a), []rune(b)
	if len(ra) == len(rb) {
		var diff []int
		for i := range ra {
			if ra[i] != rb[i] {
				diff = append(diff, i)
			}
		}
		if len(diff) == 2 && diff[1] == diff[0]+1 && ra[diff[0]] == rb[diff[1]] && ra[diff[1]] == rb[diff[0]] {
			return true
		}
	}
	if len(ra) > len(rb) {
		ra, rb = rb, ra
	}
	if len(rb)-len(ra) > 1 {
		return false
	}
	i, j, diff := 0, 0, 0
	for i < len(ra) && j < len(rb) {
		if ra[i] == rb[j] {
			i++
			j++
			continue
		}
		diff++
		if diff > 1 {
			return false
		}
		if len(ra) == len(rb) {
			i++
		}
		j++
	}
	return diff+(len(rb)-j)-(len(ra)-i) <= 1
}

func (s *Spec) freeText(text string) (Value, bool) {
	if s.Pattern == nil {
		return Value{Kind: Text, Text: text}, true
	}
	m := s.Pattern.FindStringSubmatch(text)
	if m == nil {
		return Value{}, false
	}
	v := m[0]
	if len(m) > 1 && m[1] != "" {
		v = m[1]
	}
	return Value{Kind: Text, Text: strings.TrimSpace(v)}, true
}
