package redact

import "strings"

var streetTypes = map[string]bool{"street": true, "st": true, "road": true, "rd": true, "avenue": true, "ave": true,
	"lane": true, "ln": true, "drive": true, "dr": true, "close": true, "way": true, "court": true, "ct": true,
	"place": true, "pl": true, "boulevard": true, "blvd": true, "crescent": true, "terrace": true, "gardens": true,
	"grove": true, "square": true, "sq": true, "row": true, "parkway": true, "pkwy": true, "highway": true,
	"hwy": true, "circle": true, "cir": true, "mews": true, "walk": true, "hill": true, "park": true, "rise": true}

var directions = map[string]bool{"north": true, "south": true, "east": true, "west": true, "nw": true, "ne": true,
	"sw": true, "se": true, "n": true, "s": true, "e": true, "w": true}

// houseLetter are the letters after a house number as a recogniser writes
// them ("two two one b", "sixty eight be").
var houseLetter = map[string]bool{"b": true, "be": true, "bee": true, "c": true, "d": true, "dee": true, "e": true,
	"f": true, "g": true, "h": true}

// unitPrefix words introduce a flat or suite number before a street address.
var unitPrefix = map[string]bool{"flat": true, "apartment": true, "apt": true, "unit": true, "suite": true}

// addressStop are words that do not name a street: function words, units
// of time, money and quantity (so "20 minutes on the high street" is no
// address).
var addressStop = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`a an the of on in at to for from by with and or but is are was were be been
		it its it's i i'm you we they he she my your our their this that these those there here what which who
		minutes minute hours hour days day weeks week months month years year seconds times time pounds pound
		dollars dollar euros euro cents pence percent items item people calls call orders order payments
		payment transactions texts emails letters pages miles mile more less than about around over under
		just only some any all each every other same new old first last next few many much several
		number numbers digits digit am pm o'clock thousand hundred million quid bucks grand`) {
		m[w] = true
	}
	return m
}()

// usStates are the postal abbreviations and names a ZIP code follows.
var usStates = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`al ak az ar ca co ct de fl ga hi id il in ia ks ky la me md ma mi mn ms mo mt
		ne nv nh nj nm ny nc nd oh ok or pa ri sc sd tn tx ut vt va wa wv wi wy dc alabama alaska arizona
		arkansas california colorado connecticut delaware florida georgia hawaii idaho illinois indiana iowa
		kansas kentucky louisiana maine maryland massachusetts michigan minnesota mississippi missouri montana
		nebraska nevada hampshire jersey mexico york carolina dakota ohio oklahoma oregon pennsylvania island
		tennessee texas utah vermont virginia washington wisconsin wyoming columbia`) {
		m[w] = true
	}
	return m
}()

// detectAddresses finds street addresses (a house number, one to four
// name words and a street type) and the postcodes written after them or
// on their own.
func (d *doc) detectAddresses(set typeSet) {
	toks := d.toks
	for k := 0; k < len(toks); k++ {
		if set.has(Postcode) {
			if e := d.ukPostcodeWritten(k); e > 0 {
				d.add(Postcode, k, e)
			}
			d.zipAfterState(k)
		}
		if !set.has(Address) {
			continue
		}
		// house number
		t := &toks[k]
		var j int
		switch {
		case t.digits != "" && len(t.digits) <= 5 && t.shape[0] != '+':
			j = k + 1
		case isHouseNumber(t.shape):
			j = k + 1
		default:
			r := d.runStarting(k)
			if r == nil || len(r.digits) > 5 || !r.spoken {
				continue
			}
			j = r.b
		}
		if t.pre != "" && strings.ContainsAny(t.pre, "$£€#") {
			continue
		}
		// a spelled letter after a spoken house number ("two two one b")
		if j < len(toks) && j+1 < len(toks) && toks[j-1].post == "" && !streetTypes[toks[j].low] && houseLetter[toks[j].low] {
			j++
		}
		start := k
		if k >= 2 && unitPrefix[toks[k-2].low] {
			start = k - 2
		}
		names, end := 0, -1
		for m := j; m < len(toks) && names <= 4; m++ {
			w := &toks[m]
			if names >= 1 && streetTypes[w.low] {
				end = m + 1
				for end < len(toks) && streetTypes[toks[end].low] && !toks[end-1].brk() {
					end++ // "Orchard Hill Place", "Victoria Park Drive"
				}
				if end < len(toks) && directions[toks[end].low] && !w.brk() && toks[end].low != "e" {
					end++
				}
				break
			}
			if !isWord(w.text) || addressStop[w.low] || w.digits != "" {
				break
			}
			if _, ok := unitWords[w.low]; ok {
				break
			}
			names++
			if w.brk() {
				break
			}
		}
		if end < 0 || toks[j-1].brk() {
			continue
		}
		d.add(Address, start, end)
		if set.has(Postcode) {
			d.postcodeNear(end)
		}
		k = end - 1
	}
}

