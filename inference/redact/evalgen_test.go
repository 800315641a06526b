package redact

// The generator of the labelled evaluation set in testdata/eval.jsonl.
// TestEvalSetUpToDate regenerates it in memory and fails if the committed
// file differs; `go test ./inference/redact -run TestEvalSetUpToDate
// -update` rewrites it. testdata/README.md says how it is made.

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/eval.jsonl from the generator")

const (
	evalSeed  = 20
	evalPath  = "testdata/eval.jsonl"
	perEntity = 64 // utterances featuring each entity type

	// A second development set, for choices the first development half can
	// no longer tell apart (it reads 31 of its 32 spoken cards): the same
	// generator with another seed, card-heavy, every utterance "dev2". It
	// shares nothing with the reported half but the generator's phrasings.
	evalDev2Seed = 21
	evalDev2Path = "testdata/eval-dev2.jsonl"

	// A third development set, made when choices had been fitted to the
	// second one's misses one by one: the same kinds and generator as the
	// second, another seed (22 drew an expiry utterance of eval.jsonl
	// again, which TestEvalSetUpToDate refuses).
	evalDev3Seed = 23
	evalDev3Path = "testdata/eval-dev3.jsonl"
)

// evalDev2Kinds is how many utterances of each kind the second
// development set holds.
var evalDev2Kinds = []struct {
	kind string
	n    int
}{
	{string(Card), 160}, {string(CardExpiry), 10}, {string(CardCVV), 10},
	{"near_miss_order", 40}, {"near_miss_reference", 30},
	{string(IBAN), 20}, {string(BankAccount), 20}, {string(Phone), 20}, {"dialogue", 10},
}

// evalSpan is a labelled span: byte offsets in its text.
type evalSpan struct {
	Type  string `json:"type"`
	Start int    `json:"start"`
	End   int    `json:"end"`
}

// evalUtt is one utterance of the set in its three forms.
type evalUtt struct {
	ID    string `json:"id"`
	Split string `json:"split"` // "dev" (tuning) or "test" (reported)
	Kind  string `json:"kind"`  // the entity featured, "near_miss_*" or "dialogue"
	// Written is the chat form.
	Written      string     `json:"written"`
	WrittenSpans []evalSpan `json:"written_spans"`
	// Say is the spoken form without errors: what the synthesiser reads,
	// and the reference the real recogniser's output is aligned to.
	Say      string     `json:"say"`
	SaySpans []evalSpan `json:"say_spans"`
	// Spoken is the spoken form as a recogniser writes it, with simulated
	// recognition errors.
	Spoken      string     `json:"spoken"`
	SpokenSpans []evalSpan `json:"spoken_spans"`
}

// part is a piece of an utterance: written text, spoken words, and the
// entity it is (empty for context).
type part struct {
	w, s string
	typ  Entity
}

type gen struct {
	r *rand.Rand
}

func (g *gen) pick(xs ...string) string { return xs[g.r.IntN(len(xs))] }
func (g *gen) chance(p float64) bool    { return g.r.Float64() < p }
func (g *gen) digits(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('0' + g.r.IntN(10))
	}
	return string(b)
}

// lit is a context part: its spoken form is its written form in lower
// case without punctuation, numbers read as words.
func lit(w string) part { return part{w: w, s: sayText(w)} }

// sayText lower-cases w, drops punctuation and reads digits.
func sayText(w string) string {
	var out []string
	for _, f := range strings.Fields(w) {
		f = strings.ToLower(strings.Trim(f, ".,!?;:\"()"))
		if f == "" {
			continue
		}
		if n, err := strconv.Atoi(f); err == nil {
			out = append(out, cardinal(n))
			continue
		}
		out = append(out, f)
	}
	return strings.Join(out, " ")
}

