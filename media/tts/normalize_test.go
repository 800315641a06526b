package tts

import "testing"

func TestNormalize(t *testing.T) {
	us, gb := Normalizer{}, Normalizer{DayFirst: true}
	for _, c := range []struct {
		n        Normalizer
		in, want string
	}{
		{us, "Your card ending in 4211 is blocked.", "Your card ending in four two one one is blocked."},
		{us, "the account ending with 0093", "the account ending with zero zero nine three"},
		{us, "Card 4111 1111 1111 1111 was charged.", "Card four one one one, one one one one, one one one one, one one one one was charged."},
		{us, "Call us on (555) 123-4567 today.", "Call us on five five five, one two three, four five six seven today."},
		{us, "or +44 20 7946 0958.", "or plus four four, two oh, seven nine four six, oh nine five eight."},
		{us, "You owe $1,250.50 now.", "You owe one thousand two hundred fifty dollars and fifty cents now."},
		{us, "A fee of $1 and £0.99 and €12.", "A fee of one dollar and ninety nine pence and twelve euros."},
		{us, "about $2.5 million", "about two point five million dollars"},
		{us, "25 USD", "twenty five dollars"},
		{us, "due on 2026-12-06.", "due on December sixth, twenty twenty six."},
		{us, "due 06/12/2026", "due June twelfth, twenty twenty six"},
		{gb, "due 06/12/2026", "due December sixth, twenty twenty six"},
		{us, "on March 3rd, 2025", "on March third, twenty twenty five"},
		{us, "on Jan 21", "on January twenty first"},
		{us, "on the 1st of May 2005", "on the first of May two thousand five"},
		{us, "by 22nd November", "by the twenty second of November"},
		{us, "open at 9am until 5:30 pm", "open at nine a m until five thirty p m"},
		{us, "at 14:05 or 09:00", "at two oh five p m or nine o'clock"},
		{us, "at 2:30 p.m. today", "at two thirty p m. today"},
		{us, "an APR of 19.9%", "an APR of nineteen point nine percent"},
		{us, "your 3rd payment", "your third payment"},
		{us, "the 12th and 40th", "the twelfth and fortieth"},
		{us, "reference 83920471", "reference eight three nine two zero four seven one"},
		{us, "There are 3 items, 1,000,000 points and 250 miles.", "There are three items, one million points and two hundred fifty miles."},
		{us, "press 0", "press zero"},
		{us, "PIN 0420", "PIN zero four two zero"},
		{us, "in 1999, since 2010 and 2026 items", "in nineteen ninety nine, since twenty ten and two thousand twenty six items"},
		{us, "Q&A #5", "Q and A number five"},
		{us, "no numbers here", "no numbers here"},
	} {
		if got := c.n.Normalize(c.in); got != c.want {
			t.Errorf("Normalize(%q)\n got %q\nwant %q", c.in, got, c.want)
		}
	}
}

func TestNumberWords(t *testing.T) {
	for n, want := range map[int64]string{0: "zero", 13: "thirteen", 40: "forty", 99: "ninety nine", 100: "one hundred",
		101: "one hundred one", 2026: "two thousand twenty six", 1_000_001: "one million one", -5: "minus five"} {
		if got := Cardinal(n); got != want {
			t.Errorf("Cardinal(%d) = %q, want %q", n, got, want)
		}
	}
	for n, want := range map[int]string{1: "first", 2: "second", 3: "third", 5: "fifth", 9: "ninth", 12: "twelfth",
		20: "twentieth", 23: "twenty third", 100: "one hundredth", 111: "one hundred eleventh"} {
		if got := Ordinal(n); got != want {
			t.Errorf("Ordinal(%d) = %q, want %q", n, got, want)
		}
	}
	for y, want := range map[int]string{2026: "twenty twenty six", 2000: "two thousand", 2009: "two thousand nine",
		1999: "nineteen ninety nine", 1900: "nineteen hundred", 1905: "nineteen oh five", 2100: "twenty one hundred"} {
		if got := Year(y); got != want {
			t.Errorf("Year(%d) = %q, want %q", y, got, want)
		}
	}
}

func TestSentences(t *testing.T) {
	got := Sentences("Hello there. Your balance is $3.50! Is that right?\nYes; thanks", 0)
	want := []string{"Hello there.", "Your balance is $3.50!", "Is that right?", "Yes;", "thanks"}
	if len(got) != len(want) {
		t.Fatalf("Sentences = %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("chunk %d = %q, want %q", i, got[i], want[i])
		}
	}
	long := ""
	for len(long) < 10000 {
		long += "word, "
	}
	for _, c := range Sentences(long, 100) {
		if len(c) > 100 || c == "" {
			t.Fatalf("chunk of %d bytes, want 1..100", len(c))
		}
	}
	for _, c := range Sentences("ééééééééééééééééééé", 5) {
		if len(c) > 5 || !utf8Valid(c) {
			t.Fatalf("chunk %q cuts a rune or exceeds 5 bytes", c)
		}
	}
}
