package redact

import "testing"

// TestIBANHeard: IBANs as a recogniser wrote them (16 kHz, accurate search,
// from the development sets): the spelled country and bank code come out
// as words, and "iban" as "ibanez" or "id and". After an IBAN phrase the
// long number that follows ends the IBAN, and the words before it are
// its start. Amounts, a card after its own phrase and numbers after a
// reference phrase stay as they are.
func TestIBANHeard(t *testing.T) {
	tests := []redactCase{
		// "my iban is i e oh six a i b k one seven three nine ..."
		{"ibanez", "my ibanez i knew of six i'd be the one seven three nine seven two two four six five two six one one",
			"my ibanez [IBAN]"},
		// "okay so my iban is d e eight three seven four two seven ..."
		{"id and his", "okay so my id and his g eight three seven four to seven four three three one two two four seven three five three four six three",
			"okay so my id and his [IBAN]"},
		// "please send the refund to g b nine six double you e s t eight
		// five one three ...": eleven words before the digits.
		{"refund to", "please send the refund to d b nine six w e s t a fight with three eight five one two five three seven three nine five thanks",
			"please send the refund to [IBAN] thanks"},
		// "right iban g b zero two m i d l five four eight nine ..."
		{"bungee", "right to bungee be zero to mit or five four eight nine zero four zero three four four three five nine five",
			"right to bungee [IBAN]"},
		// "my iban is d e two eight one two nine two one zero nine ..."
		{"my income is", "my income is do you teach you a twenty nine two one zero nine five nine three five two four seven five one three two",
			"my income is [IBAN]"},
		{"income", "my income is twenty five thousand a year", "my income is twenty five thousand a year"},
		{"bungee jump", "we went bungee jumping in two thousand and nineteen", "we went bungee jumping in two thousand and nineteen"},
		{"amount", "you will get a refund to the value of twenty nine pounds ninety nine",
			"you will get a refund to the value of twenty nine pounds ninety nine"},
		{"short number", "please send the refund to the card ending four four two one",
			"please send the refund to the card ending four four two one"},
		{"order number after", "please send the refund to me, my order number is four seven nine four two eight eight eight nine six",
			"please send the refund to me, my order number is four seven nine four two eight eight eight nine six"},
		{"sentence end", "please send the refund to me. four seven nine four two eight eight eight nine six one two",
			"please send the refund to me. four seven nine four two eight eight eight nine six one two"},
		{"id and passport", "i showed my id and his passport at three forty five", "i showed my id and his passport at three forty five"},
		{"card after its phrase", "please send the refund to my card four five five six seven three seven five eight six eight nine nine eight five five",
			"please send the refund to my card [CARD ending 9855]"},
	}
	checkVoiceRedactions(t, tests)
}
