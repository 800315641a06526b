package rouge

import (
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestTokenize(t *testing.T) {
	got := Tokenize("#Person1#'s card, e-mail: 42 ÉTÉ")
	want := []string{"person1", "s", "card", "e", "mail", "42", "t"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Tokenize (-want +got):\n%s", diff)
	}
}

func TestCompute(t *testing.T) {
	// Worked by hand: candidate "the cat sat on the mat" (6 tokens),
	// reference "the cat lay on the mat" (6 tokens).
	// Unigram overlap: the x2, cat, on, mat = 5 -> P = R = F = 5/6.
	// Bigrams: cand {the cat, cat sat, sat on, on the, the mat},
	// ref {the cat, cat lay, lay on, on the, the mat}: overlap 3 -> 3/5.
	// LCS: the cat on the mat = 5 -> 5/6.
	tests := []struct {
		name       string
		cand, ref  string
		r1, r2, rl float64
	}{
		{"hand-worked", "the cat sat on the mat", "the cat lay on the mat", 5.0 / 6, 3.0 / 5, 5.0 / 6},
		{"identical", "a b c", "A, b; c!", 1, 1, 1},
		{"disjoint", "x y", "a b", 0, 0, 0},
		{"empty candidate", "", "a b", 0, 0, 0},
		{"clipped counts", "the the the", "the cat", 2 * (1.0 / 3 * 0.5) / (1.0/3 + 0.5), 0, 2 * (1.0 / 3 * 0.5) / (1.0/3 + 0.5)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := Compute(tt.cand, tt.ref)
			for _, c := range []struct {
				name      string
				got, want float64
			}{{"R1", s.R1.F1, tt.r1}, {"R2", s.R2.F1, tt.r2}, {"RL", s.RL.F1, tt.rl}} {
				if math.Abs(c.got-c.want) > 1e-9 {
					t.Errorf("%s F1 = %.4f, want %.4f", c.name, c.got, c.want)
				}
			}
		})
	}
}