var unitName = []string{"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"}
var teenName = []string{"ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"}
var tensName = []string{"", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"}

// cardinal reads 0 <= n < 1,000,000 the American way ("two hundred fifty").
func cardinal(n int) string {
	switch {
	case n < 10:
		return unitName[n]
	case n < 20:
		return teenName[n-10]
	case n < 100:
		if n%10 == 0 {
			return tensName[n/10]
		}
		return tensName[n/10] + " " + unitName[n%10]
	case n < 1000:
		s := unitName[n/100] + " hundred"
		if n%100 != 0 {
			s += " " + cardinal(n%100)
		}
		return s
	default:
		s := cardinal(n/1000) + " thousand"
		if n%1000 != 0 {
			s += " " + cardinal(n%1000)
		}
		return s
	}
}

// pair reads two digits as a number: "41" forty one, "05" oh five, "00" double oh.
func (g *gen) pair(p string, zero string) string {
	switch {
	case p == "00":
		return "double " + zero
	case p[0] == '0':
		return zero + " " + unitName[p[1]-'0']
	}
	n, _ := strconv.Atoi(p)
	return cardinal(n)
}

// sayDigits reads a digit string the way people do: digit by digit
// (zero as "oh" or "zero"), with "double"/"triple" for repeats sometimes,
// or in pairs ("forty one eleven") when pairs is set.
func (g *gen) sayDigits(ds string, groups []int, pairs bool) string {
	zero := g.pick("oh", "zero", "oh")
	useRepeats := g.chance(0.3)
	var out []string
	if len(groups) == 0 {
		groups = []int{len(ds)}
	}
	pos := 0
	for _, n := range groups {
		grp := ds[pos : pos+n]
		pos += n
		if pairs && n%2 == 0 {
			for i := 0; i < n; i += 2 {
				out = append(out, g.pair(grp[i:i+2], zero))
			}
			continue
		}
		for i := 0; i < len(grp); {
			c := grp[i]
			name := unitName[c-'0']
			if c == '0' {
				name = zero
			}
			run := 1
			for i+run < len(grp) && grp[i+run] == c && run < 3 {
				run++
			}
			switch {
			case useRepeats && run == 3:
				out = append(out, "triple "+name)
				i += 3
			case useRepeats && run == 2:
				out = append(out, "double "+name)
				i += 2
			default:
				out = append(out, name)
				i++
			}
		}
	}
	return strings.Join(out, " ")
}

func groupString(ds string, groups []int, sep string) string {
	var parts []string
	pos := 0
	for _, n := range groups {
		parts = append(parts, ds[pos:pos+n])
		pos += n
	}
	return strings.Join(parts, sep)
}

func luhnDigit(prefix string) byte {
	for c := byte('0'); c <= '9'; c++ {
		if luhn([]byte(prefix + string(c))) {
			return c
		}
	}
	panic("unreachable")
}

// cardNumber returns a Luhn-valid number of a card network and its
// written grouping.
func (g *gen) cardNumber() (string, []int) {
	type net struct {
		prefix string
		n      int
		groups []int
	}
	nets := []net{
		{"4", 16, []int{4, 4, 4, 4}}, {"4", 16, []int{4, 4, 4, 4}}, {"4", 16, []int{4, 4, 4, 4}},
		{"51", 16, []int{4, 4, 4, 4}}, {"53", 16, []int{4, 4, 4, 4}}, {"55", 16, []int{4, 4, 4, 4}},
		{"2221", 16, []int{4, 4, 4, 4}}, {"34", 15, []int{4, 6, 5}}, {"37", 15, []int{4, 6, 5}},
		{"6011", 16, []int{4, 4, 4, 4}}, {"65", 16, []int{4, 4, 4, 4}}, {"36", 14, []int{4, 6, 4}},
		{"35", 16, []int{4, 4, 4, 4}}, {"4", 13, []int{4, 4, 5}}, {"6759", 19, []int{4, 4, 4, 4, 3}},
		{"62", 19, []int{6, 13}},
	}
	nt := nets[g.r.IntN(len(nets))]
	p := nt.prefix + g.digits(nt.n-len(nt.prefix)-1)
	return p + string(luhnDigit(p)), nt.groups
}

// cardPart writes a card number: spaces, dashes or run together; spoken
// digit by digit, or in pairs.
func (g *gen) cardPart(ds string, groups []int) part {
	var w string
	switch g.r.IntN(5) {
	case 0, 1, 2:
		w = groupString(ds, groups, " ")
	case 3:
		w = groupString(ds, groups, "-")
	default:
		w = ds
	}
	return part{w: w, s: g.sayDigits(ds, groups, g.chance(0.15)), typ: Card}
}

func (g *gen) expiryPart() part {
	m, y := 1+g.r.IntN(12), 25+g.r.IntN(9)
	mm := fmt.Sprintf("%02d", m)
	monthName := []string{"", "January", "February", "March", "April", "May", "June", "July", "August",
		"September", "October", "November", "December"}[m]
	switch g.r.IntN(4) {
	case 0:
		return part{w: mm + "/" + strconv.Itoa(y), s: g.pair(mm, "oh") + " " + cardinal(y), typ: CardExpiry}
	case 1:
		return part{w: mm + "/20" + strconv.Itoa(y), s: g.sayDigits(mm+strconv.Itoa(y), nil, false), typ: CardExpiry}
	case 2:
		return part{w: monthName + " 20" + strconv.Itoa(y), s: strings.ToLower(monthName) + " twenty " + cardinal(y), typ: CardExpiry}
	default:
		return part{w: mm + "/" + strconv.Itoa(y), s: cardinal(m) + " " + cardinal(y), typ: CardExpiry}
	}
}

func (g *gen) cvvPart(n int) part {
	ds := g.digits(n)
	return part{w: ds, s: g.sayDigits(ds, nil, false), typ: CardCVV}
}

// ssnDigits returns a valid SSN.
func (g *gen) ssnDigits() string {
	for {
		a := 1 + g.r.IntN(899)
		if a == 666 {
			continue
		}
		return fmt.Sprintf("%03d%02d%04d", a, 1+g.r.IntN(99), 1+g.r.IntN(9999))
	}
}

var niPrefixA = "ABCEGHJKLMNOPRSTWXYZ"
var niPrefixB = "ABCEGHJKLMNPRSTWXYZ"

func (g *gen) niNumber() string {
	for {
		p := string(niPrefixA[g.r.IntN(len(niPrefixA))]) + string(niPrefixB[g.r.IntN(len(niPrefixB))])
		switch p {
		case "BG", "GB", "NK", "KN", "TN", "NT", "ZZ":
			continue
		}
		return p + g.digits(6) + string("ABCD"[g.r.IntN(4)])
	}
}

// letterSay is how a person names a letter; the recogniser writes these.
var letterSay = map[byte]string{'a': "a", 'b': "b", 'c': "c", 'd': "d", 'e': "e", 'f': "f", 'g': "g", 'h': "h",
	'i': "i", 'j': "j", 'k': "k", 'l': "l", 'm': "m", 'n': "n", 'o': "o", 'p': "p", 'q': "q", 'r': "r", 's': "s",
	't': "t", 'u': "u", 'v': "v", 'w': "double you", 'x': "x", 'y': "y", 'z': "z"}

// sayCode spells a code of letters and digits.
func (g *gen) sayCode(code string) string {
	var out []string
	zero := g.pick("oh", "zero")
	for _, c := range strings.ToLower(code) {
		switch {
		case c >= '0' && c <= '9':
			if c == '0' {
				out = append(out, zero)
			} else {
				out = append(out, unitName[c-'0'])
			}
		case c >= 'a' && c <= 'z':
			out = append(out, letterSay[byte(c)])
		}
	}
	return strings.Join(out, " ")
}

// iban builds a valid IBAN for a country.
func (g *gen) iban() string {
	var cc, bban string
	switch g.r.IntN(5) {
	case 0, 1:
		cc = "GB"
		bban = g.pick("NWBK", "BARC", "LOYD", "HBUK", "MIDL", "WEST") + g.digits(14)
	case 2:
		cc, bban = "DE", g.digits(18)
	case 3:
		cc, bban = "IE", g.pick("AIBK", "BOFI")+g.digits(14)
	default:
		cc, bban = "NL", g.pick("ABNA", "INGB", "RABO")+g.digits(10)
	}
	// check digits: 98 - mod97(bban + cc + "00")
	s := strings.ToLower(bban + cc + "00")
	rem := 0
	for _, c := range s {
		if c >= '0' && c <= '9' {
			rem = (rem*10 + int(c-'0')) % 97
		} else {
			rem = (rem*100 + int(c-'a'+10)) % 97
		}
	}
	return fmt.Sprintf("%s%02d%s", cc, 98-rem, bban)
}

func (g *gen) abaRouting() string {
	for {
		d := g.digits(9)
		if d[0] <= '3' && abaRouting([]byte(d)) {
			return d
		}
	}
}

// phone returns a written and spoken phone number, US or UK.
func (g *gen) phone() (w, s string) {
	switch g.r.IntN(6) {
	case 0: // US (415) 555-2671
		a, b, c := fmt.Sprint(2+g.r.IntN(8))+g.digits(2), fmt.Sprint(2+g.r.IntN(8))+g.digits(2), g.digits(4)
		return fmt.Sprintf("(%s) %s-%s", a, b, c), g.sayDigits(a+b+c, []int{3, 3, 4}, false)
	case 1: // US 415-555-2671
		a, b, c := fmt.Sprint(2+g.r.IntN(8))+g.digits(2), fmt.Sprint(2+g.r.IntN(8))+g.digits(2), g.digits(4)
		return a + "-" + b + "-" + c, g.sayDigits(a+b+c, []int{3, 3, 4}, false)
	case 2: // +1 415 555 2671
		a, b, c := fmt.Sprint(2+g.r.IntN(8))+g.digits(2), fmt.Sprint(2+g.r.IntN(8))+g.digits(2), g.digits(4)
		return "+1 " + a + " " + b + " " + c, "plus one " + g.sayDigits(a+b+c, []int{3, 3, 4}, false)
	case 3: // UK mobile 07700 900123
		ds := "07" + g.digits(9)
		return ds[:5] + " " + ds[5:], g.sayDigits(ds, []int{5, 6}, false)
	case 4: // UK +44 7700 900123
		ds := "7" + g.digits(9)
		return "+44 " + ds[:4] + " " + ds[4:], "plus four four " + g.sayDigits(ds, []int{4, 6}, false)
	default: // UK London 020 7946 0958
		ds := "020" + g.digits(8)
		return ds[:3] + " " + ds[3:7] + " " + ds[7:], g.sayDigits(ds, []int{3, 4, 4}, false)
	}
}

var firstNames = []string{"john", "sarah", "david", "emma", "michael", "laura", "james", "olivia", "peter", "anna",
	"mark", "lucy", "paul", "grace", "tom", "helen", "chris", "kate", "daniel", "maria"}
var lastNames = []string{"smith", "jones", "brown", "taylor", "wilson", "evans", "walker", "wright", "green",
	"hall", "wood", "clark", "lewis", "baker", "turner", "hill", "ward", "price", "king", "moore"}
var domains = []struct{ w, s string }{{"gmail.com", "gmail dot com"}, {"outlook.com", "outlook dot com"},
	{"yahoo.com", "yahoo dot com"}, {"hotmail.co.uk", "hotmail dot co dot uk"}, {"btinternet.com", "b t internet dot com"},
	{"example.org", "example dot org"}, {"company.net", "company dot net"}, {"icloud.com", "i cloud dot com"}}

func (g *gen) email() (w, s string) {
	f, l := g.pick(firstNames...), g.pick(lastNames...)
	d := domains[g.r.IntN(len(domains))]
	switch g.r.IntN(4) {
	case 0:
		return f + "." + l + "@" + d.w, f + " dot " + l + " at " + d.s
	case 1:
		n := 10 + g.r.IntN(89)
		return f[:1] + l + strconv.Itoa(n) + "@" + d.w, f[:1] + " " + l + " " + cardinal(n) + " at " + d.s
	case 2:
		return f + "_" + l + "@" + d.w, f + " underscore " + l + " at " + d.s
	default:
		return f + l + "@" + d.w, f + " " + l + " at " + d.s
	}
}

var monthNames = []string{"", "January", "February", "March", "April", "May", "June", "July", "August",
	"September", "October", "November", "December"}
var ordinalName = []string{"", "first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth",
	"tenth", "eleventh", "twelfth", "thirteenth", "fourteenth", "fifteenth", "sixteenth", "seventeenth",
	"eighteenth", "nineteenth", "twentieth", "twenty first", "twenty second", "twenty third", "twenty fourth",
	"twenty fifth", "twenty sixth", "twenty seventh", "twenty eighth"}

// sayYear reads a year: "nineteen eighty five", "two thousand and three".
func sayYear(y int) string {
	if y >= 2000 && y < 2010 {
		return "two thousand and " + unitName[y-2000]
	}
	hi, lo := y/100, y%100
	switch {
	case lo == 0:
		return cardinal(hi) + " hundred"
	case lo < 10:
		return cardinal(hi) + " oh " + unitName[lo]
	}
	return cardinal(hi) + " " + cardinal(lo)
}

// date returns a date in one of the forms people write and say it.
func (g *gen) date(minY, maxY int) (w, s string) {
	d, m, y := 1+g.r.IntN(28), 1+g.r.IntN(12), minY+g.r.IntN(maxY-minY+1)
	mn := monthNames[m]
	switch g.r.IntN(5) {
	case 0:
		return fmt.Sprintf("%02d/%02d/%d", d, m, y), ordinalName[d] + " of " + strings.ToLower(mn) + " " + sayYear(y)
	case 1:
		return fmt.Sprintf("%d %s %d", d, mn, y), "the " + ordinalName[d] + " of " + strings.ToLower(mn) + " " + sayYear(y)
	case 2:
		return fmt.Sprintf("%s %d, %d", mn, d, y), strings.ToLower(mn) + " " + ordinalName[d] + " " + sayYear(y)
	case 3:
		return fmt.Sprintf("%02d-%02d-%d", m, d, y), g.sayDigits(fmt.Sprintf("%02d%02d%02d", m, d, y%100), nil, false)
	default:
		return fmt.Sprintf("%dth %s %d", d, mn, y), strings.ToLower(mn) + " " + cardinal(d) + " " + sayYear(y)
	}
}

var streetNames = []string{"Baker", "Elm", "Acacia", "Maple", "High", "Church", "Station", "Victoria", "Oak",
	"Mill", "King", "Queen", "Park", "Green", "Cedar", "Willow", "London", "Manor", "Chestnut", "Orchard",
	"Pennsylvania", "Lincoln", "Washington", "Sunset", "Lake", "River", "Hillside", "Spring"}
var streetTypeNames = []struct{ w, s string }{{"Street", "street"}, {"Road", "road"}, {"Avenue", "avenue"},
	{"Lane", "lane"}, {"Drive", "drive"}, {"Close", "close"}, {"Way", "way"}, {"Court", "court"}, {"Place", "place"},
	{"Crescent", "crescent"}, {"Terrace", "terrace"}, {"St", "street"}, {"Rd", "road"}, {"Ave", "avenue"},
	{"Boulevard", "boulevard"}, {"Gardens", "gardens"}}
var towns = []string{"London", "Leeds", "Bristol", "Manchester", "Glasgow", "Cardiff", "Springfield",
	"Portland", "Austin", "Denver", "Boston", "Phoenix"}
var states = []struct{ w, s string }{{"IL", "illinois"}, {"OR", "oregon"}, {"TX", "texas"}, {"CO", "colorado"},
	{"MA", "massachusetts"}, {"AZ", "arizona"}, {"CA", "california"}, {"NY", "new york"}}

func (g *gen) street() (w, s string) {
	n := 1 + g.r.IntN(300)
	if g.chance(0.1) {
		n = 1000 + g.r.IntN(9000)
	}
	name := g.pick(streetNames...)
	if g.chance(0.2) {
		name += " " + g.pick("Hill", "Green", "Park", "View")
	}
	st := streetTypeNames[g.r.IntN(len(streetTypeNames))]
	num, sayNum := strconv.Itoa(n), cardinal(n)
	if n < 1000 && n > 100 && g.chance(0.5) {
		sayNum = g.sayDigits(num, nil, false)
	}
	if n >= 1000 {
		sayNum = g.pair(num[:2], "oh") + " " + g.pair(num[2:], "oh")
	}
	if g.chance(0.1) {
		num += "B"
		sayNum += " b"
	}
	return num + " " + name + " " + st.w, sayNum + " " + strings.ToLower(name) + " " + st.s
}

// ukPostcodeGen returns a postcode like "SW1A 1AA", "M1 1AE", "LS6 2QR".
func (g *gen) ukPostcodeGen() string {
	letters := "ABCDEFGHJKLMNOPRSTUWYZ"
	in := "ABDEFGHJLNPQRSTUWXYZ"
	l := func(set string) string { return string(set[g.r.IntN(len(set))]) }
	var out string
	switch g.r.IntN(4) {
	case 0:
		out = l(letters) + l(letters) + g.digits(1)
	case 1:
		out = l(letters) + fmt.Sprint(1+g.r.IntN(9))
	case 2:
		out = l(letters) + l(letters) + fmt.Sprint(1+g.r.IntN(9)) + g.digits(1)
	default:
		out = l(letters) + l(letters) + fmt.Sprint(1+g.r.IntN(9)) + l("ABEHMNPRVWXY")
	}
	return out + " " + g.digits(1) + l(in) + l(in)
}

var passwordWords = []string{"tiger", "sunshine", "dragon", "monkey", "football", "rainbow", "coffee", "summer",
	"purple", "falcon", "orange", "silver", "winter", "pepper", "banana", "thunder"}

// build assembles parts into an utterance's written and spoken forms.
func (g *gen) build(id, kind string, parts []part) evalUtt {
	u := evalUtt{ID: id, Kind: kind}
	var w strings.Builder
	type sw struct {
		text string
		typ  Entity
		ent  int
	}
	var words []sw
	for i, p := range parts {
		if p.w != "" {
			if w.Len() > 0 && !strings.ContainsAny(p.w[:1], ".,?!:;") {
				w.WriteByte(' ')
			}
			start := w.Len()
			w.WriteString(p.w)
			if p.typ != "" {
				u.WrittenSpans = append(u.WrittenSpans, evalSpan{Type: string(p.typ), Start: start, End: w.Len()})
			}
		}
		for _, f := range strings.Fields(p.s) {
			words = append(words, sw{text: f, typ: p.typ, ent: i})
		}
	}
	u.Written = w.String()
	emit := func(ws []sw) (string, []evalSpan) {
		var b strings.Builder
		var spans []evalSpan
		for i, x := range ws {
			if i > 0 {
				b.WriteByte(' ')
			}
			start := b.Len()
			b.WriteString(x.text)
			if x.typ == "" {
				continue
			}
			if n := len(spans); n > 0 && i > 0 && ws[i-1].ent == x.ent {
				spans[n-1].End = b.Len()
				continue
			}
			spans = append(spans, evalSpan{Type: string(x.typ), Start: start, End: b.Len()})
		}
		return b.String(), spans
	}
	u.Say, u.SaySpans = emit(words)
	// Simulated recognition errors.
	var noisy []sw
	for i, x := range words {
		t := x.text
		inNum := x.typ != ""
		switch {
		case t == "four" && g.chance(0.25):
			t = "for"
		case t == "two" && g.chance(0.2):
			t = "to"
		case t == "eight" && g.chance(0.05):
			t = "ate"
		case t == "card" && g.chance(0.1):
			t = "car"
		case t == "b" && g.chance(0.3):
			t = "be"
		case t == "c" && g.chance(0.3):
			t = "see"
		case t == "r" && g.chance(0.3):
			t = "are"
		case t == "y" && g.chance(0.3):
			t = "why"
		case t == "q" && g.chance(0.3):
			t = "queue"
		}
		if inNum && i > 0 && words[i-1].ent == x.ent && g.chance(0.03) {
			noisy = append(noisy, sw{text: "uh", typ: x.typ, ent: x.ent})
		}
		if _, digit := unitWords[x.text]; digit && inNum && g.chance(0.01) {
			continue // a digit the recogniser dropped
		}
		noisy = append(noisy, sw{text: t, typ: x.typ, ent: x.ent})
	}
	u.Spoken, u.SpokenSpans = emit(noisy)
	return u
}

// opener and closer wrap an utterance in contact-centre talk.
func (g *gen) opener() []part {
	switch g.r.IntN(6) {
	case 0:
		return []part{lit("Sure,")}
	case 1:
		return []part{lit("Yes, of course.")}
	case 2:
		return []part{lit("Okay so")}
	case 3:
		return []part{lit("Right,")}
	}
	return nil
}

func (g *gen) closer() []part {
	switch g.r.IntN(6) {
	case 0:
		return []part{lit(". Thanks.")}
	case 1:
		return []part{lit(", is that okay?")}
	case 2:
		return []part{lit(". Can you check that for me?")}
	}
	return []part{lit(".")}
}

func wrap(g *gen, ps ...part) []part {
	out := g.opener()
	out = append(out, ps...)
	return append(out, g.closer()...)
}

// utterance generates one utterance featuring kind.
func (g *gen) utterance(kind string) []part {
	switch Entity(kind) {
	case Card:
		ds, gr := g.cardNumber()
		c := g.cardPart(ds, gr)
		switch g.r.IntN(9) {
		case 0:
			return wrap(g, lit("my card number is"), c)
		case 1:
			return wrap(g, lit(g.pick("It's a Visa,", "It's a Mastercard,", "It's an Amex,")), c)
		case 2:
			return wrap(g, lit("the long number on the front is"), c)
		case 3:
			return wrap(g, lit("can you put it on"), c)
		case 4:
			return wrap(g, lit("my debit card is"), c, lit("and it expires"), g.expiryPart())
		case 5:
			return wrap(g, lit("card number"), c, lit(", expiry"), g.expiryPart(), lit(", security code"), g.cvvPart(3))
		case 6:
			return wrap(g, c)
		case 7:
			return wrap(g, lit("I'd like to pay with the card ending"), part{w: ds[len(ds)-4:], s: g.sayDigits(ds[len(ds)-4:], nil, false)},
				lit(". The full number is"), c)
		default:
			return wrap(g, lit("please charge"), c, lit("for the balance"))
		}
	case CardExpiry:
		switch g.r.IntN(4) {
		case 0:
			return wrap(g, lit("the expiry date is"), g.expiryPart())
		case 1:
			return wrap(g, lit("it expires"), g.expiryPart())
		case 2:
			return wrap(g, lit("valid thru"), g.expiryPart())
		default:
			return wrap(g, lit("expiration"), g.expiryPart())
		}
	case CardCVV:
		n := 3
		if g.chance(0.15) {
			n = 4
		}
		switch g.r.IntN(4) {
		case 0:
			return wrap(g, lit("the security code is"), g.cvvPart(n))
		case 1:
			return wrap(g, lit("CVV"), g.cvvPart(n))
		case 2:
			return wrap(g, lit("the three digits on the back are"), g.cvvPart(n))
		default:
			return wrap(g, lit("the CVC is"), g.cvvPart(n))
		}
	case SSN:
		ds := g.ssnDigits()
		var w string
		switch g.r.IntN(3) {
		case 0, 1:
			w = ds[:3] + "-" + ds[3:5] + "-" + ds[5:]
		default:
			w = ds[:3] + " " + ds[3:5] + " " + ds[5:]
		}
		p := part{w: w, s: g.sayDigits(ds, []int{3, 2, 4}, false), typ: SSN}
		switch g.r.IntN(4) {
		case 0:
			return wrap(g, lit("my social security number is"), p)
		case 1:
			return wrap(g, lit("SSN"), p)
		case 2:
			return wrap(g, lit("my social is"), p)
		default:
			return wrap(g, lit("the last four of my social are"), part{w: ds[5:], s: g.sayDigits(ds[5:], nil, false)},
				lit(", the whole thing is"), p)
		}
	case NINumber:
		ni := g.niNumber()
		var w string
		if g.chance(0.5) {
			w = ni[:2] + " " + ni[2:4] + " " + ni[4:6] + " " + ni[6:8] + " " + ni[8:]
		} else {
			w = ni
		}
		p := part{w: w, s: g.sayCode(ni), typ: NINumber}
		switch g.r.IntN(3) {
		case 0:
			return wrap(g, lit("my national insurance number is"), p)
		case 1:
			return wrap(g, lit("NI number"), p)
		default:
			return wrap(g, lit("it's"), p, lit(", my national insurance"))
		}
	case IBAN:
		ib := g.iban()
		var gs []string
		for i := 0; i < len(ib); i += 4 {
			gs = append(gs, ib[i:min(i+4, len(ib))])
		}
		p := part{w: strings.Join(gs, " "), s: g.sayCode(ib), typ: IBAN}
		switch g.r.IntN(3) {
		case 0:
			return wrap(g, lit("my IBAN is"), p)
		case 1:
			return wrap(g, lit("IBAN:"), p)
		default:
			return wrap(g, lit("please send the refund to"), p)
		}
	case BankAccount:
		n := g.pick("8", "8", "10", "12")
		k, _ := strconv.Atoi(n)
		ds := g.digits(k)
		p := part{w: ds, s: g.sayDigits(ds, nil, false), typ: BankAccount}
		switch g.r.IntN(4) {
		case 0:
			return wrap(g, lit("my account number is"), p)
		case 1:
			return wrap(g, lit("account number"), p)
		case 2:
			return wrap(g, lit("the checking account is"), p)
		default:
			sc := g.digits(6)
			return wrap(g, lit("sort code"), part{w: sc[:2] + "-" + sc[2:4] + "-" + sc[4:], s: g.sayDigits(sc, []int{2, 2, 2}, g.chance(0.5)), typ: RoutingNumber},
				lit(", account number"), p)
		}
	case RoutingNumber:
		if g.chance(0.5) {
			ds := g.abaRouting()
			return wrap(g, lit(g.pick("the routing number is", "routing", "ABA number")), part{w: ds, s: g.sayDigits(ds, nil, false), typ: RoutingNumber})
		}
		sc := g.digits(6)
		return wrap(g, lit(g.pick("my sort code is", "sort code")), part{w: sc[:2] + "-" + sc[2:4] + "-" + sc[4:], s: g.sayDigits(sc, []int{2, 2, 2}, g.chance(0.5)), typ: RoutingNumber})
	case Phone:
		w, s := g.phone()
		p := part{w: w, s: s, typ: Phone}
		switch g.r.IntN(5) {
		case 0:
			return wrap(g, lit("you can reach me on"), p)
		case 1:
			return wrap(g, lit("my number is"), p)
		case 2:
			return wrap(g, lit("call me back at"), p)
		case 3:
			return wrap(g, lit("my mobile is"), p)
		default:
			return wrap(g, lit("it's"), p)
		}
	case Email:
		w, s := g.email()
		p := part{w: w, s: s, typ: Email}
		switch g.r.IntN(4) {
		case 0:
			return wrap(g, lit("my email is"), p)
		case 1:
			return wrap(g, lit("you can email me at"), p)
		case 2:
			return wrap(g, lit("send it to"), p)
		default:
			return wrap(g, lit("the email address on the account is"), p)
		}
	case DateOfBirth:
		w, s := g.date(1940, 2005)
		p := part{w: w, s: s, typ: DateOfBirth}
		switch g.r.IntN(4) {
		case 0:
			return wrap(g, lit("my date of birth is"), p)
		case 1:
			return wrap(g, lit("I was born on"), p)
		case 2:
			return wrap(g, lit("DOB"), p)
		default:
			return wrap(g, lit("date of birth,"), p)
		}
	case Address:
		w, s := g.street()
		p := part{w: w, s: s, typ: Address}
		switch g.r.IntN(4) {
		case 0:
			return wrap(g, lit("I live at"), p)
		case 1:
			return wrap(g, lit("the address is"), p, lit(", "+g.pick(towns...)))
		case 2:
			pc := g.ukPostcodeGen()
			return wrap(g, lit("it's"), p, lit(", "+g.pick(towns[:6]...)), part{w: pc, s: g.sayCode(pc), typ: Postcode})
		default:
			st := states[g.r.IntN(len(states))]
			z := g.digits(5)
			return wrap(g, lit("please send it to"), p, lit(", "+g.pick(towns[6:]...)+","), part{w: st.w, s: st.s},
				part{w: z, s: g.sayDigits(z, nil, false), typ: Postcode})
		}
	case Postcode:
		if g.chance(0.6) {
			pc := g.ukPostcodeGen()
			return wrap(g, lit(g.pick("my postcode is", "postcode", "the post code is")), part{w: pc, s: g.sayCode(pc), typ: Postcode})
		}
		z := g.digits(5)
		return wrap(g, lit(g.pick("my zip code is", "zip", "the zip is")), part{w: z, s: g.sayDigits(z, nil, false), typ: Postcode})
	case PIN:
		n := 4
		if g.chance(0.3) {
			n = 6
		}
		ds := g.digits(n)
		p := part{w: ds, s: g.sayDigits(ds, nil, false), typ: PIN}
		switch g.r.IntN(4) {
		case 0:
			return wrap(g, lit("my PIN is"), p)
		case 1:
			return wrap(g, lit("the passcode is"), p)
		case 2:
			return wrap(g, lit("the one time code you sent is"), p)
		default:
			return wrap(g, lit("PIN number"), p)
		}
	case Password:
		word := g.pick(passwordWords...)
		n := 10 + g.r.IntN(90)
		var p part
		switch g.r.IntN(3) {
		case 0:
			p = part{w: strings.ToUpper(word[:1]) + word[1:] + strconv.Itoa(n) + "!", s: word + " " + g.sayDigits(strconv.Itoa(n), nil, false), typ: Password}
		case 1:
			p = part{w: word + strconv.Itoa(n), s: word + " " + cardinal(n), typ: Password}
		default:
			p = part{w: word, s: word, typ: Password}
		}
		switch g.r.IntN(3) {
		case 0:
			return append(g.opener(), lit("my password is"), p, lit("and I'd like to reset it."))
		case 1:
			return append(g.opener(), lit("the memorable word is"), p, lit(". Thanks."))
		default:
			return append(g.opener(), lit("password:"), p)
		}
	}
	return g.nearMiss(kind)
}

// nearMiss generates utterances with numbers and words that look
// sensitive but are not.
func (g *gen) nearMiss(kind string) []part {
	switch kind {
	case "near_miss_order":
		for {
			ds, gr := g.cardNumber()
			bad := ds[:len(ds)-1] + string('0'+(ds[len(ds)-1]-'0'+1+byte(g.r.IntN(9)))%10)
			if luhn([]byte(bad)) {
				continue
			}
			p := part{w: groupString(bad, gr, " "), s: g.sayDigits(bad, gr, false)}
			switch g.r.IntN(4) {
			case 0:
				return wrap(g, lit("my order number is"), p)
			case 1:
				return wrap(g, lit("the tracking number is"), p)
			case 2:
				return wrap(g, lit("I'm calling about"), p)
			default:
				return wrap(g, lit("reference"), p)
			}
		}
	case "near_miss_amount":
		n := 5 + g.r.IntN(5000)
		c := g.r.IntN(100)
		switch g.r.IntN(4) {
		case 0:
			return wrap(g, part{w: fmt.Sprintf("the balance is $%d.%02d", n, c), s: "the balance is " + cardinal(n) + " dollars and " + cardinal(c) + " cents"})
		case 1:
			return wrap(g, part{w: fmt.Sprintf("I was charged £%d twice", n), s: "i was charged " + cardinal(n) + " pounds twice"})
		case 2:
			return wrap(g, part{w: fmt.Sprintf("the payment of %d dollars went out on the %s", n, []string{"1st", "2nd", "15th", "28th"}[g.r.IntN(4)]),
				s: "the payment of " + cardinal(n) + " dollars went out on the " + g.pick("first", "second", "fifteenth", "twenty eighth")})
		default:
			return wrap(g, part{w: fmt.Sprintf("can I pay %d pounds a month over %d months", n%500+10, 6+g.r.IntN(30)),
				s: "can i pay " + cardinal(n%500+10) + " pounds a month over " + cardinal(6+g.r.IntN(30)) + " months"})
		}
	case "near_miss_time":
		h, m := 1+g.r.IntN(12), 5*g.r.IntN(12)
		switch g.r.IntN(3) {
		case 0:
			return wrap(g, part{w: fmt.Sprintf("can you call me back at %d:%02d", h, m), s: "can you call me back at " + cardinal(h) + " " + g.pair(fmt.Sprintf("%02d", m), "oh")})
		case 1:
			return wrap(g, part{w: fmt.Sprintf("the branch opens at %d am and closes at %d pm", h, 1+g.r.IntN(11)), s: "the branch opens at " + cardinal(h) + " a m and closes at " + cardinal(1+g.r.IntN(11)) + " p m"})
		default:
			return wrap(g, part{w: fmt.Sprintf("I've been on hold for %d minutes since %d:%02d", 10+g.r.IntN(50), h, m),
				s: "i've been on hold for " + cardinal(10+g.r.IntN(50)) + " minutes since " + cardinal(h) + " " + g.pair(fmt.Sprintf("%02d", m), "oh")})
		}
	case "near_miss_reference":
		w, s := g.phone()
		for strings.HasPrefix(w, "+") {
			w, s = g.phone()
		}
		switch g.r.IntN(4) {
		case 0:
			return wrap(g, lit("your case reference is"), part{w: w, s: s})
		case 1:
			return wrap(g, lit("the ticket number is"), part{w: w, s: s})
		case 2:
			return wrap(g, lit("I have a complaint reference"), part{w: w, s: s})
		default:
			return wrap(g, lit("my booking reference is"), part{w: w, s: s})
		}
	case "near_miss_date":
		w, s := g.date(2024, 2026)
		return wrap(g, lit(g.pick("the payment is due on", "I called on", "the statement from", "the transfer went out on")), part{w: w, s: s})
	case "near_miss_count":
		n := 2 + g.r.IntN(30)
		switch g.r.IntN(4) {
		case 0:
			return wrap(g, lit(fmt.Sprintf("I've been a customer for %d years", n)))
		case 1:
			return wrap(g, lit(fmt.Sprintf("I waited %d minutes on the high street", n)))
		case 2:
			return wrap(g, lit(fmt.Sprintf("there are %d transactions I don't recognise", n)))
		default:
			return wrap(g, lit(fmt.Sprintf("I have %d accounts and %d cards with you", 1+n%4, 1+n%3)))
		}
	case "near_miss_words":
		return wrap(g, lit(g.pick("I'll be at home after work", "meet me at the branch on Station Road",
			"look at my last statement", "can you send it by email", "I forgot my password",
			"my card was declined at the shop", "what's the routing for international transfers",
			"I need to update my address", "the security code didn't arrive", "I'd like a new PIN")))
	}
	// dialogue without anything sensitive
	return wrap(g, lit(g.pick("thank you for calling, how can I help you today",
		"I'd like to dispute a charge on my statement", "can I speak to someone about my mortgage",
		"I'm sorry to hear that, let me look into it", "is there anything else I can help with",
		"my direct debit didn't go through this month", "I want to close my savings account",
		"could you explain the fees on my account", "I moved house last month", "I lost my card yesterday")))
}

// generateEvalSet builds the whole set.
func generateEvalSet() []evalUtt {
	g := &gen{r: rand.New(rand.NewPCG(evalSeed, 2026))}
	var kinds []string
	for _, e := range Entities {
		for range perEntity {
			kinds = append(kinds, string(e))
		}
	}
	near := map[string]int{"near_miss_order": 60, "near_miss_amount": 40, "near_miss_time": 30,
		"near_miss_reference": 50, "near_miss_date": 30, "near_miss_count": 30, "near_miss_words": 30, "dialogue": 30}
	for _, k := range []string{"near_miss_order", "near_miss_amount", "near_miss_time", "near_miss_reference",
		"near_miss_date", "near_miss_count", "near_miss_words", "dialogue"} {
		for range near[k] {
			kinds = append(kinds, k)
		}
	}
	g.r.Shuffle(len(kinds), func(i, j int) { kinds[i], kinds[j] = kinds[j], kinds[i] })
	out := make([]evalUtt, 0, len(kinds))
	count := map[string]int{}
	for i, k := range kinds {
		u := g.build(fmt.Sprintf("u%04d", i+1), k, g.utterance(k))
		// Alternate by kind so each half has every kind equally.
		count[k]++
		u.Split = "dev"
		if count[k]%2 == 0 {
			u.Split = "test"
		}
		out = append(out, u)
	}
	return out
}

// generateEvalDev2 builds the second development set (testdata/eval-dev2.jsonl).
func generateEvalDev2() []evalUtt {
	return generateEvalExtra(evalDev2Seed, "d", "dev2")
}

// generateEvalDev3 builds the third development set (testdata/eval-dev3.jsonl).
func generateEvalDev3() []evalUtt {
	return generateEvalExtra(evalDev3Seed, "e", "dev3")
}

// generateEvalExtra builds a card-heavy development set of the kinds in
// evalDev2Kinds from seed, its ids prefix-numbered, every utterance in split.
func generateEvalExtra(seed uint64, prefix, split string) []evalUtt {
	g := &gen{r: rand.New(rand.NewPCG(seed, 2026))}
	var kinds []string
	for _, k := range evalDev2Kinds {
		for range k.n {
			kinds = append(kinds, k.kind)
		}
	}
	g.r.Shuffle(len(kinds), func(i, j int) { kinds[i], kinds[j] = kinds[j], kinds[i] })
	out := make([]evalUtt, 0, len(kinds))
	for i, k := range kinds {
		u := g.build(fmt.Sprintf("%s%04d", prefix, i+1), k, g.utterance(k))
		u.Split = split
		out = append(out, u)
	}
	return out
}

func encodeEvalSet(us []evalUtt) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	for _, u := range us {
		if err := enc.Encode(u); err != nil {
			panic(err)
		}
	}
	return b.Bytes()
}

