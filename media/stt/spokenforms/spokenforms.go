// Package spokenforms generates a corpus of the spoken forms contact-centre
// callers use when they give details to an agent or a virtual agent: card,
// account, phone and sort-code numbers read as digit strings (with "oh",
// "zero", "double" and "triple"), zip codes and postcodes, dates of birth
// and other dates, years, times, amounts of money, names, words and e-mail
// addresses spelled letter by letter (plainly and with "as in" spelling
// alphabets), and yes/no confirmations, each with and without the carrier
// phrases callers put around them ("my card number is ...").
//
// The recogniser's general model is trained on broadcast and written
// English, where such forms are rare, so it prefers a similar-sounding
// common word to a digit or a letter ("for" to "four", "see" to "c"). A
// language model counted from this corpus (media/stt/lm) and interpolated
// with the general one at a small weight raises their probability without
// taking free speech away from the general model.
//
// The corpus is made from the templates and word lists in this package
// alone (no call data, no evaluation data), from a fixed seed, so the
// same build always gives the same model.
package spokenforms

import (
	"math/rand/v2"
	"strings"
)

// Seed is the generator's fixed seed.
const Seed = 20261207

// DefaultSentences is the corpus size used by the recogniser: large enough
// that every form's n-grams are counted many times, small enough to build
// in well under a second.
const DefaultSentences = 20000

// Form names a kind of spoken form.
type Form string

// The forms Generate covers.
const (
	FormDigits     Form = "digits"   // card, account, phone numbers
	FormSortCode   Form = "sortcode" // sort codes, short codes
	FormZip        Form = "zip"      // zip codes
	FormPostcode   Form = "postcode" // UK postcodes
	FormDate       Form = "date"     // dates, dates of birth
	FormYear       Form = "year"     // years on their own
	FormTime       Form = "time"     // times of day
	FormAmount     Form = "amount"   // amounts of money
	FormSpelled    Form = "spelled"  // names and words letter by letter
	FormPhonetic   Form = "phonetic" // "a as in alpha"
	FormEmail      Form = "email"    // e-mail addresses
	FormConfirm    Form = "confirm"  // yes/no and confirmations
	FormNumberWord Form = "number"   // counts and quantities
)

// Forms are all forms, in the order Generate cycles through them.
var Forms = []Form{FormDigits, FormSortCode, FormZip, FormPostcode, FormDate, FormYear, FormTime, FormAmount,
	FormSpelled, FormPhonetic, FormEmail, FormConfirm, FormNumberWord}

// weights is how many sentences of each form come in a cycle: digit
// strings and spelled letters are what callers say most and what the
// general model knows least.
var weights = map[Form]int{
	FormDigits: 6, FormSortCode: 1, FormZip: 2, FormPostcode: 1, FormDate: 3, FormYear: 1, FormTime: 1,
	FormAmount: 1, FormSpelled: 5, FormPhonetic: 1, FormEmail: 1, FormConfirm: 2, FormNumberWord: 1,
}

// Sentence is one generated sentence and its form.
type Sentence struct {
	Form Form
	Text string
}

// Generate returns n sentences, the same n sentences for the same n.
func Generate(n int) []Sentence {
	g := &gen{r: rand.New(rand.NewPCG(Seed, Seed>>1))}
	var cycle []Form
	for _, f := range Forms {
		for range weights[f] {
			cycle = append(cycle, f)
		}
	}
	out := make([]Sentence, 0, n)
	for i := 0; i < n; i++ {
		f := cycle[i%len(cycle)]
		out = append(out, Sentence{Form: f, Text: g.form(f)})
	}
	return out
}

// Text returns the n sentences one per line.
func Text(n int) string {
	var b strings.Builder
	for _, s := range Generate(n) {
		b.WriteString(s.Text)
		b.WriteByte('\n')
	}
	return b.String()
}

type gen struct{ r *rand.Rand }

func (g *gen) pick(xs []string) string { return xs[g.r.IntN(len(xs))] }
func (g *gen) chance(p float64) bool   { return g.r.Float64() < p }

// wrap puts a carrier phrase before (and sometimes a tail after) what, or
// leaves it bare: callers often answer a question with the value alone.
func (g *gen) wrap(what string, carriers []string) string {
	s := what
	if g.chance(0.55) {
		s = strings.Replace(g.pick(carriers), "X", what, 1)
	}
	if g.chance(0.12) {
		s = g.pick(openers) + " " + s
	}
	if g.chance(0.08) {
		s += " " + g.pick(tails)
	}
	return s
}

