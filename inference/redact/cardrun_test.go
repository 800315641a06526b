package redact

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// Card numbers read out and written by a recogniser with its errors: the
// digits fail the Luhn check, but the stretch after a card phrase is a card.
func TestLooseCardRuns(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"words for digits", "my debit card is five one eight three o h for one or three seven eight one one four four and it expires ten twenty five",
			"my debit card is [CARD] and it expires [EXPIRY]"},
		{"long word inside", "the card number is four today one five five two nine three three one oh six seven two thanks",
			"the card number is [CARD] thanks"},
		{"pairs misheard", "can you put it on forty one sixty two ninety eight thirty oh seven seventy one fifty five is that okay",
			"can you put it on [CARD] is that okay"},
		{"after a payment phrase", "please charge six seven five nine six three nine seven five six three one seven one nine one nine five for the balance",
			"please charge [CARD] the balance"},
		{"filler and lead words", "card number is uh three seven oh nine nine eight tanks nine seven four seven four two oh nine",
			"card number is uh [CARD]"},
		{"stops at the expiry", "card number five one one eight one four oh nine seven four four nine six oh oh five expiry one one three two security code nine six three",
			"card number [CARD] expiry [EXPIRY] security code [CVV]"},
		{"valid card keeps its last four", "the card number is four one one one one one one one one one one one one one one one",
			"the card number is [CARD ending 1111]"},
		{"valid card widened over a misheard tail", "the card number is four one one one one one one one one one one one one one one one in two",
			"the card number is [CARD]"},
		{"two cards stay two", "card four one one one one one one one one one one one one one one one and five five oh oh oh oh oh oh oh oh oh oh oh oh oh four",
			"card [CARD ending 1111] and [CARD ending 0004]"},
		// near misses: nothing redacted
		{"order number in card context", "i paid by card and my order number is four one five five two nine three three one oh six seven two",
			"i paid by card and my order number is four one five five two nine three three one oh six seven two"},
		{"counts after cards", "i have four accounts and two cards with you can you check that for me",
			"i have four accounts and two cards with you can you check that for me"},
		{"amount after charge", "they charge two hundred and fifty pounds a month over twelve months",
			"they charge two hundred and fifty pounds a month over twelve months"},
		{"too short", "the card ends in four four one two is that okay", "the card ends in four four one two is that okay"},
		{"no card phrase", "i'm calling about four today one five five two nine three three one oh six seven two",
			"i'm calling about four today one five five two nine three three one oh six seven two"},
		{"words break it", "put it on the account and then call me on the twenty first of may about the three cards",
			"put it on the account and then call me on the twenty first of may about the three cards"},
	}
	r := mustNew(t, DefaultPolicy())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := r.Redact(SourceVoice, tt.in, nil).Text; got != tt.want {
				t.Errorf("Redact(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
		})
	}
}

// A card read out over two segments, the first ending in a misheard word:
// the first is held, and both come out redacted; the partials in between
// show no digits.
func TestLooseCardAcrossSegments(t *testing.T) {
	r := mustNew(t, DefaultPolicy())
	st, err := r.NewStream(SourceVoice, StreamConfig{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1000, 0)
	if got := st.Final(Segment{ID: 1, Text: "my card number is five one eight three today"}, now); len(got) != 0 {
		t.Fatalf("first segment released at once: %v", texts(got))
	}
	if p := st.Partial("one or three seven", nil).Text; p != "[NUMBER]" {
		t.Errorf("partial = %q", p)
	}
	got := texts(st.Final(Segment{ID: 2, Text: "one or three seven eight one one four four thanks"}, now.Add(time.Second)))
	want := map[uint64]string{1: "my card number is [CARD]", 2: "[CARD] thanks"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("releases (-want +got):\n%s", diff)
	}
	// A complete number followed by a word is not held.
	if got := st.Final(Segment{ID: 3, Text: "the card is four today one five five two nine three three one oh six seven two thanks"}, now.Add(2*time.Second)); len(got) != 1 {
		t.Errorf("complete card held: %v", texts(got))
	}
	// Words after a short number with no card phrase are not held.
	if got := st.Final(Segment{ID: 4, Text: "i waited four today"}, now.Add(3*time.Second)); len(got) != 1 {
		t.Errorf("held without a card phrase: %v", texts(got))
	}
}

// "CVV" as a recogniser hears it: three letters of the E-set.
func TestSecurityCodeHeard(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"one word", "the cdc is eight six three", "the cdc is [CVV]"},
		{"three letters", "c b v nine four two thanks", "c b v [CVV] thanks"},
		{"written digits", "cvc: 123", "cvc: [CVV]"},
		{"no number", "i watched a dvd about it", "i watched a dvd about it"},
		{"an amount", "the bbc said two hundred people", "the bbc said two hundred people"},
		{"too far", "the bbc news at nine is on two three four", "the bbc news at nine is on two three four"},
	}
	r := mustNew(t, DefaultPolicy())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := r.Redact(SourceVoice, tt.in, nil).Text; got != tt.want {
				t.Errorf("Redact(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
		})
	}
}

