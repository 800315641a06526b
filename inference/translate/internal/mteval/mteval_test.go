package mteval

import (
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestTokenize13a(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"Hello, world!", []string{"Hello", ",", "world", "!"}},
		{"It costs 3,50 or 1.000.", []string{"It", "costs", "3,50", "or", "1.000", "."}},
		{"¿Dónde está?", []string{"¿", "Dónde", "está", "?"}},
		{"l'amic", []string{"l", "'", "amic"}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, Tokenize13a(tt.in)); diff != "" {
			t.Errorf("Tokenize13a(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
}

// TestBLEUAgainstNLTK compares corpus BLEU with NLTK 3.8's corpus_bleu
// (Debian python3-nltk) on pre-tokenised text, where both tokenisations
// agree. The expected values were printed by:
//
//	corpus_bleu([[r.split()] for r in refs], [h.split() for h in hyps])
func TestBLEUAgainstNLTK(t *testing.T) {
	tests := []struct {
		hyps, refs []string
		want       float64
	}{
		{[]string{"the cat sat on the mat .", "there is a dog in the garden ."},
			[]string{"the cat is on the mat .", "a dog is in the garden ."}, 45.5631121021241},
		{[]string{"I have a problem with my card .", "Thank you very much for your help !", "Where is the nearest branch ?"},
			[]string{"I have a problem with my credit card .", "Thanks a lot for your help !", "Where is the closest branch ?"}, 50.62757730890773},
		{[]string{"a b c d"}, []string{"a b c d"}, 100},
		{[]string{"x y z"}, []string{"a b c d"}, 0},
	}
	for _, tt := range tests {
		if got := BLEU(tt.hyps, tt.refs); math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("BLEU(%q) = %.10f, want %.10f", tt.hyps, got, tt.want)
		}
	}
}

// TestChrFHandChecked checks chrF on examples worked by hand:
//
//	"abc" against "abd": order 1 P = R = 2/3, F = 2/3; order 2 P = R = 1/2,
//	F = 1/2; order 3 no match, F = 0; orders 4-6 have no n-grams.
//	chrF = 100 × (2/3 + 1/2 + 0) / 3 = 38.888…
//
//	"a b" against "ab c" (spaces removed: "ab", "abc"): order 1 P = 1,
//	R = 2/3, F = (5 × 2/3)/(4 + 2/3) = 5/7; order 2 P = 1, R = 1/2,
//	F = 2.5/4.5 = 5/9; order 3 has no hypothesis n-gram.
//	chrF = 100 × (5/7 + 5/9) / 2 = 63.492…
func TestChrFHandChecked(t *testing.T) {
	tests := []struct {
		hyp, ref string
		want     float64
	}{
		{"abc", "abd", 100 * (2.0/3 + 0.5) / 3},
		{"a b", "ab c", 100 * (5.0/7 + 5.0/9) / 2},
		{"same text", "same text", 100},
		{"xyz", "abc", 0},
	}
	for _, tt := range tests {
		if got := ChrF([]string{tt.hyp}, []string{tt.ref}); math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("ChrF(%q, %q) = %.6f, want %.6f", tt.hyp, tt.ref, got, tt.want)
		}
	}
}
