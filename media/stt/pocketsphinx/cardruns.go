package pocketsphinx

import (
	"slices"
	"strings"

	"github.com/earshot/earshot/media/stt"
)

// Card numbers read without a card phrase.
//
// Callers often read the number with nothing before it that says what it
// is ("sure five three one one oh seven ...", "can you put it on ...",
// "please charge ... for the balance"). The language model then writes
// most of it as number words, with a few wrong or missing ("for" for
// "four", "or" for "oh", "forty" for "four two"), so the digits are not a
// card number and no redaction recognises them. With Config.CardNumberRuns,
// a free-speech final whose words hold a long run of number-like words
// (at least Config.CardNumberRunWords of them: digit words, "oh",
// "double", look-alikes such as "for", "to", "ate", and pairs such as
// "forty eight") has that run's audio decoded again with the digits
// mode's grammar, and, when the run was read in pairs, with a grammar of
// digits and pairs. The reading replaces the run's words only when it is
// a Luhn-valid card number (13-19 digits) and the run's own words were
// not one already (a run heard as one has its look-alikes written as
// digit words). Ordinary speech has no such run, and nothing outside
// the run is rewritten. A run after or among spelled letters, or after
// "iban", is left as heard: its digits are an IBAN's or a reference's.
//
// When no reading is a card number, and the best reading is no
// well-formed number either (a digit short or long for its network;
// a well-formed one failing the check is as likely an order number),
// up to Config.CardReadingAlternatives of each reading's next-best
// readings (an A* search of the grammar search's lattice) are looked at,
// and the first that is a Luhn-valid number of its network's length is
// taken. After a card phrase (cardcontext.go) the context says it is a
// card, and any best reading that is none looks at its next-best ones.

// cardPairsGrammar: the digits grammar's items and a caller's pairs
// ("forty eight", "twelve"); single digits weigh more, so "four two" is
// not read as "forty two".
const cardPairsGrammar = `#JSGF V1.0;
grammar cardpairs;
public <reading> = [<lead>] <item>+ [<tail> (<tail> | <item>)*];
<lead> = is | it is | the;
<item> = /4/ [double | triple] <digit> | /1/ <teen> | /1/ <tens> [<digit>];
<digit> = zero | oh | one | two | three | four | five | six | seven | eight | nine;
<teen> = ten | eleven | twelve | thirteen | fourteen | fifteen | sixteen | seventeen | eighteen | nineteen;
<tens> = twenty | thirty | forty | fifty | sixty | seventy | eighty | ninety;
<tail> = and it | and the | expires | expiry | expiration | security code | thanks | thank you | okay | can you | is that;
`

const cardPairsSearch = "span:cardpairs"

// DefaultCardNumberRunWords is the shortest run of number-like words
// that is read again (Config.CardNumberRunWords): a card read digit by
// digit has 13-19 number words, in pairs 8 or more, and ordinary speech
// (amounts, times, "two or three days") has far fewer. It was set before
// measuring and is the only value measured (see Config.CardNumberRuns).
const DefaultCardNumberRunWords = 8

// DefaultCardReadingAlternatives is how many of a card reading's best
// readings are looked at for a card number (Config.CardReadingAlternatives):
// none. On the second development set of the redaction eval (dev2, 320
// utterances, 160 cards, 16 kHz, accurate search) ten of them found one
// card more and made three numbers that were none (an order number, two
// IBANs) into cards (card precision 0.993 -> 0.974). The Luhn check lets
// one in ten of a number's variants through, and a near miss (an order
// number of a card's shape) has many variants close to its best reading.
const DefaultCardReadingAlternatives = 0

// cardRunPadMs of audio on each side of a run is decoded with it (not
// past the neighbouring words).
const cardRunPadMs = 150

// cardRunGapWords other words may stand between two number words of a
// run.
const cardRunGapWords = 2

var (
	// soundsLike are the words the language model writes for a spoken
	// digit.
	soundsLike = map[string]byte{"for": '4', "fore": '4', "to": '2', "too": '2', "won": '1', "ate": '8',
		"tree": '3', "o": '0'}
	// ohLike are words the language model writes for a spoken "oh"
	// ("five or six"); between number words they read as 0.
	ohLike = map[string]bool{"or": true, "of": true, "and": true, "no": true}
	// pairOf are the words of a pair read out ("forty" eight, "twelve").
	pairOf = map[string]string{"ten": "10", "eleven": "11", "twelve": "12", "thirteen": "13",
		"fourteen": "14", "fifteen": "15", "sixteen": "16", "seventeen": "17", "eighteen": "18",
		"nineteen": "19", "twenty": "2", "thirty": "3", "forty": "4", "fifty": "5", "sixty": "6",
		"seventy": "7", "eighty": "8", "ninety": "9"}
)

