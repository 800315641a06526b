package redact

import (
	"slices"
	"strings"
)

// cand is one detection: tokens [a, b) of the document.
type cand struct {
	typ   Entity
	a, b  int
	prio  int8
	last4 string // cards: the last four digits, for the label
	cont  bool   // the value goes on in the next segment
}

// Priorities decide between overlapping detections: the more specific
// (checksummed, or a value right after its own context) wins.
var prio = map[Entity]int8{
	Email: 85, IBAN: 82, Card: 80, SSN: 75, NINumber: 74, Password: 72, CardCVV: 70, CardExpiry: 70,
	RoutingNumber: 65, BankAccount: 60, DateOfBirth: 55, PIN: 52, Phone: 50, Postcode: 45, Address: 40,
	Number: 10,
}

// doc is the analysis of one text.
type doc struct {
	toks  []token
	runs  []run
	ctx   []ctxClass // phrases ending before each token
	start []ctxClass // phrases starting at each token
	// present is every context class in the text
	present ctxClass
	cands   []cand
	ambO    []int // positions of spelled() output read from "o"/"oh"
	buf     []byte
	tmp     []int
}

func (d *doc) reset() {
	d.toks = d.toks[:0]
	d.runs = d.runs[:0]
	d.cands = d.cands[:0]
}

// analyse finds the tokens, runs and context phrases of d.toks.
func (d *doc) analyse() {
	d.runs = findRuns(d.toks, d.runs)
	d.ctx, d.start, d.present = markContext(d.toks, d.ctx, d.start)
}

func (d *doc) add(e Entity, a, b int) {
	d.cands = append(d.cands, cand{typ: e, a: a, b: b, prio: prio[e]})
}

// detect runs every detector whose type is in set.
func (d *doc) detect(set typeSet) {
	if set.has(Card) {
		d.detectCards()
		d.detectLooseCards()
	}
	if set.has(SSN) {
		d.detectSSN()
	}
	if set.has(Phone) {
		d.detectPhones()
	}
	if set.has(Email) {
		d.detectEmails()
	}
	if set.has(Password) {
		d.detectPasswords()
	}
	if set.has(NINumber) {
		d.detectNI()
	}
	if set.has(IBAN) {
		d.detectIBAN()
		d.detectIBANTails()
	}
	if set.has(Address) || set.has(Postcode) {
		d.detectAddresses(set)
	}
	if set.has(Card) && set.has(CardExpiry) {
		d.detectExpiryAfterCards()
	}
	if set.has(CardExpiry) {
		d.addressAsExpiry()
	}
	d.detectInContext(set)
}

// expiryAfterCardGap is how many tokens may stand between a card number
// and its expiry date when the expiry word itself was misheard ("x
// binary", "bucks by re", "next bio" for "expiry").
const expiryAfterCardGap = 3

var (
	// notExpiryBefore: after these the number is an amount or a time
	// ("charge it for twelve fifty", "at ten thirty"), not an expiry.
	notExpiryBefore = map[string]bool{"for": true, "at": true, "from": true, "of": true, "to": true,
		"until": true, "till": true, "about": true, "around": true}
	// notExpiryAfter: units after the number make it an amount or a time.
	notExpiryAfter = map[string]bool{"pounds": true, "pound": true, "dollars": true, "dollar": true,
		"euros": true, "euro": true, "cents": true, "pence": true, "quid": true, "bucks": true,
		"am": true, "pm": true, "o'clock": true, "minutes": true, "hours": true, "days": true}
)

// expiryAfterCard returns the tokens [a, b) of an expiry date (a month
// and year: "december twenty twenty seven", "oh one thirty one", "12/27")
// that starts one to expiryAfterCardGap tokens after token e, the end of
// a card number, with only words before it (no number, clause end or
// other context phrase) that the recogniser put in place of the expiry
// word. A caller reads the expiry right after the number. With the
// expiry word heard, the expiry is found in context (detectInContext);
// with nothing between the two, the date may be the number's own last
// digits; after "for" or "at", or with a unit after it, it is an amount
// or a time.
func (d *doc) expiryAfterCard(e int) (a, b int, ok bool) {
	for k := e + 1; k < len(d.toks) && k-e <= expiryAfterCardGap; k++ {
		g := &d.toks[k-1]
		if g.brk() || d.start[k-1] != 0 || notExpiryBefore[g.low] {
			break
		}
		if _, n, _ := numberAt(d.toks, k-1, d.buf[:0]); n > 0 {
			break
		}
		if j, ok := d.dateAt(k, true); ok && (j >= len(d.toks) || !notExpiryAfter[d.toks[j].low]) {
			return k, j, true
		}
	}
	return 0, 0, false
}

// detectExpiryAfterCards adds the expiry date read right after a card
// number (expiryAfterCard).
func (d *doc) detectExpiryAfterCards() {
	for _, c := range d.cands {
		if c.typ != Card {
			continue
		}
		if a, b, ok := d.expiryAfterCard(c.b); ok {
			// The word right before the date may hold its "oh" ("next
			// bio four to six" for "expiry oh four two six").
			d.add(CardExpiry, d.dateLead(max(c.b, a-1), a), b)
		}
	}
}

// addressAsExpiry retypes an address that starts right after an expiry
// phrase as the expiry date: no one gives an address there, and a
// recogniser that loses a date's digits in words can make a house number
// and a street of them ("it expires one ot way thanks" for "it expires
// one oh two eight thanks").
func (d *doc) addressAsExpiry() {
	for i := range d.cands {
		c := &d.cands[i]
		if c.typ == Address && d.ctx[c.a]&cExpiry != 0 {
			c.typ, c.prio = CardExpiry, prio[CardExpiry]
		}
	}
}

