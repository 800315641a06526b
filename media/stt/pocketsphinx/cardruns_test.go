package pocketsphinx

import (
	"strings"
	"testing"

	"github.com/earshot/earshot/media/stt"
	"github.com/google/go-cmp/cmp"
)

// TestCardNumberRuns: a card number read with nothing before it that
// says it is one, synthesised with Flite and decoded with the accurate
// search (as the redaction eval does), at 16 kHz (slt voice) and through
// the 8 kHz mu-law telephone channel (rms voice). The language model
// writes most of the number as number words, with a few digits lost in
// other words ("five one eight three a week for one of three ...", "eight
// eight euro three forty three ..."), so its digits are no card number.
// With card_number_runs the run is read again with the digits grammar
// and comes out as the exact card number; the words before and after the
// run stay the language model's, and the times stay in order.
func TestCardNumberRuns(t *testing.T) {
	// Without the spoken-forms prior: the test needs numbers the
	// language model alone mishears, and the prior mends some of them.
	accurate := func(runs bool) func(*Config) {
		return func(c *Config) { c.Search, c.CardNumberRuns, c.SpokenFormsWeight = SearchAccurate, runs, 0 }
	}
	off, on := newEngine(t, accurate(false)), newEngine(t, accurate(true))
	for _, tc := range []struct {
		voice, card, before, digits, after string
		narrow                             bool
	}{
		{"slt", "5183084103781144", "can you put it on", "five one eight three oh eight four one oh three seven eight one one four four", "please", false},
		{"rms", "4539148803436467", "sure", "four five three nine one four eight eight zero three four three six four six seven", "thanks", true},
		// A run that goes on into the expiry date and security code
		// (the language model reads part of it in pairs: "for five
		// thirty nine ... x binary ten twenty seven ..."). The reading
		// replaces the card number's words only.
		{"awb", "4539148803436467", "", "four five three nine one four eight eight zero three four three six four six seven", "expiry ten twenty seven security code one two three", false},
	} {
		pcm := append(flite(t, tc.voice, strings.TrimSpace(tc.before+" "+tc.digits+" "+tc.after)), make([]int16, stt.Rate/2)...)
		if tc.narrow {
			pcm = telephone(t, pcm)
		}
		lm, got := hearFinal(t, off, pcm, tc.narrow), hearFinal(t, on, pcm, tc.narrow)
		t.Logf("narrowband %v: language model %q", tc.narrow, lm.Text)
		t.Logf("narrowband %v: card runs      %q", tc.narrow, got.Text)
		if tc.before != "" && strings.Contains(heardDigits(lm.Words, true), tc.card) {
			t.Errorf("narrowband %v: the language model alone heard %s: the test needs a misheard number", tc.narrow, tc.card)
		}
		if d := longestDigits(got.Text); !strings.HasPrefix(d, tc.card) {
			t.Errorf("narrowband %v: with card_number_runs heard %q (digits %s), want %s", tc.narrow, got.Text, d, tc.card)
		}
		if tc.before != "" && (!strings.HasPrefix(got.Text, tc.before+" ") || !strings.HasPrefix(lm.Text, tc.before+" ")) {
			t.Errorf("narrowband %v: the words before the number: %q, language model %q, want %q", tc.narrow, got.Text, lm.Text, tc.before)
		}
		// The words after the number stay the language model's.
		n := max(1, len(strings.Fields(tc.after))-2) // "expiry" may be heard as two words
		if a, b := lm.Words[len(lm.Words)-n:], got.Words[len(got.Words)-n:]; !cmp.Equal(a, b) {
			t.Errorf("narrowband %v: the words after the number: %+v, language model %+v", tc.narrow, b, a)
		}
		var last int64
		for i, w := range got.Words {
			if w.StartMs < last-20 || w.EndMs < w.StartMs {
				t.Errorf("narrowband %v: word %d %+v out of order", tc.narrow, i, w)
			}
			last = w.EndMs
		}
	}
	if dec, rep := on.CardReadings(CardReadingRun); dec < 3 || rep != 3 {
		t.Errorf("card number run readings: %d decoded, %d put in place; want 3 put in place", dec, rep)
	}
	dp, rp := on.CardReadings(CardReadingPhrase)
	dr, rr := on.CardReadings(CardReadingRun)
	if dec, rep := dp+dr, rp+rr; dec < 2 || rep < 2 {
		t.Errorf("card context readings (both kinds): %d decoded, %d put in place", dec, rep)
	}
	if dec, _ := off.CardReadings(CardReadingRun); dec != 0 {
		t.Errorf("card number run readings with the option off: %d", dec)
	}
}

