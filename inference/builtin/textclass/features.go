package textclass

import (
	"math"
	"slices"
	"sort"
	"strings"
	"unicode"
)

// Tokens splits text into lowercase alphanumeric tokens. Apostrophes inside
// words are dropped ("don't" -> "dont") so contractions stay one token.
func Tokens(text string) []string {
	var toks []string
	var b strings.Builder
	flush := func() {
		if b.Len() > 0 {
			toks = append(toks, b.String())
			b.Reset()
		}
	}
	for _, r := range text {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(unicode.ToLower(r))
		case (r == '\'' || r == '’') && b.Len() > 0:
			// keep contractions together
		default:
			flush()
		}
	}
	flush()
	return toks
}

// FeatureConfig selects the n-gram ranges of the featuriser.
type FeatureConfig struct {
	WordMin, WordMax int // word n-gram range, e.g. 1..2; WordMax 0 disables words
	CharMin, CharMax int // character n-gram range inside word boundaries, e.g. 2..5; CharMax 0 disables
	// CharWeight scales the character block relative to the word block
	// (each block is L2-normalised first).
	CharWeight float64
	// MinDF drops terms seen in fewer training documents.
	MinDF int
}

// DefaultFeatureConfig is word 1-2 grams and char 2-5 grams, equal weight.
func DefaultFeatureConfig() FeatureConfig {
	return FeatureConfig{WordMin: 1, WordMax: 2, CharMin: 2, CharMax: 5, CharWeight: 1, MinDF: 1}
}

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
	charSeed  = 0x9e3779b97f4a7c15
)

func hashStr(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime
	}
	return h
}

func hashRunes(rs []rune) uint64 {
	h := uint64(fnvOffset) ^ charSeed
	for _, r := range rs {
		h ^= uint64(r)
		h *= fnvPrime
	}
	return h
}

// rawTerms returns the hashed terms of text, word terms and char terms
// separately, with counts.
func (c FeatureConfig) rawTerms(text string) (words, chars map[uint64]float64) {
	ws, cs := c.hashes(text)
	words = make(map[uint64]float64, len(ws))
	for _, h := range ws {
		words[h]++
	}
	chars = make(map[uint64]float64, len(cs))
	for _, h := range cs {
		chars[h]++
	}
	return words, chars
}

// hashes returns the hashed word and char terms of text, sorted, with
// repeats (a count is a run).
func (c FeatureConfig) hashes(text string) (words, chars []uint64) {
	toks := Tokens(text)
	if c.WordMax > 0 {
		words = make([]uint64, 0, 2*len(toks))
		for n := c.WordMin; n <= c.WordMax; n++ {
			for i := 0; i+n <= len(toks); i++ {
				h := uint64(fnvOffset)
				for k := i; k < i+n; k++ {
					if k > i {
						h = hashStr(h, " ")
					}
					h = hashStr(h, toks[k])
				}
				words = append(words, h)
			}
		}
	}
	if c.CharMax > 0 {
		chars = make([]uint64, 0, 16*len(toks))
		var buf []rune
		for _, t := range toks {
			buf = append(buf[:0], ' ')
			for _, r := range t {
				buf = append(buf, r)
			}
			buf = append(buf, ' ')
			for n := c.CharMin; n <= c.CharMax; n++ {
				if n > len(buf) {
					break
				}
				for i := 0; i+n <= len(buf); i++ {
					chars = append(chars, hashRunes(buf[i:i+n]))
				}
			}
		}
	}
	slices.Sort(words)
	slices.Sort(chars)
	return words, chars
}

// Vectorizer maps text to a sparse L2-normalised TF-IDF vector over a fixed
// vocabulary learned from training documents.
type Vectorizer struct {
	Config FeatureConfig
	Index  map[uint64]int32 // term hash -> feature index
	IDF    []float32        // per feature
	IsChar []bool           // per feature: belongs to the char block
}

// SparseVec is a sparse vector with sorted indices.
type SparseVec struct {
	Idx []int32
	Val []float32
}

// Dot returns the dot product with a dense vector.
func (v SparseVec) Dot(w []float32) float64 {
	var s float64
	for k, i := range v.Idx {
		s += float64(v.Val[k]) * float64(w[i])
	}
	return s
}

// FitVectorizer learns the vocabulary and IDF weights from docs. Indices are
// assigned in order of first occurrence, so the result is deterministic.
func FitVectorizer(cfg FeatureConfig, docs []string) *Vectorizer {
	df := map[uint64]int{}
	order := []uint64{}
	isChar := map[uint64]bool{}
	for _, d := range docs {
		w, c := cfg.rawTerms(d)
		for block, m := range []map[uint64]float64{w, c} {
			keys := make([]uint64, 0, len(m))
			for k := range m {
				keys = append(keys, k)
			}
			sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
			for _, k := range keys {
				if df[k] == 0 {
					order = append(order, k)
					isChar[k] = block == 1
				}
				df[k]++
			}
		}
	}
	v := &Vectorizer{Config: cfg, Index: make(map[uint64]int32, len(order))}
	n := float64(len(docs))
	for _, k := range order {
		if df[k] < cfg.MinDF {
			continue
		}
		v.Index[k] = int32(len(v.IDF))
		v.IDF = append(v.IDF, float32(math.Log((1+n)/(1+float64(df[k])))+1))
		v.IsChar = append(v.IsChar, isChar[k])
	}
	return v
}

// Dim is the number of features.
func (v *Vectorizer) Dim() int { return len(v.IDF) }

// Transform returns the feature vector of text: sublinear TF times IDF, each
// block L2-normalised, the char block scaled by CharWeight.
func (v *Vectorizer) Transform(text string) SparseVec {
	ws, cs := v.Config.hashes(text)
	var out SparseVec
	out.Idx = make([]int32, 0, len(ws)+len(cs))
	out.Val = make([]float32, 0, len(ws)+len(cs))
	add := func(hs []uint64, scale float64) {
		start := len(out.Idx)
		var norm float64
		for a := 0; a < len(hs); {
			b := a + 1
			for b < len(hs) && hs[b] == hs[a] {
				b++
			}
			if i, ok := v.Index[hs[a]]; ok {
				x := (1 + math.Log(float64(b-a))) * float64(v.IDF[i])
				out.Idx = append(out.Idx, i)
				out.Val = append(out.Val, float32(x))
				norm += x * x
			}
			a = b
		}
		if norm > 0 {
			f := scale / math.Sqrt(norm)
			for j := start; j < len(out.Val); j++ {
				out.Val[j] = float32(float64(out.Val[j]) * f)
			}
		}
	}
	add(ws, 1)
	add(cs, v.Config.CharWeight)
	sortSparse(&out)
	return out
}

type sparseSorter struct{ v *SparseVec }

func (s sparseSorter) Len() int           { return len(s.v.Idx) }
func (s sparseSorter) Less(i, j int) bool { return s.v.Idx[i] < s.v.Idx[j] }
func (s sparseSorter) Swap(i, j int) {
	s.v.Idx[i], s.v.Idx[j] = s.v.Idx[j], s.v.Idx[i]
	s.v.Val[i], s.v.Val[j] = s.v.Val[j], s.v.Val[i]
}

func sortSparse(v *SparseVec) { sort.Sort(sparseSorter{v}) }