func (g *gen) form(f Form) string {
	switch f {
	case FormDigits:
		return g.digitsSentence()
	case FormSortCode:
		return g.wrap(g.groups([]int{2, 2, 2}), sortCarriers)
	case FormZip:
		s := g.digitString(5)
		if g.chance(0.15) {
			s += " " + g.pick([]string{"dash", "hyphen"}) + " " + g.digitString(4)
		}
		return g.wrap(s, zipCarriers)
	case FormPostcode:
		return g.wrap(g.postcode(), postcodeCarriers)
	case FormDate:
		return g.wrap(g.date(), dateCarriers)
	case FormYear:
		return g.wrap(g.year(), yearCarriers)
	case FormTime:
		return g.wrap(g.timeOfDay(), timeCarriers)
	case FormAmount:
		return g.wrap(g.amount(), amountCarriers)
	case FormSpelled:
		return g.spelledSentence()
	case FormPhonetic:
		return g.phonetic()
	case FormEmail:
		return g.wrap(g.email(), emailCarriers)
	case FormConfirm:
		return g.confirm()
	case FormNumberWord:
		return g.wrap(g.cardinal(1+g.r.IntN(999)), countCarriers)
	}
	return ""
}

var digitWords = []string{"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"}

// digit reads d: 0 as "oh" when oh is set.
func digit(d int, oh bool) string {
	if d == 0 && oh {
		return "oh"
	}
	return digitWords[d]
}

// readDigits reads a digit sequence one by one, with "double" and
// "triple" for runs some of the time.
func (g *gen) readDigits(ds []int) string {
	var w []string
	doubles := g.chance(0.35)
	// Callers say 0 as "oh" more often than "zero", mostly the same way
	// through a number.
	oh := g.chance(0.6)
	for i := 0; i < len(ds); {
		if g.chance(0.05) {
			oh = !oh
		}
		j := i
		for j < len(ds) && ds[j] == ds[i] {
			j++
		}
		run := j - i
		if doubles && run == 3 && g.chance(0.5) {
			w = append(w, "triple", digit(ds[i], oh))
			i += 3
			continue
		}
		if doubles && run >= 2 {
			w = append(w, "double", digit(ds[i], oh))
			i += 2
			continue
		}
		w = append(w, digit(ds[i], oh))
		i++
	}
	return strings.Join(w, " ")
}

func (g *gen) randDigits(n int) []int {
	ds := make([]int, n)
	for i := range ds {
		ds[i] = g.r.IntN(10)
		// Repeated digits are common in real numbers; make them so here.
		if i > 0 && g.chance(0.12) {
			ds[i] = ds[i-1]
		}
	}
	return ds
}

func (g *gen) digitString(n int) string { return g.readDigits(g.randDigits(n)) }

// groups reads digit groups with a short pause word between some.
func (g *gen) groups(sizes []int) string {
	var parts []string
	for i, n := range sizes {
		if i > 0 && g.chance(0.1) {
			parts = append(parts, g.pick([]string{"dash", "then"}))
		}
		parts = append(parts, g.digitString(n))
	}
	return strings.Join(parts, " ")
}

func (g *gen) digitsSentence() string {
	switch g.r.IntN(6) {
	case 0, 1: // card numbers: 16 digits, sometimes in fours, or the last four
		if g.chance(0.3) {
			return g.wrap(g.digitString(4), lastFourCarriers)
		}
		return g.wrap(g.groups([]int{4, 4, 4, 4}), cardCarriers)
	case 2: // account numbers, 6-12 digits
		return g.wrap(g.digitString(6+g.r.IntN(7)), accountCarriers)
	case 3: // phone numbers: 3-3-4, or 11 digits from 0
		if g.chance(0.5) {
			return g.wrap(g.groups([]int{3, 3, 4}), phoneCarriers)
		}
		return g.wrap(g.readDigits(append([]int{0}, g.randDigits(10)...)), phoneCarriers)
	case 4: // reference and policy numbers, any length 4-19
		return g.wrap(g.digitString(4+g.r.IntN(16)), refCarriers)
	default: // PINs, security codes, extensions
		return g.wrap(g.digitString(3+g.r.IntN(4)), codeCarriers)
	}
}

var letters = strings.Split("abcdefghijklmnopqrstuvwxyz", "")