// numberLike reports whether a first-pass word may stand for digits.
func numberLike(t string) bool {
	_, s := soundsLike[t]
	return s || numberWordOnly(t)
}

// numberWordOnly reports whether t is a number word and nothing else
// ("four", not "for"), "hundred" aside: a card is not read with it.
func numberWordOnly(t string) bool { return numberWord[t] && t != "hundred" }

// isTens reports whether t is a tens word ("forty").
func isTens(t string) bool { return len(pairOf[t]) == 1 }

// cardNumberRuns returns the [i, j) ranges of words that are runs of
// number-like words holding at least minWords number words ("four", not
// "for": look-alikes are common words in speech), which are at least
// half of the run's words. Up to cardRunGapWords other words may stand
// between two number-like words; a run begins and ends with a
// number-like word.
func cardNumberRuns(words []stt.Word, minWords int) [][2]int {
	var out [][2]int
	for i := 0; i < len(words); {
		if !numberLike(strings.ToLower(words[i].Text)) {
			i++
			continue
		}
		j, n := i, 0
		for j < len(words) {
			t := strings.ToLower(words[j].Text)
			if numberLike(t) {
				if numberWordOnly(t) {
					n++
				}
				j++
				continue
			}
			// Up to cardRunGapWords other words between number words:
			// the language model's guesses for digits ("oh wait for").
			g := 0
			for g < cardRunGapWords && j+g < len(words) && !numberLike(strings.ToLower(words[j+g].Text)) {
				g++
			}
			if g > 0 && j+g < len(words) && numberLike(strings.ToLower(words[j+g].Text)) {
				j += g
				continue
			}
			break
		}
		if n >= minWords && 2*n >= j-i {
			out = append(out, [2]int{i, j})
		}
		i = j
	}
	return out
}

// heardDigits reads number words as a caller says them: digits and
// their look-alikes, "double"/"triple", pairs ("forty eight": 48,
// "forty": 40, "twelve": 12) and, with ohs, "oh"-like words as 0 (else
// they are skipped).
func heardDigits(words []stt.Word, ohs bool) string {
	var b strings.Builder
	repeat := 1
	for i := 0; i < len(words); i++ {
		t := strings.ToLower(words[i].Text)
		d, ok := digitOf[t]
		if !ok {
			d, ok = soundsLike[t]
		}
		switch {
		case t == "double":
			repeat = 2
		case t == "triple":
			repeat = 3
		case ok:
			b.WriteString(strings.Repeat(string(d), repeat))
			repeat = 1
		case isTens(t):
			b.WriteString(pairOf[t])
			if i+1 < len(words) {
				if u := strings.ToLower(words[i+1].Text); digitOf[u] > '0' {
					b.WriteByte(digitOf[u])
					i++
					continue
				}
			}
			b.WriteByte('0')
		case pairOf[t] != "":
			b.WriteString(pairOf[t])
		case ohs && ohLike[t]:
			b.WriteByte('0')
		}
	}
	return b.String()
}

// digitName is the digit word of a digit.
var digitName = [10]string{"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"}

// asDigitWords returns a run heard as a card number with its look-alikes
// ("for", "too") as digit words, and its "oh"-like words ("or", "of") as
// "oh" when the card is read with them as 0. Other words stay.
func asDigitWords(words []stt.Word) []stt.Word {
	ohs := isCard(heardDigits(words, true))
	out := make([]stt.Word, len(words))
	for k, w := range words {
		t := strings.ToLower(w.Text)
		if d, ok := soundsLike[t]; ok {
			w.Text = digitName[d-'0']
			if t == "o" {
				w.Text = "oh"
			}
		} else if ohs && ohLike[t] {
			w.Text = "oh"
		}
		out[k] = w
	}
	return out
}

// heardCard reports whether words already read as a card number, with
// "oh"-like words read as 0 or skipped.
func heardCard(words []stt.Word) bool {
	return isCard(heardDigits(words, true)) || isCard(heardDigits(words, false))
}