// runAfter returns the first run starting within max tokens after token
// p with no sentence end in between, or -1.
func (d *doc) runAfter(p, max int) int {
	for i := range d.runs {
		r := &d.runs[i]
		if r.a < p {
			if r.b > p {
				return i // the context phrase ends inside a run ("card 4111...")
			}
			continue
		}
		if r.a-p > max {
			return -1
		}
		for k := p; k < r.a; k++ {
			if k > 0 && sentenceEnd(&d.toks[k]) {
				return -1
			}
		}
		return i
	}
	return -1
}

// bridge joins run i with the runs after it that are separated from it by
// at most one token (a word the recogniser inserted) while the digits stay
// within max. It returns the joined digits in d.buf, the token map in
// d.tmp and the token range.
func (d *doc) bridge(i, max int) (digits []byte, tok []int, a, b int) {
	return d.bridgeGap(i, max, 1)
}

// bridgeGap is bridge over up to gap inserted words between two runs.
func (d *doc) bridgeGap(i, max, gap int) (digits []byte, tok []int, a, b int) {
	r := &d.runs[i]
	d.buf = append(d.buf[:0], r.digits...)
	d.tmp = append(d.tmp[:0], r.tok...)
	a, b = r.a, r.b
	for k := i + 1; k < len(d.runs); k++ {
		n := &d.runs[k]
		if n.a-b > gap || d.toks[b-1].brk() || d.ctx[n.a] != 0 || len(d.buf)+len(n.digits) > max {
			break
		}
		inserted := true
		for k := b; k < n.a; k++ {
			inserted = inserted && insertion(&d.toks[k])
		}
		if !inserted {
			break
		}
		d.buf = append(d.buf, n.digits...)
		d.tmp = append(d.tmp, n.tok...)
		b = n.b
	}
	return d.buf, d.tmp, a, b
}

// insertion reports whether t can be a word the recogniser inserted into
// a number: short, not closing a clause, not the start of a context phrase.
func insertion(t *token) bool {
	return len(t.low) <= 4 && !t.brk() && phrasesByFirst[t.low] == nil
}

// tokenEdges reports whether digits [i, j) start and end at token edges.
func tokenEdges(tok []int, i, j int) bool {
	return (i == 0 || tok[i] != tok[i-1]) && (j == len(tok) || tok[j] != tok[j-1])
}

// luhnWindow finds the longest window of 13 to 19 digits in digits that
// starts and ends at token edges and passes the Luhn check. Without
// context the window must start with a card network's first digit (2-6)
// and not begin or end on an ambiguous word.
func luhnWindow(digits []byte, tok []int, amb []bool, from int, inContext bool) (i, j int, ok bool) {
	best := 0
	for s := from; s < len(digits); s++ {
		if !inContext && (digits[s] < '2' || digits[s] > '6' || amb != nil && amb[s]) {
			continue
		}
		for e := min(len(digits), s+19); e >= s+13 && e-s > best; e-- {
			if !tokenEdges(tok, s, e) || !inContext && amb != nil && amb[e-1] {
				continue
			}
			if luhn(digits[s:e]) {
				i, j, best, ok = s, e, e-s, true
				break
			}
		}
	}
	return i, j, ok
}

func (d *doc) detectCards() {
	for ri := 0; ri < len(d.runs); ri++ {
		r := &d.runs[ri]
		if d.refNear(r.a, cCard) {
			continue
		}
		ctx := d.governs(cCard, r.a, ctxWindow) || d.governs(cCard|cExpiry|cCVV, r.a, 3)
		if !ctx {
			// Without context a card is the whole run, or the run without
			// the ambiguous words at its edges ("for", "oh") or without a
			// zero word before it, or the run joined over one inserted
			// word: a long run has many windows and one in ten passes the
			// Luhn check by chance. Digits right after spelled letters are
			// the end of a spelled code (an IBAN), not a card.
			if s := d.spelledStart(r.a); s >= 0 {
				// Redacted as the code it ends, not left: a card read
				// right after spelled letters is still covered.
				if len(r.digits) >= ibanTailDigits {
					d.cands = append(d.cands, cand{typ: IBAN, a: s, b: r.b, prio: prio[IBAN]})
				}
				continue
			}
			si, sj, _ := r.sureBounds()
			windows := [][2]int{{0, len(r.digits)}, {si, sj}}
			if z := r.leadingZero(); z > 0 {
				windows = append(windows, [2]int{z, len(r.digits)})
			}
			for _, w := range windows {
				if ds := r.digits[w[0]:w[1]]; len(ds) >= 13 && len(ds) <= 19 && ds[0] >= '2' && ds[0] <= '6' && luhn(ds) {
					a, b := r.tokRange(w[0], w[1])
					d.cands = append(d.cands, cand{typ: Card, a: a, b: b, prio: prio[Card], last4: string(ds[len(ds)-4:])})
					break
				}
			}
			if d.twoEightAfter(r) {
				continue
			}
			if digits, tok, _, b := d.bridge(ri, 20); len(digits) > len(r.digits) && len(digits) >= 13 && luhn(digits) {
				d.cands = append(d.cands, cand{typ: Card, a: tok[0], b: b, prio: prio[Card], last4: string(digits[len(digits)-4:])})
			}
			continue
		}
		// In card context the whole number is the card even when a digit
		// was misheard (12 to 21 digits, joined over an inserted word);
		// its last four are shown only when the Luhn check says the digits
		// were heard right.
		digits, tok, _, b := d.bridgeGap(ri, 22, 2)
		if n := len(digits); n >= 12 && n <= 21 {
			c := cand{typ: Card, a: tok[0], b: b, prio: prio[Card]}
			if n >= 13 && luhn(digits) {
				c.last4 = string(digits[n-4:])
			}
			d.cands = append(d.cands, c)
			continue
		}
		if n := len(digits); n < 12 {
			if a, b, ok := d.cardToStatedEnding(ri); ok {
				d.cands = append(d.cands, cand{typ: Card, a: a, b: b, prio: prio[Card]})
				continue
			}
		}
		// Longer: two numbers read together; the Luhn windows say where.
		for from := 0; from < len(r.digits); {
			i, j, ok := luhnWindow(r.digits, r.tok, r.amb, from, true)
			if !ok {
				break
			}
			a, b := r.tokRange(i, j)
			d.cands = append(d.cands, cand{typ: Card, a: a, b: b, prio: prio[Card], last4: string(r.digits[j-4 : j])})
			from = j
		}
	}
}

