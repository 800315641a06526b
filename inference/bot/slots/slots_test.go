package slots

import (
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// ref is a Wednesday.
var ref = time.Date(2026, time.February, 11, 14, 0, 0, 0, time.UTC)

func f(x float64) *float64 { return &x }

func TestExtract(t *testing.T) {
	choice := &Spec{Type: Choice, Options: []Option{
		{Value: "gold"}, {Value: "silver"}, {Value: "bronze"}, {Value: "guest", Synonyms: []string{"no membership", "not a member"}},
	}}
	for _, tc := range []struct {
		name string
		spec *Spec
		text string
		want string // Value.Text; "" means no value
	}{
		{"number digits", &Spec{Type: Number}, "I want 3 of them", "3"},
		{"number thousands", &Spec{Type: Number}, "about 1,250.5 units", "1250.5"},
		{"number words", &Spec{Type: Number}, "twenty three please", "23"},
		{"number hundred", &Spec{Type: Number}, "two hundred and five", "205"},
		{"number none", &Spec{Type: Number}, "no idea", ""},
		{"amount symbol", &Spec{Type: Amount, DefaultCurrency: "USD"}, "it was $94", "94.00 USD"},
		{"amount code", &Spec{Type: Amount, DefaultCurrency: "USD"}, "12,50 EUR", "12.50 EUR"},
		{"amount words", &Spec{Type: Amount, DefaultCurrency: "USD"}, "fifty pounds", "50.00 GBP"},
		{"amount default currency", &Spec{Type: Amount, DefaultCurrency: "EUR"}, "30 please", "30.00 EUR"},
		{"amount not a count", &Spec{Type: Amount, DefaultCurrency: "USD"}, "3 cards", ""},
		{"date iso", &Spec{Type: Date}, "on 2019-11-06", "2019-11-06"},
		{"date yesterday", &Spec{Type: Date}, "it happened yesterday", "2026-02-10"},
		{"date day before yesterday", &Spec{Type: Date}, "the day before yesterday", "2026-02-09"},
		{"date tomorrow", &Spec{Type: Date}, "tomorrow works", "2026-02-12"},
		{"date last friday", &Spec{Type: Date}, "last Friday", "2026-02-06"},
		{"date weekday past", &Spec{Type: Date, Dates: "past"}, "I paid on Monday", "2026-02-09"},
		{"date weekday future", &Spec{Type: Date, Dates: "future"}, "Monday", "2026-02-16"},
		{"date next friday", &Spec{Type: Date}, "next friday", "2026-02-20"},
		{"date month alone past", &Spec{Type: Date, Dates: "past"}, "No, I bought it in November.", "2025-11-01"},
		{"date month day", &Spec{Type: Date, Dates: "past"}, "March 3rd", "2025-03-03"},
		{"date day month year", &Spec{Type: Date}, "3 March 2024", "2024-03-03"},
		{"date month day year", &Spec{Type: Date}, "November 6, 2019", "2019-11-06"},
		{"date ago", &Spec{Type: Date}, "two weeks ago", "2026-01-28"},
		{"date in days", &Spec{Type: Date}, "in 3 days", "2026-02-14"},
		{"date numeric us", &Spec{Type: Date}, "11/06/2019", "2019-11-06"},
		{"date numeric day first", &Spec{Type: Date}, "25/12/2025", "2025-12-25"},
		{"date may verb", &Spec{Type: Date}, "may I ask something", ""},
		{"date may month", &Spec{Type: Date, Dates: "future"}, "in May", "2026-05-01"},
		{"date invalid", &Spec{Type: Date}, "2025-02-31", ""},
		{"time 24h", &Spec{Type: Time}, "at 15:30", "15:30"},
		{"time pm", &Spec{Type: Time}, "3pm", "15:00"},
		{"time am dots", &Spec{Type: Time}, "12 a.m.", "00:00"},
		{"time half past", &Spec{Type: Time}, "half past three", "03:30"},
		{"time quarter to", &Spec{Type: Time}, "quarter to five", "04:45"},
		{"time bare number", &Spec{Type: Time}, "3", ""},
		{"email", &Spec{Type: Email}, "it is CMinh730@Email.com thanks", "cminh730@email.com"},
		{"email none", &Spec{Type: Email}, "cminh730 at email", ""},
		{"phone us", &Spec{Type: Phone}, "(977) 625-2661", "9776252661"},
		{"phone intl", &Spec{Type: Phone}, "+44 20 7946 0958", "+442079460958"},
		{"phone too short", &Spec{Type: Phone}, "call 12345", ""},
		{"last4 alone", &Spec{Type: CardLast4}, "1234", "1234"},
		{"last4 ending", &Spec{Type: CardLast4}, "the one ending in 9876, lost it", "9876"},
		{"last4 masked", &Spec{Type: CardLast4}, "**** 4321", "4321"},
		{"last4 full number", &Spec{Type: CardLast4}, "4111 1111 1111 1234", "1234"},
		{"last4 spelled", &Spec{Type: CardLast4}, "one two three four", "1234"},
		{"last4 none", &Spec{Type: CardLast4}, "I lost my card", ""},
		{"account default", &Spec{Type: AccountNumber}, "Order ID: 3348917502", "3348917502"},
		{"account pattern", &Spec{Type: AccountNumber, Pattern: regexp.MustCompile(`\b[A-Z]{2}\d{2}[A-Z0-9]{10,30}\b`)}, "IBAN DE89370400440532013000 please", "DE89370400440532013000"},
		{"account spaced", &Spec{Type: AccountNumber}, "1234 5678", "12345678"},
		{"yes", &Spec{Type: YesNo}, "Yes please", "yes"},
		{"yes go ahead", &Spec{Type: YesNo}, "go ahead", "yes"},
		{"no with date", &Spec{Type: YesNo}, "No, I bought it in November.", "no"},
		{"no dont", &Spec{Type: YesNo}, "please don't", "no"},
		{"yesno none", &Spec{Type: YesNo}, "what do you mean", ""},
		{"choice word", choice, "I'm a bronze", "bronze"},
		{"choice synonym", choice, "I don't have a membership, not a member", "guest"},
		{"choice typo", choice, "silvre", "silver"},
		{"choice ordinal", choice, "the second one", "silver"},
		{"choice index", choice, "3", "bronze"},
		{"choice none", choice, "platinum", ""},
		{"text", &Spec{Type: Text}, "  Crystal   Minh ", "Crystal Minh"},
		{"text regex group", &Spec{Type: Text, Pattern: regexp.MustCompile(`(?i)(?:username:?\s*)?\b([a-z]+\d+)\b`)}, "Username: cminh730", "cminh730"},
		{"text regex miss", &Spec{Type: Text, Pattern: regexp.MustCompile(`^\d+$`)}, "abc", ""},
		{"control characters", &Spec{Type: Text}, "hel\x00lo\x1b[31m wor\u200bld", "hello[31m world"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, ok := tc.spec.Extract(tc.text, ref)
			got := ""
			if ok {
				got = v.Text
			}
			if got != tc.want {
				t.Errorf("Extract(%q) = %q (ok %v), want %q", tc.text, got, ok, tc.want)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		name    string
		spec    Spec
		v       Value
		wantErr bool
	}{
		{"in range", Spec{Type: Number, Min: f(1), Max: f(10)}, Value{Kind: Number, Num: 5, Text: "5"}, false},
		{"below", Spec{Type: Number, Min: f(1)}, Value{Kind: Number, Num: 0, Text: "0"}, true},
		{"above", Spec{Type: Amount, Max: f(500)}, Value{Kind: Amount, Num: 900, Text: "900.00 USD"}, true},
		{"currency refused", Spec{Type: Amount, Currencies: []string{"USD"}}, Value{Kind: Amount, Num: 9, Currency: "EUR"}, true},
		{"text short", Spec{Type: Text, MinLen: 3}, Value{Kind: Text, Text: "ab"}, true},
		{"text long", Spec{Type: Text, MaxLen: 3}, Value{Kind: Text, Text: "abcd"}, true},
		{"text ok", Spec{Type: Text, MinLen: 1, MaxLen: 4}, Value{Kind: Text, Text: "abcd"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.spec.Check(tc.v); (err != nil) != tc.wantErr {
				t.Errorf("Check(%+v) = %v, want error %v", tc.v, err, tc.wantErr)
			}
		})
	}
}

// FuzzExtract runs every extractor on arbitrary text: none may panic, and
// every value found is valid UTF-8 without control characters.
func FuzzExtract(f *testing.F) {
	for _, s := range []string{"$94", "2019-11-06", "ending in 1234", "half past three", "(977) 625-2661",
		"twenty three", "a@b.co", "no, in november", "\x00\xff", strings.Repeat("9", 40), "31/31/31"} {
		f.Add(s)
	}
	specs := []*Spec{{Type: Choice, Options: []Option{{Value: "gold"}, {Value: "silver"}}}, {Type: Amount, DefaultCurrency: "USD"}}
	for _, t := range Types {
		if t != Choice && t != Amount {
			specs = append(specs, &Spec{Type: t})
		}
	}
	f.Fuzz(func(t *testing.T, text string) {
		for _, s := range specs {
			v, ok := s.Extract(text, ref)
			if !ok {
				continue
			}
			if !utf8.ValidString(v.Text) {
				t.Fatalf("%s: invalid UTF-8 in %q", s.Type, v.Text)
			}
			for _, r := range v.Text {
				if r < 0x20 && r != ' ' {
					t.Fatalf("%s: control character in %q", s.Type, v.Text)
				}
			}
		}
	})
}