// isHouseNumber reports a written house number with a letter: "221B", "12a".
func isHouseNumber(shape string) bool {
	return len(shape) >= 2 && len(shape) <= 5 && shape[len(shape)-1] == 'a' && strings.Trim(shape[:len(shape)-1], "d") == ""
}

func isWord(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '\'' || c == '-' || c >= 0x80) {
			return false
		}
	}
	return s != ""
}

// ukPostcode returns the length of the UK postcode at the start of c (lower
// case, no spaces): outward code A9, A99, AA9, AA99, A9A, AA9A and inward
// code 9AA; 0 when there is none.
func ukPostcode(c []byte) int {
	if len(c) < 5 {
		return 0
	}
	for _, out := range []int{4, 3, 2} {
		if len(c) < out+3 {
			continue
		}
		o, in := c[:out], c[out:out+3]
		if !isDigit(in[0]) || !isLetter(in[1]) || !isLetter(in[2]) || !isLetter(o[0]) {
			continue
		}
		ok := false
		switch out {
		case 2: // A9
			ok = isDigit(o[1])
		case 3: // A99, AA9, A9A
			ok = isDigit(o[1]) && isDigit(o[2]) || isLetter(o[1]) && isDigit(o[2]) || isDigit(o[1]) && isLetter(o[2])
		case 4: // AA99, AA9A
			ok = isLetter(o[1]) && isDigit(o[2]) && (isDigit(o[3]) || isLetter(o[3]))
		}
		if ok {
			return out + 3
		}
	}
	return 0
}

// ukPostcodeWritten finds a written UK postcode at token k ("SW1A 1AA",
// "M1 1AE", "sw1a 1aa") and returns the token after it, or 0. Upper case
// is required for the one-token form.
func (d *doc) ukPostcodeWritten(k int) int {
	t := &d.toks[k]
	if len(t.text) < 2 || len(t.text) > 7 || !isAlnum(t.text) || !isLetter(t.low[0]) {
		return 0
	}
	var c [8]byte
	n := copy(c[:], t.low)
	if k+1 < len(d.toks) && len(t.text) <= 4 && !t.brk() {
		u := &d.toks[k+1]
		if len(u.text) == 3 && isAlnum(u.text) {
			m := copy(c[n:], u.low)
			if ukPostcode(c[:n+m]) == n+m {
				return k + 2
			}
		}
	}
	if len(t.text) >= 5 && strings.ToUpper(t.text) == t.text && ukPostcode(c[:n]) == n {
		return k + 1
	}
	return 0
}

// zipAfterState finds a ZIP code right after a US state ("Springfield, IL
// 62704", "illinois six two seven oh four").
func (d *doc) zipAfterState(k int) {
	t := &d.toks[k]
	if !usStates[t.low] || k+1 >= len(d.toks) || len(t.text) == 2 && strings.ToUpper(t.text) != t.text {
		return
	}
	if r := d.runStarting(k + 1); r != nil && (len(r.digits) == 5 || len(r.digits) == 9) {
		d.add(Postcode, r.a, r.b)
	}
}

// postcodeAfter finds a postcode or ZIP code within four tokens after a
// "postcode" phrase at p, written or spelled out.
func (d *doc) postcodeAfter(p int) {
	for k := p; k < len(d.toks) && k-p <= 4; k++ {
		if k > p && sentenceEnd(&d.toks[k-1]) {
			return
		}
		if r := d.runStarting(k); r != nil && (len(r.digits) == 5 || len(r.digits) == 9) && !r.spoken || r != nil && r.spoken && len(r.digits) == 5 {
			d.add(Postcode, r.a, r.b)
			return
		}
		c, tok := d.spelled(k, 9, true)
		if n := ukPostcode(c); n > 0 && tokenEdges(tok, 0, n) {
			d.add(Postcode, k, tok[n-1]+1)
			return
		}
		// misheard: five to eight spelled characters with a digit
		if len(c) >= 5 && len(c) <= 8 && isLetter(c[0]) && digitRun(c) >= 1 && d.ctx[p]&cZip != 0 && k == p {
			d.add(Postcode, k, tok[len(tok)-1]+1)
			return
		}
	}
}

// postcodeNear finds a spelled UK postcode or a ZIP code within three
// tokens after the end of a street address (a town name in between).
func (d *doc) postcodeNear(end int) {
	for k := end; k < len(d.toks) && k-end <= 3; k++ {
		if r := d.runStarting(k); r != nil && len(r.digits) == 5 {
			d.add(Postcode, r.a, r.b)
			return
		}
		if d.ukPostcodeWritten(k) > 0 {
			return // found by the written scan
		}
		c, tok := d.spelled(k, 9, true)
		if n := ukPostcode(c); n > 0 && tokenEdges(tok, 0, n) {
			d.add(Postcode, k, tok[n-1]+1)
			return
		}
	}
}
