package spokenforms

import (
	"slices"
	"strings"
	"testing"
)

func TestGenerateDeterministic(t *testing.T) {
	a, b := Text(3000), Text(3000)
	if a != b {
		t.Fatal("two builds of the corpus differ")
	}
	if Text(100) != strings.Join(strings.SplitAfter(a, "\n")[:100], "") {
		t.Fatal("a shorter corpus is not the start of a longer one")
	}
}

func TestGenerateCoversForms(t *testing.T) {
	sents := Generate(DefaultSentences)
	if len(sents) != DefaultSentences {
		t.Fatalf("%d sentences, want %d", len(sents), DefaultSentences)
	}
	by := map[Form]int{}
	for _, s := range sents {
		if s.Text == "" {
			t.Fatalf("empty %s sentence", s.Form)
		}
		if strings.ContainsAny(s.Text, "0123456789XABCDEFGHIJKLMNOPQRSTUVWYZ") {
			t.Fatalf("%s sentence not in spoken words: %q", s.Form, s.Text)
		}
		by[s.Form]++
	}
	for _, f := range Forms {
		if by[f] < DefaultSentences/100 {
			t.Errorf("form %s: %d sentences", f, by[f])
		}
	}
	// The spoken forms the corpus exists for, each present.
	text := " " + Text(DefaultSentences)
	for _, want := range []string{" oh ", " double ", " triple ", "my card number is ", "the account number is ",
		" of july ", " nineteen ", " two thousand ", " s m i t h", " as in ", " at gmail dot com",
		"that's correct", " dollars", " o'clock", "zip code "} {
		if !strings.Contains(text, want) {
			t.Errorf("corpus lacks %q", want)
		}
	}
	// Digit strings of 4 to 19 digits.
	lens := map[int]bool{}
	for _, s := range sents {
		if s.Form != FormDigits {
			continue
		}
		n := 0
		for _, w := range strings.Fields(s.Text) {
			if slices.Contains(digitWords, w) || w == "oh" {
				n++
			}
		}
		lens[n] = true
	}
	for n := 4; n <= 19; n++ {
		if !lens[n] {
			t.Errorf("no digit string of %d digits read singly", n)
		}
	}
}
