package redact

import "testing"

// TestPhoneHeard: phone numbers as a recogniser wrote them (16 kHz,
// accurate search, from the development sets), one digit lost in a word
// ("it" for "eight", "ninety nine" for "nine two nine"). Right after a
// phone phrase such a number is still the phone number; further away, or
// without the phrase, nine digits are not.
func TestPhoneHeard(t *testing.T) {
	tests := []redactCase{
		// "right you can reach me on eight three four nine nine two five
		// two nine four ..."
		{"eight as it", "right you can reach me on it three four nine nine to five to nine four can you check up for me",
			"right you can reach me on it [PHONE] can you check up for me"},
		// "sure you can reach me on nine two nine double seven eight nine
		// oh seven two thanks"
		{"pairs", "sure you can reach me on ninety nine double seven eight nine no seven two thanks",
			"sure you can reach me on [PHONE] thanks"},
		// "my mobile is oh seven two oh six double seven six seven three
		// five thanks"
		{"mobile", "my mobile is a seventy one six double seven six seven three five thanks",
			"my mobile is a [PHONE] thanks"},
		{"no phrase", "it's three four nine nine two five two nine four", "it's three four nine nine two five two nine four"},
		{"phrase further back", "call me back about the letter you sent, it has three four nine nine two five two nine four on it",
			"call me back about the letter you sent, it has three four nine nine two five two nine four on it"},
		{"reference", "my number is on the booking reference three four nine nine two five two nine four",
			"my number is on the booking reference three four nine nine two five two nine four"},
		{"written", "call me on 349925294", "call me on 349925294"},
	}
	checkVoiceRedactions(t, tests)
}
