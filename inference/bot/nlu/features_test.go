package nlu

import (
	"math"
	"testing"

	"github.com/earshot/earshot/inference/builtin/textclass"
)

// nearest, which visits only the phrases sharing a feature with the
// message through a reused buffer, agrees with a plain cosine over every
// phrase, call after call.
func TestNearestMatchesBruteForce(t *testing.T) {
	exs := []textclass.Example{
		{Text: "I lost my card", Label: "lost"}, {Text: "my card was stolen", Label: "lost"},
		{Text: "what is my balance", Label: "balance"}, {Text: "how much money is on my card", Label: "balance"},
		{Text: "what fees do you charge", Label: "fees"}, {Text: "is there a fee abroad", Label: "fees"},
		{Text: "I lost my card", Label: "fees"}, // a duplicate text: ties go to the earlier phrase
	}
	m, err := textclass.Train(textclass.DefaultTrainConfig(), exs)
	if err != nil {
		t.Fatal(err)
	}
	nn := newNeighbours(m.Vec, exs)
	vecs := make([]textclass.SparseVec, len(exs))
	for i, e := range exs {
		vecs[i] = m.Vec.Transform(e.Text)
	}
	cos := func(a, b textclass.SparseVec) float64 {
		at := map[int32]float64{}
		var na, nb, d float64
		for k, f := range a.Idx {
			at[f] = float64(a.Val[k])
			na += float64(a.Val[k]) * float64(a.Val[k])
		}
		for k, f := range b.Idx {
			d += at[f] * float64(b.Val[k])
			nb += float64(b.Val[k]) * float64(b.Val[k])
		}
		if na == 0 || nb == 0 {
			return 0
		}
		return d / math.Sqrt(na*nb)
	}
	for _, q := range []string{"I lost my card", "card stolen yesterday", "balance please", "fees abroad", "zzz qqq", "my card", "I lost my card"} {
		x := m.Vec.Transform(q)
		for _, label := range []string{"lost", "balance", "fees"} {
			r := nn.nearest(x, label)
			same, any, anyLabel := r.Same, r.Any, r.AnyLabel
			var wSame, wAny float64
			wLabel := ""
			for i, e := range exs {
				c := cos(x, vecs[i])
				if e.Label == label && c > wSame {
					wSame = c
				}
				if c > wAny {
					wAny, wLabel = c, e.Label
				}
			}
			if math.Abs(same-wSame) > 1e-5 || math.Abs(any-wAny) > 1e-5 || anyLabel != wLabel {
				t.Errorf("nearest(%q, %s) = %.5f %.5f %q, want %.5f %.5f %q", q, label, same, any, anyLabel, wSame, wAny, wLabel)
			}
		}
	}
}