// endingGap is how many words a card number read after its stated ending
// may be broken by.
const endingGap = 3

// cardToStatedEnding reads a card number that the caller announced by its
// last digits ("the card ending three four three six, the full number is
// ..."): the numbers from run ri on, joined over up to endingGap short
// words each ("... or two to go to iowa seven three four three six"),
// are the card when together they read 12 to 21 digits (a card with a
// digit lost or gained, as in card context elsewhere) ending in the
// digits of a three- or four-digit number said before run ri in the same
// sentence with no reference phrase between ("the phone number is" is
// how a recogniser may write "the full number is"). Matching last digits
// are the check that a number with digits lost no longer passes Luhn's.
// It returns the tokens of the card.
func (d *doc) cardToStatedEnding(ri int) (a, b int, ok bool) {
	r := &d.runs[ri]
	var endings [][]byte
	for k := ri - 1; k >= 0; k-- {
		e := &d.runs[k]
		if r.a-e.b > ctxWindow || !d.openBetween(e.b, r.a, ^cRef) {
			break
		}
		if n := len(e.digits); (n == 3 || n == 4) && e.spoken {
			endings = append(endings, e.digits)
		}
	}
	if len(endings) == 0 {
		return 0, 0, false
	}
	digits := append([]byte(nil), r.digits...)
	b = r.b
	for k := ri + 1; k < len(d.runs) && len(digits) < 21; k++ {
		n := &d.runs[k]
		if n.a-b > endingGap || !d.openBetween(b, n.a, 0) {
			break
		}
		for j := b; j < n.a; j++ {
			if len(d.toks[j].low) > 5 || d.toks[j].brk() {
				return 0, 0, false
			}
		}
		digits = append(digits, n.digits...)
		b = n.b
		if len(digits) < 12 || len(digits) > 21 {
			continue
		}
		for _, e := range endings {
			if strings.HasSuffix(string(digits), string(e)) {
				return r.a, b, true
			}
		}
	}
	return 0, 0, false
}

// twoEightAfter adds a card for run r read on with the word after it
// when that word is "today" and the digits with it (a recogniser writes
// "... double four two eight" as "... double for today") are a card
// number. It reports whether it added one.
func (d *doc) twoEightAfter(r *run) bool {
	if r.b >= len(d.toks) || d.toks[r.b].low != "today" || d.toks[r.b-1].brk() {
		return false
	}
	ds := append(append(d.buf[:0], r.digits...), '2', '8')
	d.buf = ds[:0]
	if len(ds) < 13 || len(ds) > 19 || ds[0] < '2' || ds[0] > '6' || !luhn(ds) {
		return false
	}
	d.cands = append(d.cands, cand{typ: Card, a: r.a, b: r.b + 1, prio: prio[Card], last4: string(ds[len(ds)-4:])})
	return true
}

// ibanReach is how many tokens before a number an IBAN's spelled country
// may start for the number to be read as the rest of the IBAN.
const ibanReach = 6

// ibanTailDigits is the fewest digits a run after spelled letters must
// read to be redacted as the rest of their code (an IBAN's account part
// has 8 or more).
const ibanTailDigits = 8

// spelledStart returns where a spelled code ending right before token a
// starts: three or more spelled letters right before it ("l o y d",
// "b a r c"), or an IBAN's country ("g b") spelled and followed by a
// number starting within ibanReach tokens before it ("g b zero seven july
// two zero five ..."). A number read after them ends that code. It
// returns -1 when there is none.
func (d *doc) spelledStart(a int) int {
	if k := d.countryStart(a); k >= 0 {
		return k
	}
	if a < 3 || !d.letter(a-3) || !d.letter(a-2) || !d.letter(a-1) || d.toks[a-1].low == "a" || d.toks[a-1].low == "i" {
		return -1
	}
	s := a - 3
	for s > 0 && d.letter(s-1) {
		s--
	}
	// A bank code spelled inside an IBAN ("g b one six l a y d ...").
	if k := d.countryStart(s); k >= 0 {
		return k
	}
	return s
}

// letter reports whether token k is a spelled letter.
func (d *doc) letter(k int) bool {
	t := &d.toks[k]
	return len(t.text) == 1 && isLetter(t.low[0]) && !t.brk()
}

// countryStart returns where an IBAN's spelled country ("g b") starts
// within ibanReach tokens before token a, followed by a number or by a,
// with no clause break up to a; -1 when there is none.
func (d *doc) countryStart(a int) int {
	for k := max(0, a-ibanReach); k+1 < a; k++ {
		if !d.letter(k) || !d.letter(k+1) || ibanLength[d.toks[k].low+d.toks[k+1].low] == 0 {
			continue
		}
		if _, n, _ := numberAt(d.toks, k+2, d.buf[:0]); k+2 == a || n > 0 {
			open := true
			for j := k + 2; j < a; j++ {
				open = open && !d.toks[j-1].brk()
			}
			if open {
				return k
			}
		}
	}
	return -1
}

// leadingZero returns how many digits a zero word ("zero", "oh", "o") at
// the start of the run reads, when it is a word of its own: no card
// number starts with 0, so a recogniser inserted it ("it's a visa" heard
// as "it should be zero four ..."); 0 otherwise.
func (r *run) leadingZero() int {
	if len(r.digits) < 2 || r.digits[0] != '0' || r.tok[1] == r.tok[0] {
		return 0
	}
	return 1
}

