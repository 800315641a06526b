package redact

import "strings"

// ctxClass is a set of context kinds, one bit each.
type ctxClass uint32

const (
	cCard ctxClass = 1 << iota
	cExpiry
	cCVV
	cSSN
	cNI
	cIBAN
	cAccount
	cRouting
	cPhone
	cDOB
	cPIN
	cPassword
	cEmail
	cZip
	// cRef marks reference, order, case and ticket numbers: a number right
	// after one is not personal data.
	cRef
)

// Context phrases, as a recogniser and as a chat user write them. A phrase
// is matched on lower-cased tokens; its class applies to the tokens after
// it.
var contextPhrases = map[ctxClass][]string{
	cCard: {"card", "card number", "car number", "credit card", "debit card", "visa", "mastercard", "master card",
		"amex", "m x", "am x", "american express", "discover card", "long number", "cc", "card no", "number on the front",
		"digits on the front", "card's", "cards", "charge", "please charged", "charge it to", "put it on", "pay with", "pay by",
		"paying with", "paying by"},
	cExpiry: {"expiry", "expiry date", "expiration", "expiration date", "expires", "expire", "exp", "expiring",
		"valid thru", "valid through", "valid until", "valid till", "good thru", "good through", "end date"},
	cCVV: {"cvv", "cvc", "cv2", "cvv2", "csc", "security code", "security number", "digits on the back",
		"number on the back", "back of the card", "card verification", "verification value", "three digit code",
		"cheat code"},
	cSSN: {"ssn", "social", "social security", "s s n", "social security number", "social's"},
	cNI:  {"national insurance", "national insurance number", "ni number", "n i number", "nino", "n i", "insurance number"},
	// "ibanez", "ib and his", "id and is", "my income is", "bungee" ("iban
	// g b"): how a recogniser whose lexicon lacks "iban" writes "iban",
	// "my iban is" and "iban g"; "refund to": where a refund is sent is an
	// account. They lead an IBAN only to a long number (detectIBANTails).
	cIBAN: {"iban", "i b a n", "international bank account number", "eye ban", "i ban", "ibanez", "ib and his",
		"ib and is", "id and his", "id and is", "my income is", "bungee", "refund to"},
	// "continent" is how a recogniser writes "account number" after "my"
	// ("my continent is ..."), "sword code" and "short code" "sort code".
	cAccount: {"account number", "account no", "acct", "account", "a/c", "bank account", "checking account",
		"savings account", "account's", "continent"},
	cRouting: {"routing", "routing number", "aba", "sort code", "sortcode", "transit number", "bank code", "bsb",
		"sword code", "sword could", "short code"},
	cPhone: {"phone", "telephone", "mobile", "cell", "cellphone", "landline", "call me", "call me on", "call me at",
		"call back", "callback", "reach me", "contact number", "phone number", "number to call", "text me",
		"ring me", "whatsapp", "fax", "home number", "work number", "daytime number", "phone's", "mobile's",
		"best number", "my number", "number to reach"},
	cDOB: {"date of birth", "dob", "d o b", "born", "born on", "birthday", "birth date", "birthdate", "birth"},
	cPIN: {"pin", "pin number", "pin code", "passcode", "pass code", "one time code", "one time passcode", "otp",
		"verification code", "security pin", "access code", "pin's"},
	cPassword: {"password", "pass word", "passphrase", "pass phrase", "memorable word", "memorable information",
		"secret word", "security answer", "password's"},
	cEmail: {"email", "e-mail", "e mail", "email address", "mail"},
	cZip:   {"zip", "zip code", "zipcode", "postcode", "post code", "postal code", "postcode's"},
	cRef: {"order", "order number", "reference", "references", "referenced", "preference", "ref", "reference number", "case", "case number", "ticket",
		"tracking", "tracking number", "confirmation", "confirmation number", "invoice", "booking", "claim",
		"policy", "transaction", "receipt", "member", "membership", "customer number", "customer id",
		"serial", "model", "item", "parcel", "shipment", "consignment", "incident", "loyalty", "voucher",
		"promo", "coupon", "batch", "reservation", "ticket number", "order no", "job", "work order", "quote",
		"application", "complaint", "delivery", "refund", "dispute", "tariff"},
}

// phraseEntry is one phrase, split into words.
type phraseEntry struct {
	words []string
	class ctxClass
}

// phrasesByFirst indexes the phrases by their first word.
var phrasesByFirst = func() map[string][]phraseEntry {
	m := map[string][]phraseEntry{}
	for c, ps := range contextPhrases {
		for _, p := range ps {
			w := strings.Fields(p)
			m[w[0]] = append(m[w[0]], phraseEntry{words: w, class: c})
		}
	}
	return m
}()

