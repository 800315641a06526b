package pocketsphinx

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/earshot/earshot/media/stt"
	"github.com/google/go-cmp/cmp"
)

// hearFinal decodes pcm on a new stream of e and returns its finals' text
// and words joined.
func hearFinal(t *testing.T, e *Engine, pcm []int16, narrow bool) stt.Result {
	t.Helper()
	st, err := e.NewStream(context.Background(), stt.StreamOptions{Narrowband: narrow})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var fin stt.Result
	for _, r := range feed(t, st, pcm) {
		if r.Final {
			fin.Text = strings.TrimSpace(fin.Text + " " + r.Text)
			fin.Words = append(fin.Words, r.Words...)
		}
	}
	return fin
}

// longestDigits returns the longest run of the digits grammar's words in
// text, as digits.
func longestDigits(text string) string {
	var best string
	fields := strings.Fields(text)
	for i := range fields {
		for j := len(fields); j > i; j-- {
			var words []stt.Word
			for _, f := range fields[i:j] {
				words = append(words, stt.Word{Text: f})
			}
			if d, ok := spokenDigitsOf(words); ok && len(d) > len(best) {
				best = d
			}
		}
	}
	return best
}

func digitDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := prev[j-1]
			if a[i-1] != b[j-1] {
				c++
			}
			cur[j] = min(c, prev[j]+1, cur[j-1]+1)
		}
		prev = cur
	}
	return prev[len(b)]
}

// TestCardContextDigits: a card number read after "my card number is",
// synthesised (Flite's awb voice), at 16 kHz and through an 8 kHz mu-law
// telephone channel. The language model writes part of the number as
// other words ("radiated with"; at 8 kHz "duplicative zumwalt"), so no
// run of 12 digits is in its text. With card_context_digits the audio
// after the phrase is read with the digits grammar: the number comes out
// as digits (at most two wrong), the words before the phrase and after
// the number stay the language model's, and the times stay in order. The
// same sentence with "order number" instead of "card number" is left as
// the language model heard it (checked at 8 kHz).
func TestCardContextDigits(t *testing.T) {
	const card = "4539148803436467"
	const digits = "four five three nine one four eight eight zero three four three six four six seven"
	off := newEngine(t, func(c *Config) { c.CardContextDigits, c.CardNumberRuns = false, false })
	on := newEngine(t, func(c *Config) { c.CardContextDigits, c.CardNumberRuns = true, false })
	for _, narrow := range []bool{false, true} {
		pcm := append(flite(t, "awb", "sure my card number is "+digits+" and it expires ten twenty seven"), make([]int16, stt.Rate/2)...)
		order := append(flite(t, "awb", "sure my order number is "+digits+" and it expires ten twenty seven"), make([]int16, stt.Rate/2)...)
		if narrow {
			pcm, order = telephone(t, pcm), telephone(t, order)
		}
		lm, got := hearFinal(t, off, pcm, narrow), hearFinal(t, on, pcm, narrow)
		t.Logf("narrowband %v: language model %q", narrow, lm.Text)
		t.Logf("narrowband %v: card context   %q", narrow, got.Text)
		if d := longestDigits(lm.Text); len(d) >= cardContextMinDigits {
			t.Errorf("narrowband %v: the language model alone heard %s: the test needs a misheard number", narrow, d)
		}
		d := longestDigits(got.Text)
		if len(d) < cardContextMinDigits || digitDistance(d, card) > 2 {
			t.Errorf("narrowband %v: with card_context_digits heard %q (digits %s), want %s within two digits", narrow, got.Text, d, card)
		}
		if !strings.HasPrefix(got.Text, "sure my card number") {
			t.Errorf("narrowband %v: the words before the number changed: %q", narrow, got.Text)
		}
		tail := lm.Words[len(lm.Words)-3:]
		if gotTail := got.Words[len(got.Words)-3:]; !cmp.Equal(tail, gotTail) {
			t.Errorf("narrowband %v: the words after the number changed: %v, language model %v", narrow, gotTail, tail)
		}
		var last int64
		for i, w := range got.Words {
			if w.StartMs < last-20 || w.EndMs < w.StartMs {
				t.Errorf("narrowband %v: word %d %+v out of order", narrow, i, w)
			}
			last = w.EndMs
		}
		if !narrow {
			continue
		}
		if a, b := hearFinal(t, off, order, narrow).Text, hearFinal(t, on, order, narrow).Text; a != b {
			t.Errorf("narrowband %v: an order number was read again: %q, language model %q", narrow, b, a)
		}
	}
	if dec, rep := on.CardReadings(CardReadingPhrase); dec < 2 || rep < 2 {
		t.Errorf("card context readings: %d decoded, %d put in place; want 2 and 2", dec, rep)
	}
	if dec, _ := off.CardReadings(CardReadingPhrase); dec != 0 {
		t.Errorf("card context readings with the option off: %d", dec)
	}
}

