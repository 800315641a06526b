package redact

// Card numbers read out, as a recogniser writes them.
//
// A card number read digit by digit reaches the redactor through a
// general-purpose recogniser as a run of number words broken by what the
// language model preferred: "five one eight three o h for one or three
// ...", "four today eight", "forty" for "four two", a digit dropped or
// doubled. The digits are then wrong and the Luhn check refuses them, but
// the redactor does not need the digits: it needs to know that a card
// number was said. After a card phrase ("my debit card is", "the long
// number on the front is", "put it on", "charge") a long stretch of
// number-like words is therefore redacted as a card even when the digits
// read from it are not a valid card number, and labelled without its last
// four (they may be wrong). Reference, order and ticket numbers keep their
// own phrase, which is nearer the number than the card phrase, and stay;
// amounts, times and dates are too short or are not read digit by digit.

const (
	// looseLead is how many tokens may sit between the card phrase and
	// the number ("my card number is uh").
	looseLead = 4
	// looseGap is how many words in a row that are not numbers the run
	// takes in ("four today eight", "three o h for").
	looseGap = 2
	// looseDigits is the fewest digits the run must read, and looseLen
	// the fewest digits and taken-in words together (a card has 13 to 19
	// digits; a taken-in word usually stands for one or two).
	looseDigits = 10
	looseLen    = 13
)

// looseRun reads the number-like stretch that starts within looseLead
// tokens after token p: numbers (digits, number words, homophones,
// "double five", "forty two"), fillers, and up to looseGap other words in
// a row. It stops at a clause end or at the start of a context phrase and
// ends on the last number that is not an ambiguous word ("for", "to",
// "oh"). It returns the tokens [a, b), the digits read and the words
// taken in.
func (d *doc) looseRun(p int) (a, b, digits, gaps int) {
	a = -1
	for k := p; k < len(d.toks) && k-p <= looseLead; k++ {
		if k > p && d.toks[k-1].brk() {
			return -1, -1, 0, 0
		}
		if _, n, amb := numberAt(d.toks, k, d.buf[:0]); n > 0 {
			if !amb {
				a = k
				break
			}
			continue
		}
		if k > p && d.start[k] != 0 {
			return -1, -1, 0, 0 // another phrase: "card expires ..."
		}
	}
	if a < 0 {
		return -1, -1, 0, 0
	}
	b = a
	n, g, inRow := 0, 0, 0
	for k := a; k < len(d.toks); {
		if k > a && d.toks[k-1].brk() {
			break
		}
		t := &d.toks[k]
		buf, m, amb := numberAt(d.toks, k, d.buf[:0])
		d.buf = buf[:0]
		if m > 0 {
			n += len(buf)
			inRow = 0
			k += m
			if !amb {
				b, digits, gaps = k, n, g
			}
			continue
		}
		if fillers[t.low] {
			k++
			continue
		}
		if d.start[k] != 0 || inRow == looseGap {
			break
		}
		inRow++
		g++
		k++
	}
	return a, b, digits, gaps
}

// stretch is a number-like stretch after a card phrase (see looseRun).
type stretch struct{ a, b, digits, gaps int }

// card reports whether the stretch is long enough to be a card.
func (s stretch) card() bool { return s.digits >= looseDigits && s.digits+s.gaps >= looseLen }

// cardStretches returns the stretches that follow the card phrases, in
// order.
func (d *doc) cardStretches() []stretch {
	if d.present&cCard == 0 {
		return nil
	}
	var out []stretch
	for p := 1; p < len(d.toks); p++ {
		if d.ctx[p]&cCard == 0 {
			continue
		}
		if a, b, digits, gaps := d.looseRun(p); a >= 0 {
			out = append(out, stretch{a, b, digits, gaps})
			p = b - 1
		}
	}
	return out
}

// detectLooseCards adds a card for every long number-like stretch right
// after a card phrase (see looseRun).
func (d *doc) detectLooseCards() {
	for _, st := range d.cardStretches() {
		a, b := st.a, st.b
		if !st.card() || d.refNear(a, cCard) {
			continue
		}
		// Two cards found by the Luhn check are two numbers read one after
		// the other ("... and ..."): they stay as found. One is widened to
		// the stretch, keeping its last four when it ends where the
		// stretch ends.
		found := -1
		for i, o := range d.cands {
			if o.typ == Card && o.a < b && a < o.b {
				if found >= 0 {
					found = -2
					break
				}
				found = i
			}
		}
		switch {
		case found == -1:
			d.cands = append(d.cands, cand{typ: Card, a: a, b: b, prio: prio[Card]})
		case found >= 0:
			o := &d.cands[found]
			if e, _, ok := d.expiryAfterCard(o.b); ok && e < b {
				// The stretch goes on into the expiry date
				// (detectExpiryAfterCards): the card ends where its
				// digits do.
				b = o.b
			}
			if o.b < b {
				o.last4 = ""
			}
			o.a, o.b = min(o.a, a), max(o.b, b)
		}
	}
}

// looseOpen reports whether the text from token off on ends inside a
// stretch begun after a card phrase that is still too short to be taken
// for a card (detectLooseCards): the stretch reaches the last looseGap tokens, and nothing after
// it closes it (a clause end, a context phrase). The next segment may
// carry the rest of the number.
func (d *doc) looseOpen(off int) bool {
	n := len(d.toks)
	for _, st := range d.cardStretches() {
		b := st.b
		if b <= off || n-b > looseGap || st.card() {
			continue
		}
		open := true
		for k := b; k < n; k++ {
			open = open && d.start[k] == 0 && !d.toks[k].brk()
		}
		if open && !d.toks[b-1].brk() {
			return true
		}
	}
	return false
}

// looseMask adds a Number candidate for every stretch begun after a card
// phrase that reaches token off or beyond, however short: a partial
// hypothesis of a card being read out shows none of its digits, even
// before there are enough of them to make a card.
func (d *doc) looseMask(off int) {
	for _, st := range d.cardStretches() {
		if st.b > off {
			d.cands = append(d.cands, cand{typ: Number, a: max(st.a, off), b: st.b, prio: prio[Number]})
		}
	}
}

// askWindow is how many tokens at the end of a segment a card phrase may
// sit in for the segment to be asking for the number.
const askWindow = 10

// asksCard reports whether the text from token off on ends asking for a
// card number: a card phrase in its last askWindow tokens with no number
// after it ("could you read me the long number on the front of the
// card?"). The other party's answer may then be the number alone.
func (d *doc) asksCard(off int) bool {
	if d.present&cCard == 0 {
		return false
	}
	n := len(d.toks)
	for k := max(off, n-askWindow); k < n; k++ {
		if d.start[k]&cCard == 0 {
			continue
		}
		for i := range d.runs {
			if d.runs[i].b > k {
				return false
			}
		}
		return true
	}
	return false
}
