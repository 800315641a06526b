package redact

// A run is a maximal sequence of tokens that read as digits: written
// numbers ("4111", "4111-1111"), digit words ("four one one one"),
// recogniser homophones inside a run ("for", "to", "oh"), "double five",
// "triple one", two-digit groups ("forty one eleven"), "eight hundred",
// "two thousand and five", with fillers ("uh") and commas in between.
type run struct {
	a, b   int    // tokens [a, b)
	digits []byte // the digits read
	tok    []int  // tok[i] is the token digit i came from
	amb    []bool // amb[i]: digit i came from an ambiguous word
	plus   bool   // the first token starts with '+'
	// groups are the digit counts of each written token ("4111 1111" ->
	// 4,4); nil when any digit came from a word.
	groups []int
	spoken bool // some digit came from a word
}

// firstSure and lastSure bound the run to its first and last digit that
// did not come from an ambiguous word; ok is false when there is none.
func (r *run) sureBounds() (i, j int, ok bool) {
	i, j = 0, len(r.digits)
	for i < j && r.amb[i] {
		i++
	}
	for j > i && r.amb[j-1] {
		j--
	}
	return i, j, i < j
}

// tokRange returns the tokens covering digits [i, j). A digit maps to the
// first token of its expression, so a window ending with the run ends
// with the run's last token ("... eight double two").
func (r *run) tokRange(i, j int) (a, b int) {
	if j == len(r.digits) {
		return r.tok[i], r.b
	}
	return r.tok[i], r.tok[j-1] + 1
}

// numberAt reads one number expression at token i and returns the digits,
// the tokens consumed and whether its only word was ambiguous. n == 0 when
// token i does not start a number.
func numberAt(toks []token, i int, buf []byte) (out []byte, n int, amb bool) {
	t := &toks[i]
	if t.digits != "" {
		return append(buf, t.digits...), 1, false
	}
	w := t.low
	next := func(k int) string {
		if i+k >= len(toks) {
			return ""
		}
		for j := i; j < i+k; j++ {
			if toks[j].brk() {
				return ""
			}
		}
		return toks[i+k].low
	}
	switch w {
	case "double", "triple":
		if d, ok := unitWords[next(1)]; ok {
			c := byte('0' + d)
			buf = append(buf, c, c)
			if w == "triple" {
				buf = append(buf, c)
			}
			return buf, 2, false
		}
		return buf, 0, false
	}
	// "six oh" heard as "sick so" (the "s" of "six" starts the "oh"),
	// before a digit said.
	if w == "sick" && next(1) == "so" && next(2) != "" && spokenDigitWord(toks, i+2) {
		return append(buf, '6', '0'), 2, false
	}
	if ohWords[w] && spokenDigitWord(toks, i-1) && spokenDigitWord(toks, i+1) && !t.brk() && !toks[i-1].brk() &&
		(!joinWords[w] || numberWords(toks, i, -1) < wholeNumber || numberWords(toks, i, 1) < wholeNumber) {
		return append(buf, '0'), 1, true
	}
	if d, ok := unitWords[w]; ok {
		amb = ambiguous[w]
		if !amb {
			if m, k := hundreds(toks, i, d, next); k > 0 {
				return appendInt(buf, m), k, false
			}
		}
		return append(buf, byte('0'+d)), 1, amb
	}
	if v, ok := teenWords[w]; ok {
		if m, k := hundreds(toks, i, v, next); k > 0 {
			return appendInt(buf, m), k, false
		}
		return appendInt(buf, v), 1, false
	}
	if v, ok := tensWords[w]; ok {
		// "thirty four", and "thirty for" as a recogniser writes it
		if u, ok := unitWords[next(1)]; ok && u > 0 {
			return appendInt(buf, v+u), 2, false
		}
		return appendInt(buf, v), 1, false
	}
	return buf, 0, false
}

// ohWords are how a recogniser writes a digit read as "oh" when it takes
// it for a common word: "five or six", "three of four", "seven and nine",
// "seven no one". Between two spoken digits they are a zero ("four one or
// seven" read from "four one oh seven"), unless it is "or" or "and" with
// a whole number on each side (wholeNumber); anywhere else, and next to
// written numerals ("2 or 3"), they are the words they look like. ("one
// hundred and five" is read by hundreds before this.)
var ohWords = map[string]bool{"or": true, "of": true, "and": true, "no": true}

// joinWords are the ohWords that also join two whole numbers read one
// after the other ("... seven one or four one five ..."); "of" and "no"
// between two long runs of digits are a zero inside one number ("... three
// five of four one five ...").
var joinWords = map[string]bool{"or": true, "and": true}

// wholeNumber is the fewest number words on each side of "or" that make it
// the word between two numbers ("four one five ... seven one or four one
// five ... seven two": two phone numbers), not a zero inside one.
const wholeNumber = 7

