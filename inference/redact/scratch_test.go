package redact

import "testing"

func TestScratch(t *testing.T) {
	r, _ := New(DefaultPolicy(), nil)
	for _, s := range []string{
		"My card number is 4111 1111 1111 1111 and it expires 03/27, the CVV is 123.",
		"yes the card number is four five three nine one four eight eight zero three four three six four six seven",
		"four one one one one one one one one one one one one one one one",
		"my social is 123-45-6789 and my email is john.smith@example.com",
		"my email is john dot smith at gmail dot com thanks",
		"call me on 07700 900123 or +44 20 7946 0958",
		"your order number is 4111 1111 1111 1112",
		"it costs $1,234.56 and I'll call at 3:45",
		"I live at 221B Baker Street, London NW1 6XE",
		"i live at twenty two acacia avenue springfield illinois six two seven oh four",
		"date of birth is 14 March 1985",
		"my date of birth is the fourteenth of march nineteen eighty five",
		"my pin is four three two one and my password is Tiger77!",
		"my national insurance number is QQ 12 34 56 C",
		"my national insurance number is a b one two three four five six c",
		"IBAN GB82 WEST 1234 5698 7654 32",
		"sort code 12-34-56 account number 12345678",
		"my account number is one two three four five six seven eight",
		"expiry oh three twenty seven",
		"routing number 021000021",
		"my social is one two three four five six seven eight nine",
		"my mobile is oh seven seven double oh nine oh oh one two three",
	} {
		res := r.Redact(SourceChat, s, nil)
		t.Logf("%s\n  -> %s %v", s, res.Text, res.Spans)
	}
}
