package redact

import "testing"

// TestCardStatedEnding: a card number announced by its last digits ("the
// card ending three six six, the full number is ...") as a recogniser
// wrote it (16 kHz, accurate search, from the development sets): digits
// lost in words break it into runs that no longer read as a card, but
// joined they end in the digits stated before. Runs that do not end so,
// or a number after a reference phrase, stay as they are.
func TestCardStatedEnding(t *testing.T) {
	tests := []redactCase{
		// "... the card ending three four three six the full number is
		// three five seven five oh two two oh two oh oh seven three four
		// three six"
		{"ending heard as and doing", "yes of course i'd like to pay with the card and doing three four three six the full number is three five seven five or two to go to iowa seven three four three six",
			"yes of course i'd like to pay with the card and doing three four three six the full number is [CARD]"},
		// "... the card ending oh three six six the full number is forty
		// seven ninety two ninety four ninety nine sixty oh eight oh three
		// sixty six"
		{"full number", "okay so i'd like to pay with the card ending of three six six the full number is forty seven ninety to ninety four ninety nine sixty arena of three sixty six",
			"okay so i'd like to pay with the card ending of three six six the full number is [CARD]"},
		{"full number as phone number", "okay so i'd like to pay with the card ending of three six six the phone number is forty seven ninety to ninety four ninety nine sixteen arena three sixty six",
			"okay so i'd like to pay with the card ending of three six six the phone number is [CARD]"},
		{"other ending", "i'd like to pay with the card ending three four three six the full number is three five seven five or two to go to area seven three four three five",
			"i'd like to pay with the card ending three four three six the full number is three five seven five or two to go to area seven three four three five"},
		{"order number", "i paid with the card ending three six six and my order number is forty seven ninety two ninety four ninety nine sixty arena of three sixty six",
			"i paid with the card ending three six six and my order number is forty seven ninety two ninety four ninety nine sixty arena of three sixty six"},
		{"amount", "my card ending three six six expired and i paid forty seven ninety two at the shop",
			"my card ending three six six expired and i paid forty seven ninety two at the shop"},
	}
	checkVoiceRedactions(t, tests)
}