// numberWords counts the number words in a row from token i in direction
// dir (-1 before it, 1 after it), within a clause.
func numberWords(toks []token, i, dir int) int {
	n := 0
	for k := i + dir; k >= 0 && k < len(toks); k += dir {
		t := &toks[k]
		if dir < 0 && t.brk() || dir > 0 && toks[k-1].brk() {
			break
		}
		_, unit := unitWords[t.low]
		_, teen := teenWords[t.low]
		_, tens := tensWords[t.low]
		if !unit && !teen && !tens && t.low != "double" && t.low != "triple" {
			break
		}
		n++
	}
	return n
}

// spokenDigitWord reports whether token k is a number word a reader says
// inside a digit string: a digit that is not an ordinary word as well, a
// teen or tens word, or "double"/"triple".
func spokenDigitWord(toks []token, k int) bool {
	if k < 0 || k >= len(toks) {
		return false
	}
	w := toks[k].low
	if _, ok := unitWords[w]; ok {
		return !ambiguous[w]
	}
	_, teen := teenWords[w]
	_, tens := tensWords[w]
	return teen || tens || w == "double" || w == "triple"
}

// hundreds reads "X hundred [and] [YY]" and "X thousand [and] [YYY]" after
// the number v at token i (v < 100). It returns the value and the tokens
// consumed, or k == 0.
func hundreds(toks []token, i, v int, next func(int) string) (val, k int) {
	switch {
	case next(1) == "hundred":
		val = v * 100
	case next(1) == "thousand" && v < 10:
		val = v * 1000
	default:
		return 0, 0
	}
	and := 0
	if next(2) == "and" {
		and = 1
	}
	if r, n := below100(next(2+and), next(3+and)); n > 0 {
		return val + r, 2 + and + n
	}
	return val, 2
}

// below100 reads a number 1..99 from one or two words.
func below100(w1, w2 string) (val, n int) {
	if d, ok := unitWords[w1]; ok && d > 0 && !ambiguous[w1] {
		return d, 1
	}
	if v, ok := teenWords[w1]; ok {
		return v, 1
	}
	if v, ok := tensWords[w1]; ok {
		if u, ok := unitWords[w2]; ok && u > 0 && !ambiguous[w2] {
			return v + u, 2
		}
		return v, 1
	}
	return 0, 0
}

func appendInt(buf []byte, v int) []byte {
	var tmp [8]byte
	i := len(tmp)
	if v == 0 {
		return append(buf, '0')
	}
	for v > 0 {
		i--
		tmp[i] = byte('0' + v%10)
		v /= 10
	}
	return append(buf, tmp[i:]...)
}

// findRuns returns the runs of toks in order.
func findRuns(toks []token, out []run) []run {
	var cur *run
	closeRun := func() {
		if cur == nil {
			return
		}
		// A run made of ambiguous words only is not a number.
		if _, _, ok := cur.sureBounds(); ok {
			out = append(out, *cur)
		}
		cur = nil
	}
	var buf []byte
	for i := 0; i < len(toks); {
		t := &toks[i]
		if cur != nil && fillers[t.low] && i+1 < len(toks) && !t.brk() {
			// a filler continues a run only when a number follows
			if _, n, _ := numberAt(toks, i+1, buf[:0]); n > 0 {
				i++
				continue
			}
		}
		buf = buf[:0]
		d, n, amb := numberAt(toks, i, buf)
		if n == 0 {
			closeRun()
			i++
			continue
		}
		if cur != nil && t.shape != "" && t.shape[0] == '+' {
			closeRun() // "+44" starts a number of its own
		}
		if cur == nil {
			cur = &run{a: i, plus: t.shape != "" && t.shape[0] == '+'}
			if i > 0 && toks[i-1].low == "plus" && !toks[i-1].brk() {
				cur.a, cur.plus = i-1, true // spoken "plus four four ..."
			}
			cur.groups = []int{}
		}
		for range d {
			cur.tok = append(cur.tok, i)
			cur.amb = append(cur.amb, amb)
		}
		cur.digits = append(cur.digits, d...)
		if t.digits != "" && n == 1 && cur.groups != nil {
			cur.groups = append(cur.groups, len(d))
		} else {
			cur.groups = nil
			cur.spoken = true
		}
		cur.b = i + n
		last := &toks[i+n-1]
		i += n
		if last.brk() {
			closeRun()
		}
	}
	closeRun()
	return out
}

// luhn reports whether digits pass the Luhn check.
func luhn(d []byte) bool {
	sum, alt := 0, false
	for i := len(d) - 1; i >= 0; i-- {
		n := int(d[i] - '0')
		if alt {
			n *= 2
			if n > 9 {
				n -= 9
			}
		}
		sum += n
		alt = !alt
	}
	return len(d) > 0 && sum%10 == 0
}

// abaRouting reports whether d is a US ABA routing number (9 digits with
// the 3-7-1 checksum).
func abaRouting(d []byte) bool {
	if len(d) != 9 {
		return false
	}
	w := [9]int{3, 7, 1, 3, 7, 1, 3, 7, 1}
	s := 0
	for i, c := range d {
		s += w[i] * int(c-'0')
	}
	return s%10 == 0
}