func TestCardContextPhrase(t *testing.T) {
	phrases := [][]string{{"card", "number"}, {"card", "is"}, {"put", "it", "on"}}
	for _, tc := range []struct {
		text string
		want int
	}{
		{"my card number is four one", 3},
		{"my Card Number is four one", 3},
		{"my card number", 0},    // nothing after it
		{"my card number is", 0}, // one word after it
		{"my order number is four one", 0},
		{"put it on my card is four one two", 6}, // the last phrase
		{"", 0},
	} {
		var words []stt.Word
		for _, w := range strings.Fields(tc.text) {
			words = append(words, stt.Word{Text: w})
		}
		if got := cardContextPhrase(words, phrases); got != tc.want {
			t.Errorf("cardContextPhrase(%q) = %d, want %d", tc.text, got, tc.want)
		}
	}
	for _, tc := range []struct {
		text string
		want string
		ok   bool
	}{
		{"four one double one triple five oh", "41115550", true},
		{"four one thanks", "41", false},
		{"", "", true},
	} {
		var words []stt.Word
		for _, w := range strings.Fields(tc.text) {
			words = append(words, stt.Word{Text: w})
		}
		if got, ok := spokenDigitsOf(words); got != tc.want || ok != tc.ok {
			t.Errorf("spokenDigitsOf(%q) = %q, %v; want %q, %v", tc.text, got, ok, tc.want, tc.ok)
		}
	}
	for _, tc := range []struct {
		digits string
		card   bool
	}{{"4111111111111111", true}, {"4111111111111112", false}, {"411111111111", false}, {"79927398713", false}, {"4539148803436467", true}} {
		if got := isCard(tc.digits); got != tc.card {
			t.Errorf("isCard(%s) = %v", tc.digits, got)
		}
	}
	cfg := DefaultConfig()
	cfg.CardContextDigits, cfg.CardContextPhrases = true, nil
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "card_context_phrases") {
		t.Errorf("no card phrases: %v", err)
	}
	cfg.CardContextPhrases = []string{"card number", " "}
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "card_context_phrases[1]") {
		t.Errorf("an empty card phrase: %v", err)
	}
}

// TestCardContextLeavesSpeech: sentences a caller says about a card
// without reading its number, with card and payment words in them, are
// heard the same with card_context_digits on (the default phrases) as
// without it, at 16 kHz and through the mu-law telephone channel: the
// digits grammar reads any speech as digits, so a phrase followed by
// ordinary speech must not set it off. With payment words such as
// "charge" among the phrases, the second sentence came out as "there is
// a charge nine nine three eight nine three ...".
func TestCardContextLeavesSpeech(t *testing.T) {
	off := newEngine(t, func(c *Config) { c.CardContextDigits, c.CardNumberRuns = false, false })
	on := newEngine(t, nil)
	if !on.cfg.CardContextDigits {
		t.Fatal("card_context_digits is off by default: the test checks the default")
	}
	for _, s := range []string{
		"my card is not working since yesterday and i cannot pay for anything in the shops",
		"there is a charge on my statement from last tuesday that i do not recognise at all",
		"can i pay with my visa card because the other one was declined last week",
		"please put it on my account and send me the receipt by email when you can",
		"the long number is on the front but it has worn off and i cannot read it anymore",
		"i do not know my card number because i left the card at home this morning",
	} {
		for _, narrow := range []bool{false, true} {
			pcm := append(flite(t, "slt", s), make([]int16, stt.Rate/2)...)
			if narrow {
				pcm = telephone(t, pcm)
			}
			if a, b := hearFinal(t, off, pcm, narrow).Text, hearFinal(t, on, pcm, narrow).Text; a != b {
				t.Errorf("narrowband %v: %q heard as %q, the language model alone %q", narrow, s, b, a)
			}
		}
	}
}