// The agent asks for the card number and the customer reads it with no
// card phrase of their own; the recogniser misheard digits, so only the
// question says it is a card.
func TestCardQuestionFromOtherParty(t *testing.T) {
	const answer = "sure three six double eight four one nine double six five double for today"
	tests := []struct {
		name    string
		turns   [][2]string // party, text
		want    map[uint64]string
		partial string // the customer's partial after the turns, and its redaction
		wantP   string
	}{
		{"asked", [][2]string{{"agent", "can i take the long number on the front of the card please"}, {"customer", answer}},
			map[uint64]string{1: "can i take the long number on the front of the card please", 2: "sure [CARD] today"},
			"", ""},
		{"asked before the customer spoke", [][2]string{{"agent", "what's your card number"}, {"customer", "okay hang on"}, {"customer", answer}},
			map[uint64]string{1: "what's your card number", 2: "okay hang on", 3: "sure [CARD] today"},
			"", ""},
		{"partial of the answer", [][2]string{{"customer", "hello"}, {"agent", "what's the card number"}},
			map[uint64]string{1: "hello", 2: "what's the card number"},
			"three six double", "[NUMBER] double"},
		// near misses: nothing redacted
		{"not asked", [][2]string{{"agent", "how can i help"}, {"customer", answer}},
			map[uint64]string{1: "how can i help", 2: answer}, "", ""},
		{"card read by the agent", [][2]string{{"agent", "the card ending four four one two"}, {"customer", answer}},
			map[uint64]string{1: "the card ending four four one two", 2: answer}, "", ""},
		{"order number given", [][2]string{{"agent", "what's the card number"}, {"customer", "my order number is three six double eight four one nine double six five double for today"}},
			map[uint64]string{1: "what's the card number", 2: "my order number is three six double eight four one nine double six five double for today"}, "", ""},
		{"question long past", [][2]string{{"agent", "what's the card number"}, {"customer", "one moment"}, {"customer", "still looking"}, {"customer", answer}},
			map[uint64]string{1: "what's the card number", 2: "one moment", 3: "still looking", 4: answer}, "", ""},
	}
	r := mustNew(t, DefaultPolicy())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := r.NewEngagement(SourceVoice, StreamConfig{})
			if err != nil {
				t.Fatal(err)
			}
			now := time.Unix(1000, 0)
			var got []Release
			for i, turn := range tt.turns {
				got = append(got, e.Final(turn[0], Segment{ID: uint64(i + 1), Text: turn[1]}, now)...)
				now = now.Add(time.Second)
			}
			if tt.partial != "" {
				if p := e.Partial("customer", tt.partial, nil).Text; p != tt.wantP {
					t.Errorf("partial %q = %q, want %q", tt.partial, p, tt.wantP)
				}
			}
			got = append(got, e.Flush()...)
			if diff := cmp.Diff(tt.want, texts(got)); diff != "" {
				t.Errorf("releases (-want +got):\n%s", diff)
			}
		})
	}
}