// TestCardNumberRunsLeaveSpeech: ordinary sentences, some with numbers
// in them (amounts, times, "two or three days", order and phone numbers
// shorter than a card), are heard the same with card_number_runs on as
// without it, at 16 kHz and through the telephone channel.
func TestCardNumberRunsLeaveSpeech(t *testing.T) {
	// Without the spoken-forms prior: the test needs numbers the
	// language model alone mishears, and the prior mends some of them.
	accurate := func(runs bool) func(*Config) {
		return func(c *Config) { c.Search, c.CardNumberRuns, c.SpokenFormsWeight = SearchAccurate, runs, 0 }
	}
	off, on := newEngine(t, accurate(false)), newEngine(t, accurate(true))
	for _, s := range []string{
		"i was charged four hundred and twenty five pounds for two or three things so call me back at ten thirty",
		"my order number is four seven two six four seven six six and i want to go to the shop for it",
		"you can reach me on oh seven seven nine double four one two three six eight nine after six",
	} {
		for _, narrow := range []bool{false, true} {
			pcm := append(flite(t, "slt", s), make([]int16, stt.Rate/2)...)
			if narrow {
				pcm = telephone(t, pcm)
			}
			if a, b := hearFinal(t, off, pcm, narrow), hearFinal(t, on, pcm, narrow); !cmp.Equal(a, b) {
				t.Errorf("narrowband %v: %q heard as %q, the language model alone %q", narrow, s, b.Text, a.Text)
			}
		}
	}
	dec, rep := on.CardReadings(CardReadingRun)
	if rep != 0 {
		t.Errorf("%d run readings put in place in ordinary speech", rep)
	}
	t.Logf("runs decoded again: %d (a phone number is a run, but no card)", dec)
}

func TestCardNumberRunsFound(t *testing.T) {
	for _, tc := range []struct {
		text string
		want [][2]int
	}{
		// Digit by digit, with look-alikes and the language model's
		// guesses between them.
		{"sure five three one one o seven one three three one four eight four four two thanks", [][2]int{{1, 16}}},
		{"can you put it on five one eight three a week for one of three seven eight one one four four please", [][2]int{{5, 21}}},
		// In pairs.
		{"okay so three seven seven three of four sixty nine nine seven eight seven six nine", [][2]int{{2, 16}}},
		// Too few number words, or too far apart.
		{"i want to go to the shop for two or three things for my wife to see", nil},
		{"i was charged four hundred and twenty five pounds and sixty pence", nil},
		{"my order number is four seven two six four seven six", nil},
		{"in twenty twenty three i paid fifty pounds for two or three of them", nil},
		// Look-alikes do not count: "to" and "for" are common words.
		{"to for to for to for to for to for", nil},
		{"", nil},
	} {
		var words []stt.Word
		for _, w := range strings.Fields(tc.text) {
			words = append(words, stt.Word{Text: w})
		}
		if got := cardNumberRuns(words, DefaultCardNumberRunWords); !cmp.Equal(got, tc.want) {
			t.Errorf("cardNumberRuns(%q) = %v, want %v", tc.text, got, tc.want)
		}
	}
	// An IBAN's or a reference's digits after (or among) spelled
	// letters are not read as a card; a card after ordinary words is.
	for _, tc := range []struct {
		text string
		i, j int
		want bool
	}{
		{"right my iban is g b zero seven l o y d zero five seven three four nine", 8, 16, true},
		{"my iban is d e one six nine eight one nine seven eight two four", 5, 15, true},
		{"iban i e four five a i b k one five three three nine three", 4, 15, true},
		{"sure i can it is five one eight three oh eight four one", 5, 12, false},
		{"a i want to pay with five one eight three oh eight four one", 6, 14, false},
		{"okay so it's on m x six five three and two five zero three five six five", 6, 17, false},
	} {
		var words []stt.Word
		for _, w := range strings.Fields(tc.text) {
			words = append(words, stt.Word{Text: w})
		}
		if got := spelledNear(words, tc.i, tc.j); got != tc.want {
			t.Errorf("spelledNear(%q, %d, %d) = %v, want %v", tc.text, tc.i, tc.j, got, tc.want)
		}
	}
	for _, tc := range []struct {
		text string
		want string
	}{
		{"five three one one o seven for to ate won", "531107428" + "1"},
		{"double four triple two", "44222"},
		{"forty eight ninety eight twelve seventy", "48981270"},
		{"three of four", "304"},
		{"forty oh", "400"},
	} {
		var words []stt.Word
		for _, w := range strings.Fields(tc.text) {
			words = append(words, stt.Word{Text: w})
		}
		if got := heardDigits(words, true); got != tc.want {
			t.Errorf("heardDigits(%q) = %s, want %s", tc.text, got, tc.want)
		}
	}
	// A run the language model heard as a card is written with digit
	// words for its look-alikes.
	for _, tc := range []struct{ text, want string }{
		{"five double one nine seven double three five of four one five six eight double too",
			"five double one nine seven double three five oh four one five six eight double two"},
		{"for five three nine won four eight eight zero three four three six four six seven",
			"four five three nine one four eight eight zero three four three six four six seven"},
	} {
		var words []stt.Word
		for _, w := range strings.Fields(tc.text) {
			words = append(words, stt.Word{Text: w})
		}
		if !heardCard(words) {
			t.Errorf("%q: not heard as a card", tc.text)
		}
		var got []string
		for _, w := range asDigitWords(words) {
			got = append(got, w.Text)
		}
		if strings.Join(got, " ") != tc.want {
			t.Errorf("asDigitWords(%q) = %q, want %q", tc.text, strings.Join(got, " "), tc.want)
		}
	}
	cfg := DefaultConfig()
	cfg.CardNumberRuns, cfg.CardNumberRunWords = true, 3
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "card_number_run_words") {
		t.Errorf("a run of 3 words: %v", err)
	}
}

