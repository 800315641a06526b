package pocketsphinx

import (
	"slices"
	"strings"
	"sync/atomic"

	"github.com/earshot/earshot/media/stt"
)

// Card numbers after card words.
//
// A caller who reads a card number out usually says so first ("my card
// number is", "the long number on the front is"). The
// language model rarely writes the number that follows as number words,
// least of all on 8 kHz calls, so the number-span pass (numbers.go) has
// no run to decode again. With Config.CardContextDigits, when a
// free-speech final's words hold a card phrase, the audio after the
// phrase (up to an expiry or security-code word, a closing word, or the
// utterance's end) is decoded again with the digits mode's grammar and,
// on narrowband streams, the digits mode's folded high band and silence
// background. The reading replaces the words over that audio when it is
// a card's length (at least cardContextMinDigits digits) or passes the
// Luhn check, and the words there were not already a valid card number
// (digit by digit or in pairs). When the language model heard pairs
// there ("forty three nineteen"), the audio is read with the pairs
// grammar (cardruns.go) first: the digits grammar reads a pair as two
// or three digits.

// DefaultCardContextPhrases are phrases that announce the card number
// itself ("my card number is", "the long number on the front"), and "car
// number": the recogniser often loses the "d" of "card" before "number".
// Payment words that are as often followed by other speech ("there is a
// charge on my statement", "my card is not working", "can I pay with my
// visa") are not among them: the digits grammar reads any speech as
// digits, and after such a word it would put a string of digits in place
// of a sentence the language model heard right.
func DefaultCardContextPhrases() []string {
	return []string{"card number", "car number", "car numbers", "card no", "long number",
		"number on the card", "number on the front", "digits on the front"}
}

// cardReadingGrammar is the digits mode's grammar with a few words it may
// begin with ("is") and common words a reading may end in ("and it
// expires", "thanks", "can you"), so that speech after the number is not
// read as more digits. The number is the digits before the first other
// word. Look-alikes of digits ("for", "to", "a") are not among them.
const cardReadingGrammar = `#JSGF V1.0;
grammar cardreading;
public <reading> = [<lead>] <item>+ [<tail> (<tail> | <item>)*];
<lead> = is | it is | the;
<item> = [double | triple] <digit>;
<digit> = zero | oh | one | two | three | four | five | six | seven | eight | nine;
<tail> = and it | and the | expires | expiry | expiration | security code | thanks | thank you | okay | can you | is that;
`

const cardReadingSearch = "span:cardreading"

// cardContextStop are the words after which a card number read out is
// over: its expiry and security code, and closing words.
var cardContextStop = map[string]bool{
	"expires": true, "expiry": true, "expiration": true, "security": true, "code": true, "cvv": true,
	"thanks": true, "thank": true, "okay": true,
}

const (
	// cardContextMinDigits: a digits reading this long replaces the
	// words (a card has 13-19; one or two may be lost).
	cardContextMinDigits = 12
	// cardContextMinMs: shorter audio after the phrase is not decoded.
	cardContextMinMs = 1000
	// cardContextPairWords: with this many pairs ("forty", "nineteen")
	// after the phrase the number was read in pairs; one is as often the
	// language model's slip in a number read digit by digit ("zero
	// thirty four" for "zero three four").
	cardContextPairWords = 3
)

// cardContextPhrase returns the index of the first word after the last
// card phrase in words that has at least two words after it (0: none).
func cardContextPhrase(words []stt.Word, phrases [][]string) int {
	after := 0
	for i := range words {
		for _, p := range phrases {
			if i+len(p) > len(words)-2 {
				continue
			}
			match := true
			for k, w := range p {
				if !strings.EqualFold(words[i+k].Text, w) {
					match = false
					break
				}
			}
			if match {
				after = max(after, i+len(p))
			}
		}
	}
	return after
}

// spokenDigitsOf returns the digits the digits grammar's words read
// ("double five": 55) and whether every word was one of its words.
func spokenDigitsOf(words []stt.Word) (string, bool) {
	var b strings.Builder
	repeat := 1
	for _, w := range words {
		switch t := strings.ToLower(w.Text); t {
		case "double":
			repeat = 2
		case "triple":
			repeat = 3
		default:
			d, ok := digitOf[t]
			if !ok {
				return b.String(), false
			}
			b.WriteString(strings.Repeat(string(d), repeat))
			repeat = 1
		}
	}
	return b.String(), true
}

var digitOf = map[string]byte{"zero": '0', "oh": '0', "one": '1', "two": '2', "three": '3', "four": '4',
	"five": '5', "six": '6', "seven": '7', "eight": '8', "nine": '9'}