// Card numbers read without a card phrase, or after one the recogniser
// spelled its own way, as the recogniser wrote them; and the near misses
// next to them.
func TestCardHeard(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		// "oh" heard as "of" between two long runs is a zero inside one
		// number, not the word between two numbers.
		{"of inside a long number", "yes of course five double one nine seven double three five of four one five six eight double too",
			"yes of course [CARD ending 6822]"},
		// "it's a visa" heard as "it should be zero": no card starts with 0.
		{"inserted zero", "it should be zero four zero six three five nine four nine nine eight seven zero four",
			"it should be zero [CARD ending 8704]"},
		// "amex" heard as "m x": a card phrase, so a misheard digit
		// (here the last) does not lose the number.
		{"amex as letters", "sure it's on m x six two two two zero two four seven six six three seven eight to eight nine nine one five",
			"sure it's on m x [CARD]"},
		// "two eight" heard as "today" after the last digits.
		{"today for two eight", "sure three six double seven four one nine double six five double for today can you check that for me",
			"sure [CARD ending 4428] can you check that for me"},
		// near misses: nothing redacted
		{"today, not a card", "sure three six double eight four one nine double six five double for today can you check that for me",
			"sure three six double eight four one nine double six five double for today can you check that for me"},
		{"today after an order number", "my order number is three six double seven four one nine double six five double for today",
			"my order number is three six double seven four one nine double six five double for today"},
		// Digits after an IBAN's spelled country are the rest of the IBAN:
		// redacted as one, not as a card, and not left.
		{"after a spelled country", "for like minded and his g b zero seven july two zero five seven three four nine one two one one eight seven nine three camps",
			"for like minded and his [IBAN] camps"},
		// "reference" as a recogniser writes it: the number after it is
		// a reference, not a phone number.
		{"referenced", "okay so i have a complete referenced three two one seven three seven five one two one",
			"okay so i have a complete referenced three two one seven three seven five one two one"},
		{"preference", "my preference is four one five five five five two six seven one",
			"my preference is four one five five five five two six seven one"},
		{"inserted zero, not a card", "it should be zero four zero six three five nine four nine nine eight seven zero five",
			"it should be zero four zero six three five nine four nine nine eight seven zero five"},
		{"or between two numbers", "five double one nine seven double three five or four one five six eight double too",
			"five double one nine seven double three five or four one five six eight double too"},
		// The digits of an IBAN after its spelled bank code pass the Luhn
		// check by chance; they are the end of the IBAN, not a card, and
		// the IBAN is redacted from its country on.
		{"after a spelled bank code", "sure my id and his g b one six l a y d six seven seven zero two two six seven seven two seven nine six five",
			"sure my id and his [IBAN]"},
		// A card read right after a spelled name is still redacted (as
		// the code the letters seem to start).
		{"card after a spelled name", "that's s m i t h four one one one one one one one one one one one one one one one",
			"that's [IBAN]"},
		// Spelled letters with a short number after them are left.
		{"short number after letters", "flat b c d twelve", "flat b c d twelve"},
		// The expiry read right after a card number, its "expiry" heard
		// as other words: the date there is the card's expiry (and no
		// longer taken into the card's stretch).
		{"expiry as x binary", "right card number two two two one six nine zero nine two six six six nine one one seven x binary december twenty twenty seven to clear a cheat code for six six can you check that for me",
			"right card number [CARD ending 9117] x binary [EXPIRY] clear a cheat code [CVV] can you check that for me"},
		{"expiry as bucks by re", "okay so card number six five two six seven five five one four six three six nine five six seven bucks by re september twenty thirty three security code six five nine can you check that for me",
			"okay so card number [CARD ending 9567] bucks by re [EXPIRY] security code [CVV] can you check that for me"},
		{"expiry as next bio", "okay so card number six two oh three four nine three one eight four three seven two three oh seven eight one nine next bio four to six security code seven five five is that okay",
			"okay so card number [CARD ending 7819] next [EXPIRY] security code [CVV] is that okay"},
		// A security code with its first digit heard as a word.
		{"code with a word before", "yes of course card number four five five five six two four five eight seven three four zero expiry nine thirty three security code take one for",
			"yes of course card number [CARD ending 7340] expiry [EXPIRY] security code [CVV]"},
		// near misses: two digits after the phrase with a function or
		// closing word, a number word or nothing next to them.
		{"code of two digits", "the security code is twelve", "the security code is twelve"},
		{"code of two digits, then thanks", "my security code twenty one thanks", "my security code twenty one thanks"},
		{"code after a word", "the security code sorry one four", "the security code sorry one four"},
		// near misses: an amount after a card number (no expiry; the
		// card's stretch takes the amount in, as before), a date after
		// another phrase.
		{"amount after a card", "please charge four five three nine one four eight eight zero three four three six four six seven for twelve fifty thanks",
			"please charge [CARD] thanks"},
		{"amount with its unit after a card", "my card number is four five three nine one four eight eight zero three four three six four six seven so ten twenty pounds",
			"my card number is [CARD] pounds"},
		// "please charge" heard as "please charged" (the redaction eval's
		// third development set, e0104, e0148, e0288): the number after
		// it is read as after "please charge".
		{"please charged", "okay so please charged six seven five nine fear of his era for seven zero seven three zero eight seven nine two six five for the balance can you check that for me",
			"okay so please charged six seven five nine fear of his era [CARD] the balance can you check that for me"},
		{"please charged, look-alikes", "please charged three four five for wanting to eight seven three two one two five for the balance",
			"please charged [CARD] for the balance"},
		{"please charged, words for digits", "okay so please charged six five adelaide trouble for a double nine one six five eight five three for the balance is that okay",
			"okay so please charged [CARD] for the balance is that okay"},
		// near misses: "charged" in a sentence is no card phrase.
		{"charged an amount", "i was charged twenty pounds twice", "i was charged twenty pounds twice"},
		{"charged for months", "i've been charged for twelve months at thirty four ninety nine since twenty nineteen",
			"i've been charged for twelve months at thirty four ninety nine since twenty nineteen"},
		{"charged for an order number", "i was charged twice for four five three nine one four eight eight zero three four three six four six eight",
			"i was charged twice for four five three nine one four eight eight zero three four three six four six eight"},
		{"please charged an amount", "please charged twenty pounds to my card", "please charged twenty pounds to my card"},
		// "six oh" heard as "sick so" before a digit (third development
		// set e0055, second d0272).
		{"sick so for six oh", "sick so double one three double eight seven no double six nine seven double six four",
			"[CARD ending 7664]"},
		{"sick so in a security code", "sure the security code is sick so five can you check that for me",
			"sure the security code is [CVV] can you check that for me"},
		// near misses: "sick so" before words, and a number it starts
		// that is no card.
		{"sick so before words", "i was off sick so two of my payments were late", "i was off sick so two of my payments were late"},
		{"sick so, then no card", "sick so double one three double eight seven no double six nine seven double six five",
			"sick so double one three double eight seven no double six nine seven double six five"},
		// "card number" heard as "car number" (the recogniser loses the
		// "d" before "number"; third development set e0197): the number
		// after it, read in pairs and misheard, is a card.
		{"car number", "my car number is fifty three sixty eight two twenty five sixty eight forty seven ninety no seven is that okay",
			"my car number is [CARD] is that okay"},
		// near misses: a number plate, a short number.
		{"car number plate", "my car number plate is l c five one x y z", "my car number plate is l c five one x y z"},
		{"car number, short", "my car number is twelve", "my car number is twelve"},
		{"date after another phrase", "my card number is four five three nine one four eight eight zero three four three six four six seven and my birthday is march nineteen eighty",
			"my card number is [CARD ending 6467] and my birthday is [DOB]"},
	}
	r := mustNew(t, DefaultPolicy())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := r.Redact(SourceVoice, tt.in, nil).Text; got != tt.want {
				t.Errorf("Redact(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
		})
	}
}
