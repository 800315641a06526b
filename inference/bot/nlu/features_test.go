package nlu

import (
	"maps"
	"math"
	"slices"
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
			var sims []float64
			cent := textclass.SparseVec{}
			centAt := map[int32]float32{}
			for i, e := range exs {
				c := cos(x, vecs[i])
				if e.Label == label && c > wSame {
					wSame = c
				}
				if e.Label == label {
					sims = append(sims, c)
					for k, f := range vecs[i].Idx {
						centAt[f] += vecs[i].Val[k] / float32(nn.norms[i])
					}
				}
				if c > wAny {
					wAny, wLabel = c, e.Label
				}
			}
			for _, f := range slices.Sorted(maps.Keys(centAt)) {
				cent.Idx, cent.Val = append(cent.Idx, f), append(cent.Val, centAt[f])
			}
			slices.Sort(sims)
			slices.Reverse(sims)
			var wSame3 float64
			for _, c := range sims[:min(3, len(sims))] {
				wSame3 += c / float64(min(3, len(sims)))
			}
			wCent := cos(x, cent)
			if math.Abs(same-wSame) > 1e-5 || math.Abs(any-wAny) > 1e-5 || anyLabel != wLabel ||
				math.Abs(r.Same3-wSame3) > 1e-5 || math.Abs(r.Centroid-wCent) > 1e-5 {
				t.Errorf("nearest(%q, %s) = %+v, want same %.5f, any %.5f %q, same3 %.5f, centroid %.5f", q, label, r, wSame, wAny, wLabel, wSame3, wCent)
			}
		}
	}
}

// The detector weighs only as many inputs as the held-out readings
// support.
func TestDetectorInputs(t *testing.T) {
	rich := nInputs(len(detectorFeatures), true)
	for _, tc := range []struct {
		n     int
		use   []int
		pairs bool
	}{
		{0, baseFeatures, false},
		{readingsPerInput*len(detectorFeatures) - 1, baseFeatures, false},
		{readingsPerInput * len(detectorFeatures), detectorFeatures, false},
		{readingsPerInput*rich - 1, detectorFeatures, false},
		{readingsPerInput * rich, detectorFeatures, true},
	} {
		use, pairs := detectorInputs(tc.n)
		if !slices.Equal(use, tc.use) || pairs != tc.pairs {
			t.Errorf("detectorInputs(%d) = %v %v, want %v %v", tc.n, use, pairs, tc.use, tc.pairs)
		}
	}
}

// Per-intent statistics come from the right readings only, shrink towards
// the overall figures, and stand in for an intent never seen.
func TestClassStats(t *testing.T) {
	raw := func(top, same, cent float64) []float64 {
		f := make([]float64, nRaw)
		f[fTop], f[fSame], f[fCentroid] = top, same, cent
		return f
	}
	var held []heldOut
	for i := 0; i < 40; i++ {
		v := float64(i%2) * 0.2 // 0, 0.2, ...: mean 0.1, spread 0.1
		held = append(held, heldOut{feats: raw(1+v, 0.5+v, 0.4+v), top: "a", correct: true})
		held = append(held, heldOut{feats: raw(3+v, 0.9+v, 0.8+v), top: "b", correct: true})
	}
	// Wrong readings and pseudo out-of-scope ones are not an intent's fit.
	held = append(held, heldOut{feats: raw(-5, 0, 0), top: "a"}, heldOut{feats: raw(-5, 0, 0), top: "a", label: -1})
	cs := fitClassStats(held)
	// Overall: top has mean 2.1 and spread sqrt(1+0.01); a's own mean 1.1
	// and spread 0.1, shrunk with 10 overall readings against 40.
	gm, gs := 2.1, math.Sqrt(1.01)
	mean := (40*1.1 + shrink*gm) / (40 + shrink)
	ex2 := (40*(1.1*1.1+0.01) + shrink*(gs*gs+gm*gm)) / (40 + shrink)
	want := (1.1 - mean) / math.Sqrt(ex2-mean*mean)
	got := cs.extend(raw(1.1, 0.6, 0.5), "a")
	if len(got) != nRaw+len(statFeatures) || math.Abs(got[nRaw]-want) > 1e-9 {
		t.Errorf("extend for a = %v, want %d values with z(top) %.6f", got, nRaw+len(statFeatures), want)
	}
	if z := cs.extend(raw(gm, 0, 0), "unknown")[nRaw]; math.Abs(z) > 1e-9 {
		t.Errorf("an unknown intent's z(top) at the overall mean = %g, want 0", z)
	}
	if za, zb := cs.extend(raw(2, 0, 0), "a")[nRaw], cs.extend(raw(2, 0, 0), "b")[nRaw]; za <= 0 || zb >= 0 {
		t.Errorf("a top score of 2 is z %.2f for a (usually 1.1) and %.2f for b (usually 3.1); want above and below", za, zb)
	}
}
