package nlu

import (
	"encoding/csv"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/earshot/earshot/inference/builtin/textclass"
)

// scanNearest is nearest as a plain scan: a fresh dot product per phrase
// for every message, every phrase visited. The benchmark's peer.
func scanNearest(nn *neighbours, x textclass.SparseVec, label string) (sameLabel, any float64, anyLabel string) {
	dots := make([]float32, len(nn.labels))
	var sq float64
	for k, f := range x.Idx {
		for _, p := range nn.postings[f] {
			dots[p.ex] += x.Val[k] * p.w
		}
		sq += float64(x.Val[k]) * float64(x.Val[k])
	}
	qn, best := math.Sqrt(sq), -1
	for i, d := range dots {
		if d == 0 || nn.norms[i] == 0 || qn == 0 {
			continue
		}
		c := float64(d) / (qn * float64(nn.norms[i]))
		if nn.labels[i] == label {
			sameLabel = max(sameLabel, c)
		}
		if c > any {
			any, best = c, i
		}
	}
	if best >= 0 {
		anyLabel = nn.labels[best]
	}
	return sameLabel, any, anyLabel
}

// BenchmarkNearest: the nearest-phrase search over banking77's 10,003
// training phrases (../shared/eval/banking77), against the plain scan in
// the same run.
func BenchmarkNearest(b *testing.B) {
	f, err := os.Open(filepath.Join("..", "..", "..", "..", "shared", "eval", "banking77", "train.csv"))
	if err != nil {
		b.Skipf("banking77 not found (../shared/eval/banking77): %v", err)
	}
	rows, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil {
		b.Fatal(err)
	}
	var exs []textclass.Example
	var docs []string
	for _, r := range rows[1:] {
		exs = append(exs, textclass.Example{Text: r[0], Label: r[1]})
		docs = append(docs, r[0])
	}
	vec := textclass.FitVectorizer(textclass.DefaultFeatureConfig(), docs)
	nn := newNeighbours(vec, exs)
	queries := make([]textclass.SparseVec, 64)
	for i := range queries {
		queries[i] = vec.Transform(docs[i*len(docs)/len(queries)] + " please")
	}
	for _, c := range []struct {
		name string
		f    func(*neighbours, textclass.SparseVec, string) (float64, float64, string)
	}{{"pooled", func(nn *neighbours, x textclass.SparseVec, label string) (float64, float64, string) {
		r := nn.nearest(x, label)
		return r.Same, r.Any, r.AnyLabel
	}}, {"scan", scanNearest}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				c.f(nn, queries[i%len(queries)], "card_arrival")
			}
		})
	}
}