// markContext sets ctx[p] to the classes of the phrases that end right
// before token p (so ctx has len(toks)+1 entries) and start[p] to those
// that start at token p; present is every class found.
func markContext(toks []token, ctx, start []ctxClass) (_, _ []ctxClass, present ctxClass) {
	ctx, start = ctx[:0], start[:0]
	for range len(toks) + 1 {
		ctx = append(ctx, 0)
		start = append(start, 0)
	}
	for i := range toks {
		for _, p := range phrasesByFirst[toks[i].low] {
			if i+len(p.words) > len(toks) {
				continue
			}
			ok := true
			for k := 1; k < len(p.words); k++ {
				if toks[i+k].low != p.words[k] {
					ok = false
					break
				}
			}
			if ok {
				ctx[i+len(p.words)] |= p.class
				start[i] |= p.class
				present |= p.class
			}
		}
		if n := eSetCode(toks, i); n > 0 {
			ctx[i+n] |= cCVV
			start[i] |= cCVV
			present |= cCVV
		}
	}
	return ctx, start, present
}

// eSetCode returns how many tokens at i spell three letters of the
// English E-set (b c d e g p t v z), as one token ("cbc") or three ("c b
// v"), or 0. A recogniser hears "CVV" and "CVC" as any of them ("cdc",
// "t v v", "dvd"): they are taken as the security code's phrase when a
// digit read on its own follows within two tokens ("cdc is eight six
// three", not "the bbc said two hundred").
func eSetCode(toks []token, i int) int {
	n := eSetLetters(toks, i)
	if n == 0 {
		return 0
	}
	for k := i + n; k < len(toks) && k <= i+n+2; k++ {
		if toks[k-1].brk() {
			return 0
		}
		t := &toks[k]
		if _, ok := unitWords[t.low]; ok && !ambiguous[t.low] || t.digits != "" {
			if k+1 < len(toks) && (toks[k+1].low == "hundred" || toks[k+1].low == "thousand") {
				return 0
			}
			return n
		}
	}
	return 0
}

// eSetLetters returns how many tokens at i spell three E-set letters, or 0.
func eSetLetters(toks []token, i int) int {
	const eSet = "bcdegptvz"
	in := func(s string) bool {
		for k := 0; k < len(s); k++ {
			if strings.IndexByte(eSet, s[k]) < 0 {
				return false
			}
		}
		return true
	}
	if t := toks[i].low; len(t) == 3 && in(t) {
		return 1
	}
	if i+3 <= len(toks) {
		for k := i; k < i+3; k++ {
			if t := toks[k].low; len(t) != 1 || !in(t) || k < i+2 && toks[k].brk() {
				return 0
			}
		}
		return 3
	}
	return 0
}

// after reports whether a phrase of class c starts within window tokens
// from token b, in the same sentence ("... seven a, my national
// insurance").
func (d *doc) after(c ctxClass, b, window int) bool {
	if d.present&c == 0 {
		return false
	}
	for p := b; p < len(d.toks) && p-b <= window; p++ {
		if d.start[p]&c != 0 {
			return true
		}
		if sentenceEnd(&d.toks[p]) {
			return false
		}
	}
	return false
}

// ctxWindow is how many tokens back a context phrase reaches.
const ctxWindow = 12

// nearest returns the distance in tokens from the end of the nearest
// phrase of class c before token a (0: right before it), or -1. Phrases
// further than window tokens back are not seen, nor those before a
// sentence end.
func (d *doc) nearest(c ctxClass, a, window int) int {
	for p := a; p >= 0 && a-p <= window; p-- {
		if d.ctx[p]&c != 0 {
			return a - p
		}
		if p > 0 && sentenceEnd(&d.toks[p-1]) {
			return -1
		}
	}
	return -1
}

// sentenceEnd reports whether the token ends a sentence.
func sentenceEnd(t *token) bool { return strings.ContainsAny(t.post, ".?!") }

// governs reports whether class c is the nearest context before token a,
// no reference phrase ("order number") is nearer, and it lies within
// window tokens.
func (d *doc) governs(c ctxClass, a, window int) bool {
	dc := d.nearest(c, a, window)
	if dc < 0 {
		return false
	}
	dr := d.nearest(cRef, a, window)
	return dr < 0 || dr > dc
}

// refNear reports whether a reference phrase is nearer token a than any
// phrase of the classes in others.
func (d *doc) refNear(a int, others ctxClass) bool {
	dr := d.nearest(cRef, a, ctxWindow)
	if dr < 0 {
		return false
	}
	do := d.nearest(others, a, ctxWindow)
	return do < 0 || do > dr
}