// spell reads a word letter by letter, with "double" for a repeated letter
// some of the time.
func (g *gen) spell(word string) string {
	var w []string
	doubles := g.chance(0.3)
	var rs []rune
	for _, r := range word {
		if r >= 'a' && r <= 'z' { // "o'brien" is spelled o b r i e n
			rs = append(rs, r)
		}
	}
	for i := 0; i < len(rs); i++ {
		if doubles && i+1 < len(rs) && rs[i+1] == rs[i] {
			w = append(w, "double", string(rs[i]))
			i++
			continue
		}
		w = append(w, string(rs[i]))
	}
	return strings.Join(w, " ")
}

func (g *gen) randLetters(n int) string {
	var b strings.Builder
	for range n {
		b.WriteString(g.pick(letters))
	}
	return b.String()
}

func (g *gen) spelledSentence() string {
	switch g.r.IntN(5) {
	case 0, 1:
		return g.sayAndSpell(surnames, surnameCarriers)
	case 2:
		return g.sayAndSpell(firstNames, firstNameCarriers)
	case 3:
		city := g.pick(cities)
		return g.wrap(g.spell(city), cityCarriers)
	default: // references and codes of random letters, sometimes with digits
		s := g.spell(g.randLetters(2 + g.r.IntN(5)))
		if g.chance(0.4) {
			s += " " + g.digitString(2+g.r.IntN(5))
		}
		return g.wrap(s, refCarriers)
	}
}

// sayAndSpell spells a name from names, said first some of the time
// ("smith s m i t h").
func (g *gen) sayAndSpell(names, carriers []string) string {
	name := g.pick(names)
	s := g.spell(name)
	if g.chance(0.4) {
		s = name + " " + s
	}
	return g.wrap(s, carriers)
}

var alphabet = []string{"alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet",
	"kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo", "sierra", "tango", "uniform", "victor",
	"whiskey", "x-ray", "yankee", "zulu"}

// plainAs are the everyday words callers use for "as in" instead of the
// spelling alphabet.
var plainAs = []string{"apple", "boy", "cat", "dog", "edward", "frank", "george", "harry", "ice", "john", "king",
	"london", "mary", "nancy", "orange", "peter", "queen", "robert", "sam", "tom", "umbrella", "victor", "william",
	"x-ray", "yellow", "zebra"}

func (g *gen) phonetic() string {
	word := g.pick(surnames)
	if g.chance(0.3) {
		word = g.randLetters(3 + g.r.IntN(4))
	}
	var parts []string
	for _, r := range word {
		i := int(r - 'a')
		if i < 0 || i >= 26 {
			continue
		}
		switch {
		case g.chance(0.4):
			parts = append(parts, string(r))
		case g.chance(0.5):
			parts = append(parts, string(r)+" as in "+alphabet[i])
		case g.chance(0.5):
			parts = append(parts, string(r)+" for "+plainAs[i])
		default:
			parts = append(parts, alphabet[i])
		}
	}
	return g.wrap(strings.Join(parts, " "), surnameCarriers)
}

func (g *gen) email() string {
	var user string
	switch g.r.IntN(3) {
	case 0:
		user = g.spell(g.pick(firstNames)) + " " + g.pick([]string{"dot", "underscore", "dot"}) + " " + g.spell(g.pick(surnames))
	case 1:
		user = g.spell(g.pick(firstNames)[:1] + g.pick(surnames))
	default:
		user = g.pick(firstNames) + " " + g.digitString(2+g.r.IntN(3))
	}
	domain := g.pick(mailDomains)
	return user + " at " + domain
}

var mailDomains = []string{"gmail dot com", "yahoo dot com", "hotmail dot com", "outlook dot com", "hotmail dot co dot uk",
	"aol dot com", "icloud dot com", "comcast dot net", "live dot com", "mail dot com"}

var months = []string{"january", "february", "march", "april", "may", "june", "july", "august", "september",
	"october", "november", "december"}

var ordinals = []string{"", "first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth",
	"tenth", "eleventh", "twelfth", "thirteenth", "fourteenth", "fifteenth", "sixteenth", "seventeenth",
	"eighteenth", "nineteenth", "twentieth", "twenty first", "twenty second", "twenty third", "twenty fourth",
	"twenty fifth", "twenty sixth", "twenty seventh", "twenty eighth", "twenty ninth", "thirtieth", "thirty first"}

var ones = []string{"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven",
	"twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"}
