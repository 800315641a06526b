package redact

import (
	"slices"
	"testing"
)

// TestHeardOh: a recogniser writes a digit read as "oh" as "or", "of",
// "and" or "no" when its language model prefers the word. Between two
// spoken digits it is a zero; between two whole numbers and anywhere else
// it stays a word.
func TestHeardOh(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		// 5105 1051 0510 5100 read digit by digit, no card phrase: the
		// whole run must pass the Luhn check, which it does only with
		// its zeros.
		{"card without context", "sure five one of five one or five one oh five one oh five one oh oh thanks",
			"sure [CARD ending 5100] thanks"},
		{"card in context", "my card number is five one oh five one of five one oh five one or five one oh oh",
			"my card number is [CARD ending 5100]"},
		// The first ten digits of a longer number that fails the Luhn
		// check have a North American phone's shape; with the zeros read,
		// the number is one run of 16 digits, which is neither.
		{"long number is not a phone", "i'm calling about four one five five five five two six seven one of two of three four five six",
			"i'm calling about four one five five five five two six seven one of two of three four five six"},
		{"phone", "you can reach me on oh seven seven or nine or one two three four five six",
			"you can reach me on [PHONE]"},
		{"two phone numbers", "call me on four one five five five five two six seven one or four one five five five five two six seven two",
			"call me on [PHONE] or [PHONE]"},
		{"two phone numbers without context", "four one five five five five two six seven one or four one five five five five two six seven two",
			"[PHONE] or [PHONE]"},
		{"two cards", "card four one one one one one one one one one one one one one one one or five five oh oh oh oh oh oh oh oh oh oh oh oh oh four",
			"card [CARD ending 1111] or [CARD ending 0004]"},
		{"phone with and and no", "my mobile is sixteen and six four four nine no seven eight",
			"my mobile is [PHONE]"},
		{"ssn with and", "my social security number is four three nine and two seven four and seven thanks",
			"my social security number is [SSN] thanks"},
		{"five and six year olds", "we have five and six year olds, no one else", "we have five and six year olds, no one else"},
		{"two cards with and", "card four one one one one one one one one one one one one one one one and five five oh oh oh oh oh oh oh oh oh oh oh oh oh four",
			"card [CARD ending 1111] and [CARD ending 0004]"},
		{"two or three days", "it took two or three days, one of them a sunday", "it took two or three days, one of them a sunday"},
		{"written numerals", "pick 4 or 5 of 6 cards", "pick 4 or 5 of 6 cards"},
	}
	r := mustNew(t, DefaultPolicy())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := r.Redact(SourceVoice, tt.in, nil).Text; got != tt.want {
				t.Errorf("Redact(%q) =\n  %q\nwant\n  %q", tt.in, got, tt.want)
			}
		})
	}
}

// TestHeardOhRuns checks the digits read.
func TestHeardOhRuns(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"five one or six", []string{"5106"}},
		{"double five of seven", []string{"5507"}},
		{"seventy or two", []string{"7002"}},
		{"five or", []string{"5"}},
		{"or five", []string{"5"}},
		{"five or or six", []string{"5", "6"}},
		{"five. or six", []string{"5", "6"}},
		{"five, or six", []string{"506"}}, // a comma does not end a number (a reader's pause)
		{"5 or 6", []string{"5", "6"}},
		{"five or 6", []string{"5", "6"}},
		{"five to or six", []string{"52", "6"}}, // not next to an ambiguous word
		{"one of the six", []string{"1", "6"}},
		{"seven and nine", []string{"709"}},
		{"one hundred and five", []string{"105"}},
		{"nine no one", []string{"901"}},
		{"no one", []string{"1"}},
	}
	for _, tt := range tests {
		toks := tokenize(tt.in, 0, nil)
		var got []string
		for _, r := range findRuns(toks, nil) {
			got = append(got, string(r.digits))
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("runs of %q = %q, want %q", tt.in, got, tt.want)
		}
	}
}