// TestCardContextLaterUtterance: the card number is read in a stream's
// second utterance, after an ordinary one. The reading's words are timed
// on the stream's clock like the first utterance's (PocketSphinx's frame
// counter, ps_get_n_frames, counts the last utterance's frames only, and
// timing by it put every word of a later reading at the span's end, where
// the shortest-word rule dropped them all): the number comes out as
// digits, and the first utterance is heard as without the option.
func TestCardContextLaterUtterance(t *testing.T) {
	const card = "4539148803436467"
	const digits = "four five three nine one four eight eight zero three four three six four six seven"
	off := newEngine(t, func(c *Config) { c.CardContextDigits, c.CardNumberRuns = false, false })
	on := newEngine(t, func(c *Config) { c.CardContextDigits, c.CardNumberRuns = true, false })
	first := "hello i would like to pay my bill please"
	pcm := append(flite(t, "awb", first), make([]int16, 2*stt.Rate)...)
	pcm = append(pcm, flite(t, "awb", "sure my card number is "+digits+" and it expires ten twenty seven")...)
	pcm = append(pcm, make([]int16, stt.Rate/2)...)
	finals := func(e *Engine) []stt.Result {
		st, err := e.NewStream(context.Background(), stt.StreamOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		var out []stt.Result
		for _, r := range feed(t, st, pcm) {
			if r.Final && r.Text != "" {
				out = append(out, r)
			}
		}
		return out
	}
	lm, got := finals(off), finals(on)
	for _, r := range got {
		t.Logf("card context: %q", r.Text)
	}
	if len(lm) != 2 || len(got) != 2 {
		t.Fatalf("want two utterances, got %d and %d (language model alone)", len(got), len(lm))
	}
	if !cmp.Equal(lm[0], got[0]) {
		t.Errorf("the first utterance changed: %q, language model %q", got[0].Text, lm[0].Text)
	}
	if d := longestDigits(got[1].Text); digitDistance(d, card) > 2 {
		t.Errorf("second utterance %q: digits %s, want %s within two digits", got[1].Text, d, card)
	}
	for i, w := range got[1].Words {
		if w.StartMs < got[1].StartMs || w.EndMs <= w.StartMs || i > 0 && w.StartMs < got[1].Words[i-1].StartMs {
			t.Errorf("word %d %+v out of order or outside the utterance", i, w)
		}
	}
	if _, rep := on.CardReadings(CardReadingPhrase); rep != 1 {
		t.Errorf("readings put in place: %d, want 1", rep)
	}
}

// TestCardContextPairs: card numbers read in pairs after a card phrase
// (the redaction eval's third development set, e0170 and e0025, the
// voices of the eval). The digits grammar read "forty three nineteen
// sixteen ..." as "four two three nine two nine six ...", 22 digits,
// though the language model had heard the card exactly; and it read
// "forty nine ninety eight ... double oh sixty five", which the language
// model had heard with "double low", as 25 digits. Now a card heard in
// pairs stays, and a number heard in pairs is read with pairs first.
// Near misses: the same words after "order number" (no card phrase), and
// a card phrase followed by an amount in pairs, stay as the language
// model heard them.
func TestCardContextPairs(t *testing.T) {
	off := newEngine(t, func(c *Config) { c.Search, c.CardContextDigits, c.CardNumberRuns = SearchAccurate, false, false })
	on := newEngine(t, func(c *Config) { c.Search = SearchAccurate })
	for _, tc := range []struct {
		voice, say string
		want       string // "": the language model's words stay
	}{
		{"rms", "sure my card number is forty three nineteen sixteen twenty four fifty nine eighty seven sixteen twenty six", "4319162459871626"},
		{"kal16", "right card number forty nine ninety eight ninety seven seventy five twenty eight fifty nine double oh sixty five expiry zero one two five security code six three four thanks", "4998977528590065"},
		{"rms", "sure my order number is forty three nineteen sixteen twenty four fifty nine eighty seven sixteen twenty seven", ""},
		{"rms", "my card number ends in twenty four and the balance is forty five sixty", ""},
	} {
		pcm := append(flite(t, tc.voice, tc.say), make([]int16, stt.Rate/2)...)
		lm, got := hearFinal(t, off, pcm, false), hearFinal(t, on, pcm, false)
		t.Logf("%q: language model %q, with card readings %q", tc.say, lm.Text, got.Text)
		if tc.want == "" {
			if got.Text != lm.Text {
				t.Errorf("%q heard as %q, the language model alone %q", tc.say, got.Text, lm.Text)
			}
			continue
		}
		words := got.Words
		if j := cardContextPhrase(words, on.cardPhrases); j > 0 {
			words = words[j:]
		}
		if k := slices.IndexFunc(words, func(w stt.Word) bool { return cardContextStop[w.Text] }); k >= 0 {
			words = words[:k]
		}
		if d := heardDigits(words, false); d != tc.want {
			t.Errorf("%q heard as %q (digits %s), want %s", tc.say, got.Text, d, tc.want)
		}
	}
	// The language model's words stand for a card only when they are
	// number words throughout (TestCardContextShortOh: "... four six
	// most urban india to" read with its look-alikes passed the check).
	for _, tc := range []struct{ text, want string }{
		{"is forty three nineteen sixteen twenty four thanks", "43191624"},
		{"it is double oh sixty five", "0065"},
		{"four one age of three six to", "41"},
		{"the for one", ""},
	} {
		if got := leadingNumber(textWords(tc.text)); got != tc.want {
			t.Errorf("leadingNumber(%q) = %q, want %q", tc.text, got, tc.want)
		}
	}
}

// textWords returns the words of text, untimed.
func textWords(text string) []stt.Word {
	var ws []stt.Word
	for _, w := range strings.Fields(text) {
		ws = append(ws, stt.Word{Text: w})
	}
	return ws
}