// readCardRuns decodes the audio of each long run of number-like words
// again and puts the reading in place of the run when it is a card
// number and the run was not (decoder thread, between utterances, with
// the utterance's audio in s.utt).
//
// The run's own audio is read digit by digit, then (when the run holds
// pairs) with pairs, then once more with the words on either side of
// the run: the language model often hides a digit or two in a
// neighbouring word ("double for today" for "double four two eight").
// When none of these reads as a card and none as a well-formed number,
// the run is read within its other bounds (cardRunBounds), and such a
// reading is taken only when it has its network's length too.
// The reading replaces the words whose middle its digits cover, and no
// others.
func (s *stream) readCardRuns(words []stt.Word) ([]stt.Word, error) {
	runs := cardNumberRuns(words, s.e.cfg.CardNumberRunWords)
	if len(runs) == 0 {
		return words, nil
	}
	var out []stt.Word
	last := 0
	for _, run := range runs {
		i, j := run[0], run[1]
		if i < last {
			continue
		}
		out = append(out, words[last:i]...)
		// prev: the words before it that no other run's reading took.
		prev := last
		last = i
		if spelledNear(words, i, j) {
			continue // an IBAN or a reference spelled out, not a card
		}
		if heardCard(words[i:j]) {
			// The language model heard a card already; its look-alikes
			// ("double too", "five of four") are written as the digit
			// words they stand for, so that the number reads as one.
			out = append(out, asDigitWords(words[i:j])...)
			last = j
			continue
		}
		pairs := false
		for _, w := range words[i:j] {
			pairs = pairs || pairOf[strings.ToLower(w.Text)] != ""
		}
		type try struct {
			from, to       int // the words decoded
			search, syntax string
		}
		tries := []try{{i, j, cardReadingSearch, cardReadingGrammar}}
		if pairs {
			tries = append(tries, try{i, j, cardPairsSearch, cardPairsGrammar})
		}
		if from, to := max(i-1, last), min(j+1, len(words)); from < i || to > j {
			tries = append(tries, try{from, to, cardReadingSearch, cardReadingGrammar})
		}
		// Every try's best reading comes before any try's other
		// readings.
		type read struct {
			tr   try
			best []stt.Word
			alts []reading
		}
		var reads []read
		for _, tr := range tries {
			got, alts, err := s.readRunSpan(words, tr.from, tr.to, tr.search, tr.syntax, cardAlternativePaths*s.e.cfg.CardReadingAlternatives)
			if err != nil {
				return words, err
			}
			reads = append(reads, read{tr, got, alts})
			if len(got) > 0 && isCard(heardDigits(got, false)) {
				break
			}
		}
		var got []stt.Word
		var tr try
		for _, r := range reads {
			if len(r.best) > 0 && isCard(heardDigits(r.best, false)) {
				got, tr = r.best, r.tr
				break
			}
		}
		if got == nil && !slices.ContainsFunc(reads, func(r read) bool { return cardShaped(heardDigits(r.best, false)) }) {
			// No reading is a card, and none is a well-formed number
			// either: digits were lost at the run's edges. Its other
			// bounds are read too (cardRunBounds), and a reading there is
			// taken only when it has its network's length as well.
			for _, b := range cardRunBounds(words, i, j, prev) {
				best, _, err := s.readRunSpan(words, b[0], b[1], cardReadingSearch, cardReadingGrammar, 0)
				if err != nil {
					return words, err
				}
				if d := heardDigits(best, false); len(best) > 0 && isCard(d) && networkLength(d) {
					got, tr = best, try{b[0], b[1], cardReadingSearch, cardReadingGrammar}
					s.e.observe.runBounds.Add(1)
					break
				}
			}
		}
		if got == nil {
			for _, r := range reads {
				if cardShaped(heardDigits(r.best, false)) {
					// A well-formed number that fails the check is as
					// likely an order or reference number as a card
					// misheard.
					continue
				}
				if alt := cardAlternative(r.alts, s.e.cfg.CardReadingAlternatives); alt != nil {
					got, tr = alt, r.tr
					s.e.observe.runAlternatives.Add(1)
					break
				}
			}
		}
		if got == nil {
			continue
		}
		// The reading stands in for the words whose middle its digits
		// cover; the words before and after it stay (a run may go on
		// into an expiry date or a security code).
		from, to := tr.from, 0
		for from < tr.to && mid(words[from]) < got[0].StartMs {
			from++
		}
		for to = from; to < tr.to && mid(words[to]) <= got[len(got)-1].EndMs; {
			to++
		}
		s.e.observe.runReplaced.Add(1)
		if from < i {
			out = out[:len(out)-(i-from)]
		} else {
			out = append(out, words[i:from]...)
		}
		out = append(out, got...)
		last = to
	}
	return append(out, words[last:]...), nil
}

// readRunSpan decodes the audio of words[from:to] (and up to
// cardRunPadMs either side, not past the neighbouring words) with the
// grammar given; nil when the words have no audio in the utterance.
func (s *stream) readRunSpan(words []stt.Word, from, to int, search, syntax string, n int) ([]stt.Word, []reading, error) {
	startMs, endMs := words[from].StartMs-cardRunPadMs, words[to-1].EndMs+cardRunPadMs
	if from > 0 {
		startMs = max(startMs, words[from-1].EndMs)
	}
	if to < len(words) {
		endMs = min(endMs, words[to].StartMs)
	}
	a := max(0, startMs*stt.Rate/1000-s.uttStart)
	b := min(int64(len(s.utt)), endMs*stt.Rate/1000-s.uttStart)
	if b <= a {
		return nil, nil, nil
	}
	s.e.observe.runSpans.Add(1)
	return s.decodeReadingN(s.utt[a:b], s.uttStart+a, search, syntax, n)
}