// loadEvalSet reads testdata/eval.jsonl, or the second or third
// development set when EARSHOT_EVAL_REDACT_SPLIT is "dev2" or "dev3".
func loadEvalSet(t testing.TB) []evalUtt {
	t.Helper()
	switch os.Getenv("EARSHOT_EVAL_REDACT_SPLIT") {
	case "dev2":
		return loadEvalFile(t, evalDev2Path)
	case "dev3":
		return loadEvalFile(t, evalDev3Path)
	}
	return loadEvalFile(t, evalPath)
}

func loadEvalFile(t testing.TB, evalPath string) []evalUtt {
	t.Helper()
	b, err := os.ReadFile(evalPath)
	if err != nil {
		t.Fatal(err)
	}
	var out []evalUtt
	for i, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
		var u evalUtt
		if err := json.Unmarshal(line, &u); err != nil {
			t.Fatalf("%s:%d: %v", evalPath, i+1, err)
		}
		out = append(out, u)
	}
	return out
}

// checkGenerated compares a committed set with the generator's output
// (rewriting it first under -update).
func checkGenerated(t *testing.T, path string, want []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to generate)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s differs from the generator's output; run go test -run TestEvalSetUpToDate -update", path)
	}
}

func TestEvalSetUpToDate(t *testing.T) {
	checkGenerated(t, evalPath, encodeEvalSet(generateEvalSet()))
	checkGenerated(t, evalDev2Path, encodeEvalSet(generateEvalDev2()))
	checkGenerated(t, evalDev3Path, encodeEvalSet(generateEvalDev3()))
	us := loadEvalFile(t, evalPath)
	if len(us) < 1000 {
		t.Fatalf("%d utterances, want at least 1000", len(us))
	}
	dev2 := loadEvalFile(t, evalDev2Path)
	dev3 := loadEvalFile(t, evalDev3Path)
	seen := map[string]string{}
	for _, u := range us {
		seen[u.Say] = evalPath
	}
	for _, set := range []struct {
		path string
		us   []evalUtt
	}{{evalDev2Path, dev2}, {evalDev3Path, dev3}} {
		for _, u := range set.us {
			// A later development set must not repeat a reported
			// utterance (a card number, above all) nor one of an
			// earlier development set.
			if from, ok := seen[u.Say]; ok && len(u.SaySpans) > 0 {
				t.Errorf("%s of %s repeats an utterance of %s: %q", u.ID, set.path, from, u.Say)
			}
		}
		for _, u := range set.us {
			if _, ok := seen[u.Say]; !ok {
				seen[u.Say] = set.path
			}
		}
	}
	for _, u := range slices.Concat(us, dev2, dev3) {
		for _, f := range []struct {
			text  string
			spans []evalSpan
		}{{u.Written, u.WrittenSpans}, {u.Say, u.SaySpans}, {u.Spoken, u.SpokenSpans}} {
			for _, s := range f.spans {
				if s.Start < 0 || s.End > len(f.text) || s.Start >= s.End {
					t.Fatalf("%s: span %+v out of %q", u.ID, s, f.text)
				}
			}
		}
		if len(u.WrittenSpans) != len(u.SaySpans) {
			t.Errorf("%s: %d written spans, %d spoken", u.ID, len(u.WrittenSpans), len(u.SaySpans))
		}
	}
}