// validSSN checks the SSA's rules: no area 000, 666 or 900-999, no group
// 00, no serial 0000.
func validSSN(d []byte) bool {
	if len(d) != 9 {
		return false
	}
	area := string(d[:3])
	return area != "000" && area != "666" && d[0] != '9' && string(d[3:5]) != "00" && string(d[5:]) != "0000"
}

func (d *doc) detectSSN() {
	for ri := range d.runs {
		r := &d.runs[ri]
		if d.refNear(r.a, cSSN) {
			continue
		}
		formatted := slices.Equal(r.groups, []int{3, 2, 4}) ||
			r.b-r.a == 1 && strings.Count(d.toks[r.a].shape, "-") == 2 && d.toks[r.a].shape == "ddd-dd-dddd"
		if formatted && validSSN(r.digits) {
			d.add(SSN, r.a, r.b)
			continue
		}
		if !d.governs(cSSN, r.a, ctxWindow) {
			continue
		}
		digits, _, a, b := d.bridge(ri, 11)
		if len(digits) >= 8 && len(digits) <= 10 {
			d.add(SSN, a, b)
		}
	}
}

// phoneShortReach is how many tokens after a phone phrase a number one
// digit short of a phone number may start.
const phoneShortReach = 2

func (d *doc) detectPhones() {
	for ri := range d.runs {
		r := &d.runs[ri]
		if d.refNear(r.a, cPhone) {
			continue
		}
		i, j, _ := r.sureBounds()
		if r.plus {
			i, j = 0, len(r.digits)
		}
		// A leading "oh" is a zero in a UK number.
		if i > 0 && r.digits[0] == '0' && j-i == 10 {
			i = 0
		}
		dg := r.digits[i:j]
		n := len(dg)
		ctx := d.governs(cPhone, r.a, ctxWindow)
		ok := false
		switch {
		case r.plus:
			ok = n >= 8 && n <= 15
		case n == 10 && dg[0] >= '2' && dg[3] >= '2':
			ok = true // North American: NPA-NXX-XXXX
		case n == 11 && dg[0] == '1' && dg[1] >= '2' && dg[4] >= '2':
			ok = true
		case n == 11 && dg[0] == '0' && strings.IndexByte("12378", dg[1]) >= 0:
			ok = true // UK national format
		case n == 12 && dg[0] == '4' && dg[1] == '4':
			ok = true // UK with country code, no plus
		case n == 10 && dg[0] == '0':
			ok = ctx
		case n == 7:
			ok = ctx && dg[0] >= '2'
		}
		if !ok && ctx {
			// Right after its phrase ("my number is", "reach me on") a
			// spoken number one digit short of a phone number is one
			// whose digit the recogniser lost in a word ("it three four
			// nine nine ..." for "eight three four nine nine ...").
			least := 10
			if r.spoken && d.nearest(cPhone, r.a, phoneShortReach) >= 0 {
				least = 9
			}
			digits, tok, _, _ := d.bridge(ri, 13)
			if len(digits) >= least && len(digits) <= 12 {
				d.add(Phone, tok[0], tok[len(tok)-1]+1)
			}
			continue
		}
		if ok {
			a, b := r.tokRange(i, j)
			d.add(Phone, a, b)
		}
	}
}

var tlds = map[string]bool{"com": true, "net": true, "org": true, "uk": true, "io": true, "edu": true,
	"gov": true, "us": true, "info": true, "biz": true, "de": true, "fr": true, "ie": true, "me": true,
	"ca": true, "au": true, "co": true}

// emailStop are words that are not part of a spoken local part.
var emailStop = map[string]bool{"is": true, "it's": true, "its": true, "my": true, "email": true, "address": true,
	"me": true, "it": true, "the": true, "that's": true, "yes": true, "sure": true, "so": true, "mail": true,
	"e-mail": true, "at": true, "and": true, "was": true, "you": true, "to": true, "on": true, "use": true,
	"send": true, "write": true, "reach": true, "contact": true, "try": true, "or": true, "address's": true}

var emailJoin = map[string]bool{"dot": true, "underscore": true, "dash": true, "hyphen": true, "period": true}

func (d *doc) detectEmails() {
	toks := d.toks
	for k := 0; k < len(toks); k++ {
		t := &toks[k]
		if at := strings.IndexByte(t.text, '@'); at > 0 {
			if dot := strings.LastIndexByte(t.text, '.'); dot > at+1 && dot < len(t.text)-1 {
				d.add(Email, k, k+1)
			}
			continue
		}
		if t.low != "at" || k == 0 || toks[k-1].brk() {
			continue
		}
		// domain: label (dot label)+ ending in a top-level domain; a label
		// may be two words ("hot mail").
		j, dots, end := k+1, 0, -1
		for j < len(toks) {
			w := 0
			for w < 3 && j+w < len(toks) && !emailJoin[toks[j+w].low] && !toks[j+w].brk() && !emailStop[toks[j+w].low] {
				w++
			}
			if w == 0 {
				break
			}
			if dots > 0 && tlds[toks[j].low] {
				end = j + 1
			}
			j += w
			if toks[j-1].brk() || j >= len(toks) || toks[j].low != "dot" {
				break
			}
			dots++
			j++
		}
		if end < 0 {
			continue
		}
		// local part: words joined by "dot"/"underscore", or up to three
		// words, back from "at".
		a := k
		for n := 0; a > 0 && n < 3; {
			p := &toks[a-1]
			if emailStop[p.low] || p.brk() || d.ctx[a]&cEmail != 0 {
				break
			}
			a--
			if a > 0 && emailJoin[toks[a-1].low] {
				a--
				continue
			}
			n++
		}
		if a == k {
			continue
		}
		d.add(Email, a, end)
		k = end - 1
	}
}

// passwordLink are the words between "password" and its value.
var passwordLink = map[string]bool{"is": true, "was": true, "it's": true, "its": true, "be": true, "would": true,
	"that's": true, "uh": true, "um": true, "er": true, "erm": true, "should": true, "will": true, "it": true}

