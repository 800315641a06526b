package redact

import "testing"

// TestExpiryHeard: expiry dates as a recogniser wrote them (16 kHz,
// accurate search, from the development sets). A month said with its
// "oh" (01-09) often loses it to a word before the date ("you'll four
// thirty one" for "oh four thirty one"): that word is redacted with the
// date. A date whose digits became a house number and a street right
// after the expiry phrase is still the date. Words a caller says there,
// amounts and addresses elsewhere are left as they are.
func TestExpiryHeard(t *testing.T) {
	tests := []redactCase{
		// "... expiry oh four thirty one security code eight one one ..."
		{"oh as you'll", "yes of course card number five five one four eight six eight five two nine seven six one two one three expiry you'll four thirty one security code eight one one is that okay",
			"yes of course card number [CARD ending 1213] expiry [EXPIRY] security code [CVV] is that okay"},
		// "... expiry oh six three two security code seven one two ..."
		{"oh as you're", "our number forty one oh nine sixty three forty six forty ninety six forty one point or expire you're six three two security code seven one two can you check up for me",
			"our number [CARD ending 9641] point or expire [EXPIRY] security code [CVV] can you check up for me"},
		// "... expiry oh six two six ...": the expiry word misheard too.
		{"after the card", "yes of course card number triple two one double eight four two five seven two four eight five nine seven next buy rio six to six security code to seven four cents",
			"yes of course card number [CARD ending 8597] next buy [EXPIRY] security code [CVV] cents"},
		// "... and it expires one oh two eight thanks"
		{"address after expires", "sure my debit card is thirty six twenty seven ninety seven ninety one fifty four sixty one sixty nine and it expires one ot way thanks",
			"sure my debit card is [CARD ending 6169] and it expires [EXPIRY] thanks"},
		// "right it expires oh six twenty five": "of" is the "oh", not an
		// amount's "of".
		{"oh as of", "right it expires of six twenty five", "right it expires [EXPIRY]"},
		// "... and it expires oh nine twenty five thanks"
		{"oh nine as on line", "my debit card is five three seven five six oh one two five three oh nine six double three four and it expires on line twenty five tanks",
			"my debit card is [CARD ending 6334] and it expires [EXPIRY] tanks"},
		// "... expiry oh nine thirty three security code eight oh eight"
		{"oh nine as on line after the card", "card number three four six seven one one two two oh two oh three five one two x binary on line thirty three security code day job age",
			"card number [CARD ending 3512] x binary [EXPIRY] security code day job age"},
		{"paid online", "my card expired so i paid online twenty minutes ago", "my card expired so i paid online twenty minutes ago"},
		{"online amount", "the card expires and i pay online twenty five pounds a month", "the card expires and i pay online twenty five pounds a month"},
		{"expiry is", "the expiry is four thirty one", "the expiry is [EXPIRY]"},
		{"month name", "expiry it's march twenty twenty nine", "expiry it's [EXPIRY]"},
		{"in two weeks", "the offer expires in two weeks at ten thirty", "the offer expires in two weeks at ten thirty"},
		{"amount", "your subscription expires unless you pay for twelve twenty pounds", "your subscription expires unless you pay for twelve twenty pounds"},
		{"address elsewhere", "my card expired so i went to the branch at twelve oak way", "my card expired so i went to the branch at [ADDRESS]"},
	}
	checkVoiceRedactions(t, tests)
}