// TestCardNumberRunBounds: a card number whose last digits the language
// model hides in words after the run ("two double on floor" for "two
// double one four", slt voice, as in the redaction eval's second
// development set). Neither the run nor the run with the word after it
// reads as a card (the digits grammar hears "double one" and stops);
// with two words after it, it is the exact card number. The same words
// with the last digit changed (an order number: no Luhn check passes)
// stay as the language model heard them.
func TestCardNumberRunBounds(t *testing.T) {
	// Without the spoken-forms prior, as TestCardNumberRuns.
	e := newEngine(t, func(c *Config) { c.Search, c.CardNumberRuns, c.SpokenFormsWeight = SearchAccurate, true, 0 })
	const card = "4569821892114"
	for _, tc := range []struct {
		say  string
		want string // "": the language model's words stay
	}{
		{"can you put it on four five six nine eight two one eight nine two double one four", card},
		{"can you put it on four five six nine eight two one eight nine two double one three", ""},
	} {
		pcm := append(flite(t, "slt", tc.say), make([]int16, stt.Rate/2)...)
		before := e.observe.runBounds.Load()
		got := hearFinal(t, e, pcm, false)
		t.Logf("%q heard as %q", tc.say, got.Text)
		bounds := e.observe.runBounds.Load() - before
		if tc.want == "" {
			if bounds != 0 || isCard(longestDigits(got.Text)) {
				t.Errorf("order number %q: heard as %q, %d readings within other bounds put in place", tc.say, got.Text, bounds)
			}
			continue
		}
		if d := longestDigits(got.Text); d != tc.want || bounds != 1 {
			t.Errorf("%q heard as %q (digits %s), %d readings within other bounds; want %s from one", tc.say, got.Text, d, bounds, tc.want)
		}
		if !strings.HasPrefix(got.Text, "can you put it on ") {
			t.Errorf("the words before the number: %q", got.Text)
		}
	}
	// The bounds: without the look-alikes the run ends in, two words
	// after it, two words before it (not before prev).
	words := func(text string) []stt.Word {
		var ws []stt.Word
		for _, w := range strings.Fields(text) {
			ws = append(ws, stt.Word{Text: w})
		}
		return ws
	}
	for _, tc := range []struct {
		text       string
		i, j, prev int
		want       [][2]int
	}{
		{"please charge present for the one nine four six nine two three seven three for the balance", 3, 15, 0, [][2]int{{3, 14}, {3, 17}, {1, 15}}},
		{"okay so sick so double one two four eight seven five eight four o seven four oh is that", 4, 17, 0, [][2]int{{4, 19}, {2, 17}}},
		{"five one eight three oh eight four one oh three seven eight one one four four", 0, 16, 0, nil},
		{"it is five one eight three oh eight four one oh three seven eight one one four four thanks", 2, 18, 1, [][2]int{{1, 18}}},
	} {
		if got := cardRunBounds(words(tc.text), tc.i, tc.j, tc.prev); !cmp.Equal(got, tc.want) {
			t.Errorf("cardRunBounds(%q, %d, %d, %d) = %v, want %v", tc.text, tc.i, tc.j, tc.prev, got, tc.want)
		}
	}
}