// passwordEnd ends a spoken value.
var passwordEnd = map[string]bool{"and": true, "but": true, "so": true, "thanks": true, "thank": true, "please": true,
	"okay": true, "ok": true, "right": true, "then": true, "if": true, "because": true, "sorry": true, "all": true,
	"with": true, "i": true, "i'm": true, "is": true, "that's": true, "can": true}

// notPassword are words that follow "password" without being one ("my
// password is that okay", "the password is wrong").
var notPassword = map[string]bool{"that": true, "this": true, "it": true, "the": true, "a": true, "not": true,
	"wrong": true, "incorrect": true, "locked": true, "expired": true, "reset": true, "changed": true,
	"working": true, "too": true, "very": true, "so": true, "and": true, "for": true, "to": true, "on": true,
	"no": true, "still": true, "now": true, "fine": true, "ok": true, "okay": true, "correct": true, "right": true,
	"what": true, "why": true, "how": true, "please": true, "again": true, "there": true, "in": true}

func (d *doc) detectPasswords() {
	for p := 1; p < len(d.ctx); p++ {
		if d.ctx[p]&cPassword == 0 || p >= len(d.toks) {
			continue
		}
		k := p
		for k < len(d.toks) && passwordLink[d.toks[k].low] && !d.toks[k].brk() {
			k++
		}
		if k >= len(d.toks) || k > p && d.toks[k-1].brk() && !strings.Contains(d.toks[k-1].post, ":") ||
			notPassword[d.toks[k].low] || strings.Contains(d.toks[p-1].post, ",") {
			continue
		}
		if k == p && d.toks[p-1].brk() && !strings.Contains(d.toks[p-1].post, ":") {
			continue
		}
		// A chat value is one chunk; a spoken one runs to the end of the
		// clause, at most four words.
		e := k + 1
		if !strings.ContainsAny(d.toks[k].pre+d.toks[k].post, "\"'`") {
			for e < len(d.toks) && e-k < 4 && !d.toks[e-1].brk() && !passwordEnd[d.toks[e].low] &&
				d.toks[e].pre == "" && d.toks[e-1].post == "" && d.start[e] == 0 {
				e++
			}
		}
		d.add(Password, k, e)
	}
}

// spelled reads a spelled value from token k: letters ("a", "bee",
// "double you" -> w), digit words and written letters and digits. With
// words false only written tokens count. It returns the characters (lower
// case) in d.buf with their tokens in d.tmp.
func (d *doc) spelled(k, max int, words bool) (chars []byte, tok []int) {
	d.buf, d.tmp, d.ambO = d.buf[:0], d.tmp[:0], d.ambO[:0]
	var nb [8]byte
	for k < len(d.toks) && len(d.buf) < max {
		t := &d.toks[k]
		n := 1
		switch {
		case isAlnum(t.text) && len(t.text) <= 10 && codeLike(t):
			for i := 0; i < len(t.low); i++ {
				d.buf = append(d.buf, t.low[i])
				d.tmp = append(d.tmp, k)
			}
		case !words:
			return d.buf, d.tmp
		case t.low == "double" && k+1 < len(d.toks) && d.toks[k+1].low == "you":
			d.buf = append(d.buf, 'w')
			d.tmp = append(d.tmp, k)
			n = 2
		case letterWords[t.low] != 0:
			d.buf = append(d.buf, letterWords[t.low])
			d.tmp = append(d.tmp, k)
		case fillers[t.low]:
		default:
			dg, m, _ := numberAt(d.toks, k, nb[:0])
			if m == 0 {
				return d.buf, d.tmp
			}
			if t.low == "o" || t.low == "oh" {
				d.ambO = append(d.ambO, len(d.buf))
			}
			for range dg {
				d.tmp = append(d.tmp, k+m-1)
			}
			d.buf = append(d.buf, dg...)
			n = m
		}
		if d.toks[k+n-1].brk() {
			break
		}
		k += n
	}
	return d.buf, d.tmp
}

// notCode are short words that are not spelled letters.
var notCode = map[string]bool{"is": true, "it": true, "my": true, "no": true, "on": true, "to": true, "of": true,
	"in": true, "at": true, "be": true, "me": true, "so": true, "do": true, "go": true, "we": true, "he": true,
	"up": true, "us": true, "or": true, "an": true, "as": true, "by": true, "if": true, "ok": true, "oh": true}

// codeLike reports whether a written token can be part of a spelled code:
// it has a digit, is upper case, or is one or two letters that are not a
// common word.
func codeLike(t *token) bool {
	if strings.IndexByte(t.shape, 'd') >= 0 || strings.ToUpper(t.text) == t.text {
		return true
	}
	return len(t.text) <= 2 && !notCode[t.low]
}