var tens = []string{"", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"}

// under100 reads 0-99 as words.
func under100(n int) string {
	if n < 20 {
		return ones[n]
	}
	if n%10 == 0 {
		return tens[n/10]
	}
	return tens[n/10] + " " + ones[n%10]
}

// cardinal reads 0-999999 as words, "and" after hundreds some of the time
// (British callers say it, American ones mostly do not).
func (g *gen) cardinal(n int) string {
	var parts []string
	if n >= 1000 {
		parts = append(parts, g.cardinal(n/1000), "thousand")
		n %= 1000
		if n == 0 {
			return strings.Join(parts, " ")
		}
	}
	if n >= 100 {
		parts = append(parts, ones[n/100], "hundred")
		n %= 100
		if n == 0 {
			return strings.Join(parts, " ")
		}
		if g.chance(0.5) {
			parts = append(parts, "and")
		}
	}
	parts = append(parts, under100(n))
	return strings.Join(parts, " ")
}

// year reads a year 1925-2029 the way it is said.
func (g *gen) year() string {
	y := 1925 + g.r.IntN(105)
	if y >= 2000 && y < 2010 {
		switch {
		case y == 2000:
			return "two thousand"
		case g.chance(0.5):
			return "two thousand and " + ones[y%10]
		case g.chance(0.6):
			return "two thousand " + ones[y%10]
		}
		return "twenty oh " + ones[y%10]
	}
	if y >= 2010 && g.chance(0.4) {
		return "two thousand and " + under100(y%100)
	}
	hi, lo := y/100, y%100
	s := under100(hi) + " "
	switch {
	case lo == 0:
		s += "hundred"
	case lo < 10:
		s += "oh " + ones[lo]
	default:
		s += under100(lo)
	}
	return s
}

func (g *gen) date() string {
	m := g.r.IntN(12)
	d := 1 + g.r.IntN(28)
	var s string
	switch g.r.IntN(5) {
	case 0:
		s = "the " + ordinals[d] + " of " + months[m]
	case 1:
		s = months[m] + " " + ordinals[d]
	case 2:
		s = months[m] + " " + under100(d)
	case 3: // numeric: "oh three oh seven eighty two", "twelve five nineteen ninety"
		s = g.digitString(2) + " " + g.digitString(2)
	default:
		s = months[m] + " the " + ordinals[d]
	}
	if g.chance(0.6) {
		s += " " + g.year()
	}
	return s
}

func (g *gen) timeOfDay() string {
	h := 1 + g.r.IntN(12)
	min := g.r.IntN(12) * 5
	var s string
	switch {
	case min == 0 && g.chance(0.5):
		s = ones[h] + " o'clock"
	case min == 0:
		s = under100(h)
	case min == 15 && g.chance(0.5):
		s = "quarter past " + under100(h)
	case min == 30 && g.chance(0.5):
		s = "half past " + under100(h)
	case min < 10:
		s = under100(h) + " oh " + ones[min]
	default:
		s = under100(h) + " " + under100(min)
	}
	if g.chance(0.5) {
		s += " " + g.pick([]string{"a m", "p m", "in the morning", "in the afternoon", "in the evening"})
	}
	return s
}

func (g *gen) amount() string {
	units := g.pick([]string{"dollars", "pounds", "euros", "dollars", "pounds"})
	cents := map[string]string{"dollars": "cents", "pounds": "pence", "euros": "cents"}[units]
	var n int
	switch g.r.IntN(3) {
	case 0:
		n = 1 + g.r.IntN(100)
	case 1:
		n = 100 + g.r.IntN(900)
	default:
		n = 1000 + g.r.IntN(20000)
	}
	s := g.cardinal(n) + " " + units
	if g.chance(0.35) {
		c := 1 + g.r.IntN(99)
		if g.chance(0.5) {
			s += " and " + under100(c) + " " + cents
		} else {
			s = g.cardinal(n) + " " + under100(c)
		}
	}
	return s
}

func (g *gen) postcode() string {
	area := g.randLetters(1 + g.r.IntN(2))
	var parts []string
	parts = append(parts, g.spell(area), g.digitString(1+g.r.IntN(2)), ones[g.r.IntN(10)], g.spell(g.randLetters(2)))
	return strings.Join(parts, " ")
}

func (g *gen) confirm() string {
	s := g.pick(confirmations)
	if g.chance(0.25) {
		s += " " + g.pick(confirmations)
	}
	return s
}

var confirmations = []string{"yes", "no", "yeah", "yep", "nope", "yes please", "no thank you", "no thanks",
	"that's right", "that's correct", "correct", "yes that's correct", "yes that's right", "no that's wrong",
	"no that's not right", "that's it", "okay", "ok", "sure", "of course", "absolutely", "please", "go ahead",
	"i'm not sure", "i don't know", "can you repeat that", "sorry say that again", "one moment", "hold on",
	"let me check", "just a second", "that's all", "that's everything", "yes it is", "no it isn't", "yes i do",
	"no i don't", "i did", "i didn't", "all right", "thank you", "thanks", "exactly", "right", "wrong",
	"not quite", "that's my name", "speaking", "it's me"}

var openers = []string{"yes", "yeah", "okay", "um", "uh", "so", "sure", "right", "it's", "yes it's", "okay so"}
var tails = []string{"thank you", "please", "thanks", "i think", "that's it", "is that right", "did you get that"}

var cardCarriers = []string{"my card number is X", "the card number is X", "card number X", "it's X",
	"the long number on the card is X", "my credit card number is X", "my debit card number is X", "the number is X",
	"X is the card number"}
var lastFourCarriers = []string{"the last four digits are X", "last four X", "it ends in X", "ending in X",
	"the card ends X", "the last four are X"}
var accountCarriers = []string{"my account number is X", "the account number is X", "account number X",
	"account X", "my customer number is X", "my membership number is X", "it's account X"}
var phoneCarriers = []string{"my phone number is X", "my number is X", "you can call me on X", "call me at X",
	"my mobile is X", "my cell phone number is X", "the number is X", "my home number is X", "it's X",
	"my telephone number is X", "reach me at X"}
var refCarriers = []string{"the reference number is X", "my reference is X", "the order number is X",
	"my policy number is X", "the claim number is X", "the booking reference is X", "the case number is X",
	"the ticket number is X", "my confirmation number is X", "the tracking number is X", "it's X"}
var codeCarriers = []string{"my pin is X", "the security code is X", "the code is X", "the extension is X",
	"my pass code is X", "the three digits on the back are X", "extension X", "the verification code is X"}
var sortCarriers = []string{"the sort code is X", "sort code X", "my sort code is X", "the routing number is X",
	"the branch code is X"}
var zipCarriers = []string{"my zip code is X", "the zip code is X", "zip code X", "the zip is X", "it's X",
	"my zip is X"}
var postcodeCarriers = []string{"my post code is X", "the post code is X", "post code X", "it's X"}
var dateCarriers = []string{"my date of birth is X", "date of birth X", "i was born on X", "born X",
	"it was on X", "the payment was on X", "on X", "the date is X", "it expires X", "the expiry date is X",
	"i'd like to book it for X", "it was X", "my birthday is X", "since X", "it's due on X"}
var yearCarriers = []string{"in X", "it was X", "since X", "back in X", "the year is X", "born in X"}
var timeCarriers = []string{"at X", "around X", "it was about X", "can you call me at X", "after X", "before X",
	"any time after X", "i called at X"}
var amountCarriers = []string{"X", "the amount is X", "i was charged X", "i paid X", "the balance is X",
	"i want to pay X", "it was for X", "i'd like to transfer X", "they took X", "the bill was X", "about X",
	"the payment of X", "i need to withdraw X", "a refund of X"}
var surnameCarriers = []string{"my surname is X", "my last name is X", "the surname is X", "last name X",
	"it's spelled X", "that's X", "my name is X", "spelled X", "the name on the account is X", "family name X"}
var firstNameCarriers = []string{"my first name is X", "first name X", "it's X", "my name is X",
	"that's spelled X", "the first name is X"}
var cityCarriers = []string{"i live in X", "the city is X", "the town is X", "it's X", "that's spelled X",
	"i'm in X"}
var emailCarriers = []string{"my email is X", "my email address is X", "the email is X", "it's X",
	"email X", "you can email me at X", "my e-mail address is X"}
var countCarriers = []string{"X", "about X", "i have X", "X of them", "there are X", "X times",
	"X people", "around X", "X items", "X days ago", "X months", "X years"}

// surnames, firstNames and cities are common names of English-speaking
// countries, the words callers spell most.
var surnames = []string{"smith", "johnson", "williams", "brown", "jones", "garcia", "miller", "davis", "rodriguez",
	"martinez", "hernandez", "lopez", "gonzalez", "wilson", "anderson", "thomas", "taylor", "moore", "jackson",
	"martin", "lee", "perez", "thompson", "white", "harris", "sanchez", "clark", "ramirez", "lewis", "robinson",
	"walker", "young", "allen", "king", "wright", "scott", "torres", "nguyen", "hill", "flores", "green", "adams",
	"nelson", "baker", "hall", "rivera", "campbell", "mitchell", "carter", "roberts", "evans", "turner", "phillips",
	"parker", "collins", "edwards", "stewart", "morris", "murphy", "cook", "rogers", "morgan", "peterson", "cooper",
	"reed", "bailey", "bell", "gomez", "kelly", "howard", "ward", "cox", "diaz", "richardson", "wood", "watson",
	"brooks", "bennett", "gray", "james", "reyes", "cruz", "hughes", "price", "myers", "long", "foster", "sanders",
	"ross", "morales", "powell", "sullivan", "russell", "ortiz", "jenkins", "gutierrez", "perry", "butler",
	"barnes", "fisher", "henderson", "coleman", "simmons", "patterson", "jordan", "reynolds", "hamilton", "graham",
	"kim", "wallace", "patel", "singh", "khan", "shah", "murray", "fox", "hunt", "mason", "owen", "lloyd", "hughes",
	"palmer", "marshall", "kennedy", "o'brien", "byrne", "ryan", "walsh", "doyle", "mccarthy", "chen", "wang", "li",
	"zhang", "schmidt", "muller", "weber", "novak", "kowalski", "nowak", "ali", "ahmed", "hussain", "okafor",
	"mensah", "costa", "silva", "santos", "ferreira", "rossi", "russo", "dubois", "moreau", "laurent", "fraser",
	"macdonald", "stevenson", "ferguson", "gibson", "hudson", "knight", "holmes", "webb", "harvey", "chapman"}
var firstNames = []string{"james", "mary", "john", "patricia", "robert", "jennifer", "michael", "linda", "william",
	"elizabeth", "david", "barbara", "richard", "susan", "joseph", "jessica", "thomas", "sarah", "charles", "karen",
	"christopher", "nancy", "daniel", "lisa", "matthew", "betty", "anthony", "margaret", "mark", "sandra", "donald",
	"ashley", "steven", "kimberly", "paul", "emily", "andrew", "donna", "joshua", "michelle", "kenneth", "carol",
	"kevin", "amanda", "brian", "melissa", "george", "deborah", "timothy", "stephanie", "ronald", "rebecca",
	"edward", "sharon", "jason", "laura", "jeffrey", "cynthia", "ryan", "kathleen", "jacob", "amy", "gary",
	"angela", "nicholas", "shirley", "eric", "anna", "jonathan", "brenda", "stephen", "pamela", "larry", "emma",
	"justin", "nicole", "scott", "helen", "brandon", "samantha", "benjamin", "katherine", "samuel", "christine",
	"gregory", "debra", "alexander", "rachel", "frank", "carolyn", "patrick", "janet", "raymond", "catherine",
	"jack", "maria", "dennis", "heather", "jerry", "diane", "tyler", "olivia", "aaron", "julie", "jose", "joyce",
	"adam", "victoria", "henry", "kelly", "nathan", "christina", "peter", "lauren", "zachary", "joan", "kyle",
	"evelyn", "noah", "judith", "ethan", "megan", "jeremy", "andrea", "walter", "cheryl", "christian", "hannah",
	"keith", "jacqueline", "roger", "martha", "terry", "gloria", "harry", "sophie", "oliver", "chloe", "mohammed",
	"fatima", "priya", "raj", "wei", "mei", "aisha", "omar", "sean", "siobhan", "niamh", "liam", "ian", "fiona",
	"claire", "gemma", "craig", "graham", "neil", "alan", "colin", "derek", "gareth", "rhys", "dylan", "zoe",
	"lucy", "grace", "ella", "isla", "amelia", "jade", "leah", "kate", "anne", "jane", "ruth", "joy", "eve", "ava"}
var cities = []string{"london", "manchester", "birmingham", "leeds", "glasgow", "edinburgh", "liverpool", "bristol",
	"cardiff", "belfast", "dublin", "sheffield", "newcastle", "nottingham", "leicester", "brighton", "oxford",
	"cambridge", "york", "bath", "chicago", "houston", "phoenix", "philadelphia", "dallas", "austin", "denver",
	"boston", "seattle", "portland", "atlanta", "miami", "detroit", "memphis", "nashville", "baltimore",
	"milwaukee", "tucson", "fresno", "sacramento", "omaha", "raleigh", "cleveland", "tampa",
	"cincinnati", "orlando", "toronto", "vancouver", "ottawa", "calgary", "sydney", "melbourne", "perth",
	"auckland", "springfield", "madison", "salem", "dover", "reading", "durham", "exeter", "norwich", "derby"}