// luhn reports whether digits pass the Luhn check.
func luhn(digits string) bool {
	sum := 0
	for i := range len(digits) {
		d := int(digits[len(digits)-1-i] - '0')
		if i%2 == 1 {
			if d *= 2; d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return sum%10 == 0
}

// isCard reports whether digits are a Luhn-valid 13-19 digit number.
func isCard(digits string) bool { return len(digits) >= 13 && len(digits) <= 19 && luhn(digits) }

// readCardContext decodes the audio after a card phrase in words with the
// digits grammar and returns the words with the reading in place when it
// is digit-like enough (decoder thread, between utterances, with the
// utterance's audio in s.utt).
//
// With Config.CardNumberRuns the final's long runs of number words are
// read first (cardruns.go); a run read as a card is then no longer read
// after a phrase.
func (s *stream) readCardContext(words []stt.Word) ([]stt.Word, error) {
	if s.e.cfg.CardNumberRuns {
		var err error
		if words, err = s.readCardRuns(words); err != nil {
			return words, err
		}
	}
	if !s.e.cfg.CardContextDigits {
		return words, nil
	}
	j := cardContextPhrase(words, s.e.cardPhrases)
	if j == 0 {
		return words, nil
	}
	k := j
	for k < len(words) && !cardContextStop[strings.ToLower(words[k].Text)] {
		k++
	}
	if k == j {
		return words, nil
	}
	pairs := 0
	for _, w := range words[j:k] {
		if pairOf[strings.ToLower(w.Text)] != "" {
			pairs++
		}
	}
	if d, ok := spokenDigitsOf(words[j:k]); ok && isCard(d) || pairs >= cardContextPairWords && isCard(leadingNumber(words[j:k])) {
		// The language model heard a card already, digit by digit or in
		// pairs ("forty three nineteen sixteen ...").
		return words, nil
	}
	startMs, endMs := words[j-1].EndMs, words[k-1].EndMs+spanPadMs
	if k < len(words) {
		endMs = min(endMs, words[k].StartMs)
	}
	a := max(0, startMs*stt.Rate/1000-s.uttStart)
	b := min(int64(len(s.utt)), endMs*stt.Rate/1000-s.uttStart)
	if b-a < cardContextMinMs*stt.Rate/1000 {
		return words, nil
	}
	// A number the language model heard in pairs was read in pairs: the
	// digits grammar reads "fifty three" as two or three digits ("five two
	// three"), a wrong number of them, so it is read with pairs first, and
	// digit by digit when that reading is no card number.
	grammars := [][2]string{{cardReadingSearch, cardReadingGrammar}}
	if pairs >= cardContextPairWords {
		grammars = slices.Insert(grammars, 0, [2]string{cardPairsSearch, cardPairsGrammar})
	}
	var got []stt.Word
	var d string
	for _, g := range grammars {
		s.e.observe.cardSpans.Add(1)
		r, alts, err := s.decodeReadingN(s.utt[a:b], s.uttStart+a, g[0], g[1], cardAlternativePaths*s.e.cfg.CardReadingAlternatives)
		if err != nil {
			return words, err
		}
		rd := heardDigits(r, false)
		if !isCard(rd) {
			if alt := cardAlternative(alts, s.e.cfg.CardReadingAlternatives); alt != nil {
				r, rd = alt, heardDigits(alt, false)
				s.e.observe.cardAlternatives.Add(1)
			}
		}
		// When no reading is a card number, the digits grammar's stands
		// (as with no pairs heard), unless it reads more digits than a
		// card has and the pairs reading does not: then it read pairs as
		// digits.
		if got == nil || isCard(rd) || len(d) > 19 && len(rd) <= 19 || g[0] == cardReadingSearch && len(rd) <= 19 {
			got, d = r, rd
		}
		if isCard(d) {
			break
		}
	}
	if len(got) == 0 || len(d) < cardContextMinDigits && !isCard(d) {
		return words, nil
	}
	s.e.observe.cardReplaced.Add(1)
	// The reading stands in for the words heard before its last digit
	// ended; the words after it stay.
	end := got[len(got)-1].EndMs
	m := j
	for m < k && (words[m].StartMs+words[m].EndMs)/2 < end {
		m++
	}
	out := append(append(append([]stt.Word(nil), words[:j]...), got...), words[m:]...)
	return out, nil
}

// leadingNumber returns the digits of the number words words begin with
// (after up to two lead words: "is", "it", "the"): digits, "oh", pairs
// ("forty three", "nineteen"), "double" and "triple". The first other
// word, a look-alike ("for", "to") among them, ends the number: the
// language model's own words stand for a card only when they are number
// words throughout.
func leadingNumber(words []stt.Word) string {
	a := 0
	for a < len(words) && a < 2 {
		if t := strings.ToLower(words[a].Text); t != "is" && t != "it" && t != "the" {
			break
		}
		a++
	}
	b := a
	for b < len(words) {
		t := strings.ToLower(words[b].Text)
		if _, digit := digitOf[t]; !digit && pairOf[t] == "" && t != "double" && t != "triple" {
			break
		}
		b++
	}
	return heardDigits(words[a:b], false)
}

// decodeReadingN decodes pcm, which starts at stream sample at, as the
// digits mode would, with the grammar given: on narrowband streams its
// folded high band, the folded audio's CMN adaptation and its silence
// background (decoder thread); the utterance's cepstral mean and search
// are put back after. It returns the reading's number words (digits, and
// pairs when the grammar has them), after any lead word and up to the
// first other word, and up to n other readings from the span's lattice
// (see decodeSpanN), each cut to its number as the best one is.
func (s *stream) decodeReadingN(pcm []int16, at int64, name, grammar string, n int) ([]stt.Word, []reading, error) {
	if err := s.d.addGrammar(name, grammar, s.e.cfg.GrammarWIP); err != nil {
		return nil, nil, err
	}
	// A scratch stream in the digits mode processes the audio, so that
	// it is folded and filled exactly as a digits-mode utterance is.
	sc := &stream{e: s.e, d: s.d, mode: stt.ModeDigits, fed: at}
	if at > s.uttStart {
		sc.foldPrev = s.utt[at-s.uttStart-1]
	}
	sc.startFold()
	sc.startFill()
	in := pcm
	if sc.fold {
		in = sc.foldHighBand(in)
	}
	if sc.fill {
		in = sc.fillSilence(in)
	}
	mean := s.d.cmn()
	piece := len(in)
	if sc.fold && s.e.cfg.NarrowbandFoldCMNAdaptMs > 0 {
		s.d.setCMN(mean, cmnAdaptPriorFrames)
		piece = s.e.cfg.NarrowbandFoldCMNAdaptMs * stt.Rate / 1000
	}
	got, alts, err := s.decodeSpanN(in, name, at*1000/stt.Rate, piece, n)
	if err == nil {
		err = s.d.useSearch(s.base)
	}
	s.d.setCMN(mean, 500)
	if err != nil {
		return nil, nil, err
	}
	for i := range alts {
		alts[i].words = s.numberOf(alts[i].words)
	}
	return s.numberOf(got), alts, nil
}

// numberOf returns the number of a reading: the digits after any lead
// word, up to the first other word, without the words too short to be
// digits (DigitMinWordMs).
func (s *stream) numberOf(got []stt.Word) []stt.Word {
	out := got[:0]
	for i, w := range got {
		t := strings.ToLower(w.Text)
		if _, digit := digitOf[t]; !digit && t != "double" && t != "triple" && pairOf[t] == "" {
			if len(out) == 0 && i < 2 {
				continue
			}
			break
		}
		if !shortDigit(t, w.EndMs-w.StartMs, s.e.cfg.DigitMinWordMs) {
			out = append(out, w)
		}
	}
	return out
}

// observed counts the card-context readings of an engine.
type observed struct {
	cardSpans    atomic.Int64 // audio after a card phrase decoded again
	cardReplaced atomic.Int64 // readings put in place of the words
	runSpans     atomic.Int64 // runs of number words decoded again (per grammar)
	runReplaced  atomic.Int64 // run readings put in place of the words
	runBounds    atomic.Int64 // of them, read within a run's other bounds (cardRunBounds)
	// cardAlternatives and runAlternatives count the readings put in
	// place that were not the best reading of their audio but one of
	// its other readings (Config.CardReadingAlternatives).
	cardAlternatives, runAlternatives atomic.Int64
	// spokenReread counts the utterances decoded again with the
	// spoken-forms prior (spokenreread.go), spokenChanged those whose
	// words it changed.
	spokenReread, spokenChanged atomic.Int64
}

// Kinds of card readings (CardReadings).
const (
	CardReadingPhrase = "phrase" // the audio after a card phrase
	CardReadingRun    = "run"    // a run of number words
)

// CardReadings returns, for one kind of card reading (CardReadingPhrase,
// CardReadingRun), how many times audio was decoded again (a run once per
// grammar) and how many readings were put in place of the language
// model's words, since the engine started; 0, 0 for another kind.
func (e *Engine) CardReadings(kind string) (decoded, replaced int64) {
	switch kind {
	case CardReadingPhrase:
		return e.observe.cardSpans.Load(), e.observe.cardReplaced.Load()
	case CardReadingRun:
		return e.observe.runSpans.Load(), e.observe.runReplaced.Load()
	}
	return 0, 0
}

// CardReadingAlternatives returns how many of the card readings put in
// place (both kinds) were not the best reading of their audio but
// another of its readings (Config.CardReadingAlternatives).
func (e *Engine) CardReadingAlternatives() int64 {
	return e.observe.cardAlternatives.Load() + e.observe.runAlternatives.Load()
}