func isAlnum(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return s != ""
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' }
func isDigit(c byte) bool  { return c >= '0' && c <= '9' }

// niAt reports whether c starts with a National Insurance number: two
// prefix letters (not D, F, I, Q, U, V; second not O), six digits and a
// suffix A-D.
func niAt(c []byte) bool {
	if len(c) < 9 {
		return false
	}
	for i := 0; i < 9; i++ {
		switch {
		case i < 2 && !isLetter(c[i]), i >= 2 && i < 8 && !isDigit(c[i]), i == 8 && (c[i] < 'a' || c[i] > 'd'):
			return false
		}
	}
	bad := "dfiquv"
	return strings.IndexByte(bad, c[0]) < 0 && strings.IndexByte(bad+"o", c[1]) < 0
}

func (d *doc) detectNI() {
	for k := 0; k < len(d.toks); k++ {
		t := &d.toks[k]
		ctx := d.governs(cNI, k, 6)
		written := len(t.text) >= 2 && t.text[0] >= 'A' && t.text[0] <= 'Z' && t.text[1] >= 'A' && t.text[1] <= 'Z'
		if !ctx && !written && (d.present&cNI == 0 || letterWords[t.low] == 0) {
			continue
		}
		c, tok := d.spelled(k, 12, true)
		if !ctx && !written && (len(tok) == 0 || !d.after(cNI, tok[len(tok)-1]+1, 4)) {
			continue // a spoken value is taken only next to its context
		}
		if !ctx && written {
			c, tok = d.spelled(k, 12, false)
		}
		if niAt(c) {
			d.add(NINumber, k, tok[8]+1)
			k = tok[8]
			continue
		}
		// Misheard in context: a spelled value of 8 to 10 characters with
		// six digits in a row is the number.
		if ctx && len(c) >= 8 && len(c) <= 11 && digitRun(c) >= 5 && isLetter(c[0]) {
			d.add(NINumber, k, tok[len(tok)-1]+1)
			k = tok[len(tok)-1]
		}
	}
}

// digitRun is the longest run of digits in c.
func digitRun(c []byte) int {
	best, n := 0, 0
	for _, x := range c {
		if isDigit(x) {
			n++
			best = max(best, n)
		} else {
			n = 0
		}
	}
	return best
}

// ibanLength is the IBAN length of the countries whose banks customers
// most often quote; other countries are checked on the checksum alone.
var ibanLength = map[string]int{"gb": 22, "ie": 22, "de": 22, "fr": 27, "es": 24, "it": 27, "nl": 18,
	"be": 16, "pt": 25, "ch": 21, "at": 20, "pl": 28, "se": 24, "dk": 18, "no": 15, "fi": 18, "lu": 20}

// ibanOs reads "o"/"oh" as the letter O where a British, Irish or Dutch
// IBAN has its four-letter bank code (positions 4-7), and as zero
// elsewhere.
func ibanOs(c []byte, ambO []int) {
	if len(c) < 8 {
		return
	}
	switch string(c[:2]) {
	case "gb", "ie", "nl":
		for _, i := range ambO {
			if i >= 4 && i < 8 {
				c[i] = 'o'
			}
		}
	}
}

// ibanValid checks the ISO 13616 mod-97 checksum of c (lower case).
func ibanValid(c []byte) bool {
	if len(c) < 15 || len(c) > 34 || !isLetter(c[0]) || !isLetter(c[1]) || !isDigit(c[2]) || !isDigit(c[3]) {
		return false
	}
	if n, ok := ibanLength[string(c[:2])]; ok && n != len(c) {
		return false
	}
	rem := 0
	for i := range len(c) {
		x := c[(i+4)%len(c)]
		switch {
		case isDigit(x):
			rem = (rem*10 + int(x-'0')) % 97
		case isLetter(x):
			rem = (rem*100 + int(x-'a'+10)) % 97
		default:
			return false
		}
	}
	return rem == 1
}

func (d *doc) detectIBAN() {
	for k := 0; k < len(d.toks); k++ {
		t := &d.toks[k]
		ctx := d.governs(cIBAN, k, 6)
		written := len(t.text) >= 4 && t.text[0] >= 'A' && t.text[0] <= 'Z' && t.text[1] >= 'A' && t.text[1] <= 'Z' &&
			isDigitByte(t.text[2]) && isDigitByte(t.text[3])
		spoken := !written && !ctx && letterWords[t.low] != 0 && k+1 < len(d.toks) && letterWords[d.toks[k+1].low] != 0
		if !ctx && !written && !spoken {
			continue
		}
		c, tok := d.spelled(k, 40, !written)
		if spoken && (len(c) < 15 || ibanLength[string(c[:2])] == 0) {
			continue // spelled letters without context: a known country's IBAN only
		}
		ibanOs(c, d.ambO)
		found := false
		for n := min(len(c), 34); n >= 15; n-- {
			if tokenEdges(tok, 0, n) && ibanValid(c[:n]) {
				d.add(IBAN, k, tok[n-1]+1)
				k, found = tok[n-1], true
				break
			}
		}
		if !found && ctx && len(c) >= 14 && isLetter(c[0]) && !spoken {
			d.add(IBAN, k, tok[len(tok)-1]+1)
			k = tok[len(tok)-1]
		}
	}
}

// ibanTailReach is how many tokens after an IBAN phrase the number ending
// the IBAN may start when its letters were heard as words.
const ibanTailReach = ctxWindow

// detectIBANTails redacts, after an IBAN phrase, everything up to the end
// of the first number of ibanTailDigits or more digits (joined over an
// inserted word) starting within ibanTailReach tokens. An IBAN read out
// is letters and digits only, and a recogniser writes its spelled
// country and bank code and the digit "oh" as words ("my ibanez i knew of
// six i'd be the one seven three nine ..." for "my iban is i e oh six a i
// b k one seven three nine ..."), so what stands between the phrase and
// the account digits is the start of the IBAN. A sentence end or another
// context phrase ("account number", "order") in between stops it, and a
// short number (an amount) is never the end of an IBAN.
func (d *doc) detectIBANTails() {
	if d.present&cIBAN == 0 {
		return
	}
	for p := 1; p < len(d.toks); p++ {
		if d.ctx[p]&cIBAN == 0 || !d.governs(cIBAN, p, 0) {
			continue
		}
		a := p
		if w := d.toks[a].low; w == "is" || w == "was" {
			a++
		}
		for ri := range d.runs {
			r := &d.runs[ri]
			if r.b <= a {
				continue
			}
			if r.a < a || r.a-a > ibanTailReach || !d.openBetween(a, r.a, cIBAN) {
				break
			}
			if digits, _, _, b := d.bridgeGap(ri, 34, 2); len(digits) >= ibanTailDigits {
				d.add(IBAN, a, b)
				p = b
				break
			}
		}
	}
}

// openBetween reports whether tokens [a, b) hold no sentence end and start
// no context phrase other than those of the classes in own.
func (d *doc) openBetween(a, b int, own ctxClass) bool {
	for k := a; k < b; k++ {
		if d.start[k]&^own != 0 || sentenceEnd(&d.toks[k]) {
			return false
		}
	}
	return true
}

// detectInContext finds the values that are sensitive only after their
// context phrase: expiry, security code, account and routing numbers,
// dates of birth and PINs.
func (d *doc) detectInContext(set typeSet) {
	for p := 1; p < len(d.ctx); p++ {
		c := d.ctx[p]
		if c == 0 || p >= len(d.toks) {
			continue
		}
		if c&cExpiry != 0 && set.has(CardExpiry) {
			if e, ok := d.dateAfter(p, true); ok {
				d.add(CardExpiry, d.dateLead(p, e[0]), e[1])
			}
		}
		if c&cDOB != 0 && set.has(DateOfBirth) {
			if e, ok := d.dateAfter(p, false); ok {
				d.add(DateOfBirth, e[0], e[1])
			}
		}
		if c&cCVV != 0 && set.has(CardCVV) {
			if ri := d.runAfter(p, 6); ri >= 0 && d.runs[ri].a >= p {
				if n := len(d.runs[ri].digits); n == 3 || n == 4 {
					d.add(CardCVV, d.runs[ri].a, d.runs[ri].b)
				} else if a, b, ok := d.cvvWithWord(p, ri); ok {
					d.add(CardCVV, a, b)
				}
			}
		}
		if c&cPIN != 0 && set.has(PIN) {
			if ri := d.runAfter(p, 5); ri >= 0 && d.runs[ri].a >= p {
				if n := len(d.runs[ri].digits); n >= 4 && n <= 8 {
					d.add(PIN, d.runs[ri].a, d.runs[ri].b)
				}
			}
		}
		if c&cAccount != 0 && set.has(BankAccount) && !d.refNear(p, cAccount) {
			if ri := d.runAfter(p, 6); ri >= 0 && d.runs[ri].a >= p {
				digits, _, a, b := d.bridge(ri, 18)
				if n := len(digits); n >= 6 && n <= 17 {
					d.add(BankAccount, a, b)
				}
			}
		}
		if c&cRouting != 0 && set.has(RoutingNumber) {
			if ri := d.runAfter(p, 6); ri >= 0 && d.runs[ri].a >= p {
				digits, _, a, b := d.bridge(ri, 10)
				if n := len(digits); n == 6 || n >= 8 && n <= 10 {
					d.add(RoutingNumber, a, b)
				}
			}
		}
		if c&cZip != 0 && set.has(Postcode) {
			d.postcodeAfter(p)
		}
	}
}

var months = map[string]int{"january": 1, "february": 2, "march": 3, "april": 4, "may": 5, "june": 6,
	"july": 7, "august": 8, "september": 9, "october": 10, "november": 11, "december": 12,
	"jan": 1, "feb": 2, "mar": 3, "apr": 4, "jun": 6, "jul": 7, "aug": 8, "sep": 9, "sept": 9,
	"oct": 10, "nov": 11, "dec": 12}

// cvvWithWord reads a security code of which the recogniser wrote the
// first digit as a word ("security code take one for" for "eight one
// four"): a spoken run of two digits with one word right before it,
// straight after the phrase at p, that is no number, function word,
// unit or closing word. It returns the tokens of the code with that
// word.
func (d *doc) cvvWithWord(p, ri int) (a, b int, ok bool) {
	r := &d.runs[ri]
	if len(r.digits) != 2 || !r.spoken {
		return 0, 0, false
	}
	word := func(k int) bool {
		if k < 0 || k >= len(d.toks) || d.start[k] != 0 {
			return false
		}
		t := &d.toks[k]
		if _, n, _ := numberAt(d.toks, k, d.buf[:0]); n > 0 || t.digits != "" {
			return false
		}
		return !addressStop[t.low] && !cvvStop[t.low] && !fillers[t.low]
	}
	if r.a == p+1 && word(p) && !d.toks[p].brk() {
		return p, r.b, true
	}
	return 0, 0, false
}

// cvvStop are words that close what a caller reads out.
var cvvStop = map[string]bool{"thanks": true, "thank": true, "okay": true, "ok": true, "please": true, "can": true,
	"is": true, "right": true, "yes": true, "yeah": true, "sorry": true, "cheers": true}

var (
	// timeOrAmountBefore and timeOrAmountAfter make a number after an
	// expiry phrase a time or an amount. Narrower than notExpiryBefore
	// and notExpiryAfter: after the phrase itself "of" and "to" are the
	// date's "oh" and "two" misheard, and "cents" and "bucks" a
	// recogniser's "thanks".
	timeOrAmountBefore = map[string]bool{"at": true, "for": true, "from": true, "until": true, "till": true,
		"about": true, "around": true}
	timeOrAmountAfter = map[string]bool{"pounds": true, "pound": true, "dollars": true, "dollar": true,
		"euros": true, "euro": true, "pence": true, "quid": true, "am": true, "pm": true, "o'clock": true,
		"minutes": true, "hours": true, "days": true}
)

// expiryLead is how many words between an expiry phrase and its date are
// taken as part of the date.
const expiryLead = 2

// leadSkip are words a caller says between an expiry phrase and the date.
var leadSkip = map[string]bool{"is": true, "was": true, "date": true, "it's": true, "its": true, "it": true,
	"the": true, "be": true}

// dateLead returns where the expiry date starting at token k after the
// phrase ending at p begins. A month written as digits starts with "oh"
// (01-09), and a recogniser writes that "oh" as a word ("expiry you'll
// four thirty one", "expire you're six three two"): when the date reads
// three digits (month and year with the month's "oh" lost) and the one
// or two words before it are no number, context phrase or one of
// leadSkip, they are the date's first digit. Otherwise it returns k.
func (d *doc) dateLead(p, k int) int {
	if r := d.runStarting(k); r == nil || len(r.digits) != 3 {
		return k
	}
	a := p
	for a < k && leadSkip[d.toks[a].low] {
		a++
	}
	if a == k || k-a > expiryLead {
		return k
	}
	for j := a; j < k; j++ {
		if _, n, _ := numberAt(d.toks, j, d.buf[:0]); n > 0 || d.toks[j].brk() || d.start[j] != 0 {
			return k
		}
	}
	return a
}

// dateAfter finds a date starting within five tokens after p. expiry
// accepts month and year alone (MM/YY); a date of birth needs a day.
func (d *doc) dateAfter(p int, expiry bool) ([2]int, bool) {
	for k := p; k < len(d.toks) && k-p <= 5; k++ {
		if k > p && sentenceEnd(&d.toks[k-1]) {
			break
		}
		// "expires in two weeks at ten thirty", "for twelve twenty
		// pounds": a time or an amount, not the expiry.
		if expiry && k > p && timeOrAmountBefore[d.toks[k-1].low] {
			continue
		}
		if e, ok := d.dateAt(k, expiry); ok {
			if expiry && e < len(d.toks) && timeOrAmountAfter[d.toks[e].low] {
				continue
			}
			return [2]int{k, e}, true
		}
	}
	return [2]int{}, false
}

// runStarting returns the run that starts at token k, or nil.
func (d *doc) runStarting(k int) *run {
	for i := range d.runs {
		if d.runs[i].a == k {
			return &d.runs[i]
		}
		if d.runs[i].a > k {
			break
		}
	}
	return nil
}

// dayAt reads a day of the month at token k: "14", "14th", "fourteenth",
// "twenty first". It returns the tokens read.
func (d *doc) dayAt(k int) int {
	if k >= len(d.toks) {
		return 0
	}
	t := &d.toks[k]
	if _, ok := ordinalWords[t.low]; ok {
		return 1
	}
	if _, ok := tensWords[t.low]; ok && k+1 < len(d.toks) {
		if _, ok := ordinalWords[d.toks[k+1].low]; ok {
			return 2
		}
	}
	s := t.low
	for _, suf := range []string{"st", "nd", "rd", "th"} {
		if strings.HasSuffix(s, suf) && len(s) <= 4 && len(s) > 2 && isDigitByte(s[0]) && isDigitByte(s[len(s)-3]) {
			return 1
		}
	}
	return 0
}

// skipFillers returns the first token from j that is not a filler.
func (d *doc) skipFillers(j int) int {
	for j < len(d.toks) && fillers[d.toks[j].low] && !d.toks[j].brk() {
		j++
	}
	return j
}

// dateAt reads a date at token k and returns the token after it.
func (d *doc) dateAt(k int, expiry bool) (int, bool) {
	toks := d.toks
	if toks[k].low == "the" {
		k++
	}
	if k >= len(toks) {
		return 0, false
	}
	t := &toks[k]
	if g := numericDate(t.text); g == 3 || g == 2 && expiry {
		return k + 1, true
	}
	if expiry {
		if j := onLine(toks, k); j > k {
			if r := d.runStarting(j); r != nil && len(r.digits) == 2 {
				return r.b, true
			}
		}
	}
	if n := d.dayAt(k); n > 0 || !expiry && d.runStarting(k) != nil && len(d.runStarting(k).digits) <= 2 {
		if n == 0 {
			n = d.runStarting(k).b - k
		}
		j := d.skipFillers(k + n)
		if j < len(toks) && toks[j].low == "of" {
			j = d.skipFillers(j + 1)
		}
		if j < len(toks) && months[toks[j].low] > 0 {
			j = d.skipFillers(j + 1)
			if r := d.runStarting(j); r != nil && (len(r.digits) == 2 || len(r.digits) == 4) {
				return r.b, true
			}
			return j, !expiry
		}
	}
	if months[t.low] > 0 && (k+1 < len(toks)) {
		j := k + 1
		if toks[j].low == "the" {
			j++
		}
		if n := d.dayAt(j); n > 0 {
			j += n
			if r := d.runStarting(j); r != nil && (len(r.digits) == 2 || len(r.digits) == 4) {
				return r.b, true
			}
			return j, !expiry
		}
		if r := d.runStarting(j); r != nil && len(r.digits) >= 1 && len(r.digits) <= 6 {
			return r.b, true // "march 14 1985", "march fourteen nineteen eighty five", "march 2027"
		}
	}
	if r := d.runStarting(k); r != nil {
		n := len(r.digits)
		if expiry && (n == 4 || n == 3 || n == 6) {
			m := int(r.digits[0]-'0')*10 + int(r.digits[1]-'0')
			if n == 3 {
				m = int(r.digits[0] - '0')
			}
			if m >= 1 && m <= 12 {
				return r.b, true
			}
		}
		if !expiry && (n == 6 || n == 8) {
			return r.b, true
		}
	}
	return 0, false
}

// onLine returns the token after "online" or "on line" at token k, or k:
// how a recogniser writes the month "oh nine" ("expires on line twenty
// five"). Only an expiry's month is read so, followed by its year.
func onLine(toks []token, k int) int {
	switch {
	case toks[k].low == "online" && !toks[k].brk():
		return k + 1
	case toks[k].low == "on" && k+1 < len(toks) && toks[k+1].low == "line" && !toks[k].brk() && !toks[k+1].brk():
		return k + 2
	}
	return k
}

// numericDate returns the number of digit groups of a date written with
// '/', '.' or '-' ("03/27" 2, "14/03/1985" 3), or 0.
func numericDate(s string) int {
	groups, n := 0, 0
	for i := 0; i <= len(s); i++ {
		if i < len(s) && isDigitByte(s[i]) {
			n++
			continue
		}
		if n == 0 || n > 4 {
			return 0
		}
		groups++
		n = 0
		if i < len(s) && s[i] != '/' && s[i] != '.' && s[i] != '-' {
			return 0
		}
	}
	if groups < 2 || groups > 3 {
		return 0
	}
	return groups
}