// TestCardAlternativesLeaveOrderNumbers: numbers as long as a card's
// that fail the Luhn check (an order, a tracking number), read digit by
// digit after words that do not announce a card, stay as the language
// model and the digits grammar heard them: no next-best reading is put
// in their place as a card number, though about one in ten of a number's
// one-digit variants passes the check.
func TestCardAlternativesLeaveOrderNumbers(t *testing.T) {
	e := newEngine(t, func(c *Config) { c.CardReadingAlternatives = 10 })
	names := []string{"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"}
	for _, tc := range []struct{ voice, before, number, after string }{
		{"slt", "my order number is", "5183084103781145", "thanks"},
		{"rms", "the tracking number is", "4539148803436468", "please"},
		{"awb", "i am calling about", "3712844910335724", "okay"},
	} {
		if luhn(tc.number) {
			t.Fatalf("%s passes the Luhn check: the test needs numbers that do not", tc.number)
		}
		var say []string
		for _, c := range tc.number {
			say = append(say, names[c-'0'])
		}
		got := hearFinal(t, e, append(flite(t, tc.voice, tc.before+" "+strings.Join(say, " ")+" "+tc.after), make([]int16, stt.Rate/2)...), false)
		t.Logf("%s: %q", tc.voice, got.Text)
		if d := heardDigits(got.Words, false); strings.Contains(d, tc.number[:8]) && isCard(longestDigits(got.Text)) {
			t.Errorf("%s: %s heard as the card number %s", tc.voice, tc.number, longestDigits(got.Text))
		}
	}
	if n := e.CardReadingAlternatives(); n != 0 {
		t.Errorf("%d next-best readings put in place as card numbers", n)
	}
}

// TestCardAlternatives: a card number, expiry and security code read out
// (slt voice, fast search): the language model heard "six so double one
// one eight four airforce seventy nine eighty around nine", and the best
// digits reading of the run is no card number either (with the accurate
// search it drops a digit: 15 digits). One of the audio's next-best
// readings is the card number, and with card_reading_alternatives it is put in place;
// without, the number stays unread. The expiry and security code stay
// the language model's.
func TestCardAlternatives(t *testing.T) {
	const card = "6011184047298209"
	pcm := append(flite(t, "slt", "okay so card number six oh double one one eight four oh four seven two nine eight two oh nine "+
		"expiry one two two seven security code eight two five is that okay"), make([]int16, stt.Rate/2)...)
	off := newEngine(t, nil)
	on := newEngine(t, func(c *Config) { c.CardReadingAlternatives = 10 })
	a, b := hearFinal(t, off, pcm, false), hearFinal(t, on, pcm, false)
	t.Logf("best reading only: %q", a.Text)
	t.Logf("next-best readings: %q", b.Text)
	if strings.Contains(heardDigits(a.Words, false), card) {
		t.Errorf("the best reading alone heard %s: the test needs a misread number", card)
	}
	if d := longestDigits(b.Text); d != card {
		t.Errorf("with card_reading_alternatives heard %q (digits %s), want %s", b.Text, d, card)
	}
	if !strings.HasSuffix(b.Text, "security code age of five is that okay") || !strings.HasSuffix(a.Text, "security code age of five is that okay") {
		t.Errorf("the words after the number changed: %q, best reading only %q", b.Text, a.Text)
	}
	if n := on.CardReadingAlternatives(); n != 1 {
		t.Errorf("%d next-best readings put in place, want 1", n)
	}
	if n := off.CardReadingAlternatives(); n != 0 {
		t.Errorf("%d next-best readings put in place with the option off", n)
	}
	cfg := DefaultConfig()
	cfg.CardReadingAlternatives = 51
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "card_reading_alternatives") {
		t.Errorf("51 alternatives: %v", err)
	}
	for d, want := range map[string]bool{"4111111111111111": true, "411111111111111": false, "5500000000000004": true,
		"55000000000000044": false, "378282246310005": true, "6011000000000004": true, "30569309025904": true, "9111111111111111": false} {
		if got := networkLength(d); got != want {
			t.Errorf("networkLength(%s) = %v, want %v", d, got, want)
		}
	}
	// A run read as a well-formed number that fails the check (an order
	// number's shape) looks at no other readings; one a digit short or
	// long does.
	for d, want := range map[string]bool{"5181230342178561": true, "601118404729809": false, "461651347865": false,
		"62323724069034959": true, "51812303421785618": false} {
		if got := cardShaped(d); got != want {
			t.Errorf("cardShaped(%s) = %v, want %v", d, got, want)
		}
	}
}