// cardRunWideWords: a run's wide bounds take this many words more on
// one side.
const cardRunWideWords = 2

// cardRunBounds returns the other bounds a run words[i:j] is read
// within when neither the run nor the run with the word after it reads
// as a card (words before prev are not taken): without the look-alikes
// it ends in ("three seven three for the balance": "for" is a word
// there, and read as a digit it makes the number one too long), with
// cardRunWideWords words after it ("double on floor" for "double one
// four"), and with cardRunWideWords words before it ("sick so double"
// for "six oh double"). One side at a time: the digits grammar reads
// every word as digits, and a word around the number that is a word
// ("put it on") adds a digit that no check lets through.
func cardRunBounds(words []stt.Word, i, j, prev int) [][2]int {
	var out [][2]int
	k := j
	for k > i && !numberWordOnly(strings.ToLower(words[k-1].Text)) {
		k--
	}
	if k < j && k > i {
		out = append(out, [2]int{i, k})
	}
	if to := min(j+cardRunWideWords, len(words)); to > j+1 {
		out = append(out, [2]int{i, to})
	}
	if from := max(i-cardRunWideWords, prev); from < i {
		out = append(out, [2]int{from, j})
	}
	return out
}

// networkLength reports whether digits have a length a card network
// with their first digits issues (Visa 13, 16 or 19; Mastercard 16;
// American Express 15; Diners 14 or 16; Discover, JCB, UnionPay and
// Maestro 16-19). A next-best reading that adds or drops a digit passes
// the Luhn check as often as one that changes a digit; most such
// readings of a number that is not a card (an order number) have no
// network's length.
func networkLength(d string) bool {
	n := len(d)
	switch {
	case d[0] == '4':
		return n == 13 || n == 16 || n == 19
	case d[0] == '5' && d[1] >= '1' && d[1] <= '5', d[0] == '2' && d[1] >= '2' && d[1] <= '7':
		return n == 16
	case d[:2] == "34" || d[:2] == "37":
		return n == 15
	case d[:2] == "36" || d[:2] == "38" || d[:2] == "30":
		return n == 14 || n == 16
	case d[0] == '6' || d[0] == '5' || d[:2] == "35":
		return n >= 16 && n <= 19
	}
	return false
}

// cardShaped reports whether digits have a card's length for their
// first digits (whether or not they pass the Luhn check).
func cardShaped(d string) bool { return len(d) >= 13 && len(d) <= 19 && networkLength(d) }

// cardRunSpelledWords before a run are looked at for spelled letters or
// "iban".
const cardRunSpelledWords = 4

// spelledNear reports whether the run words[i:j] follows or holds
// spelled letters ("g b zero seven l o y d ...": at least three letters
// other than "a", "i" and "o", which are words or digits too), or
// follows the word "iban": its digits are an IBAN's or a reference's,
// and any card reading of them would be a wrong one.
func spelledNear(words []stt.Word, i, j int) bool {
	const minLetters = 3 // "m x" is an Amex said, not a spelling
	letters := 0
	for k := max(0, i-cardRunSpelledWords); k < j; k++ {
		t := strings.TrimSuffix(strings.ToLower(words[k].Text), ".")
		if k < i && strings.HasPrefix(t, "iban") {
			return true
		}
		if len(t) == 1 && t[0] >= 'a' && t[0] <= 'z' && t != "a" && t != "i" && t != "o" {
			letters++
		}
	}
	return letters >= minLetters
}

func mid(w stt.Word) int64 { return (w.StartMs + w.EndMs) / 2 }

// cardAlternativeMaxBehind is how far (in the decoder's log base) an
// other reading's path score may be behind the best one's and still be
// taken as a card number.
var cardAlternativeMaxBehind = 1 << 30

// cardAlternativePaths: readings are taken from the lattice this many
// times the numbers looked at, since many differ only in the words
// around the number or where silences fall.
const cardAlternativePaths = 3

// cardAlternative returns the first of a span's other readings (best
// first, the best one among them) that is a Luhn-valid card number of a
// network's length, nil if none is. Readings that differ only in words around the number are
// one reading: n distinct numbers are looked at.
func cardAlternative(alts []reading, n int) []stt.Word {
	seen := map[string]bool{}
	for _, r := range alts {
		d := heardDigits(r.words, false)
		if seen[d] {
			continue
		}
		seen[d] = true
		if len(seen) > n || r.behind > cardAlternativeMaxBehind {
			break
		}
		if len(r.words) > 0 && isCard(d) && networkLength(d) {
			return r.words
		}
	}
	return nil
}
