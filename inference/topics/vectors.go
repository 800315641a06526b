package topics

import (
	"math"
	"slices"

	"github.com/earshot/earshot/inference/builtin/textclass"
)

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
	// wordSeed and charSeed keep the two blocks' hashes apart.
	wordSeed = 0x77
	charSeed = 0x63
)

func hash(seed byte, s string) uint64 {
	h := uint64(fnvOffset)
	h ^= uint64(seed)
	h *= fnvPrime
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime
	}
	return h
}

// rawTerms holds one text's term counts by block; words maps each word
// term's hash to its text for keyword labels.
type rawTerms struct {
	word  map[uint64]float64
	char  map[uint64]float64
	words map[uint64]string
}

func analyse(text string) rawTerms {
	toks := textclass.Tokens(text)
	t := rawTerms{word: map[uint64]float64{}, char: map[uint64]float64{}, words: map[uint64]string{}}
	var content []string
	for _, w := range toks {
		if !textclass.IsStopword(w) && len(w) > 1 {
			content = append(content, w)
		}
		rs := []rune(" " + w + " ")
		for n := 2; n <= 5; n++ {
			for i := 0; i+n <= len(rs); i++ {
				t.char[hash(charSeed, string(rs[i:i+n]))]++
			}
		}
	}
	add := func(term string) {
		h := hash(wordSeed, term)
		t.word[h]++
		t.words[h] = term
	}
	for i, w := range content {
		add(w)
		if i+1 < len(content) {
			add(w + " " + content[i+1])
		}
	}
	return t
}

// vocab is the fitted vocabulary: term hash -> feature index, with each
// feature's IDF and, for word terms, its text.
type vocab struct {
	index map[uint64]int32
	idf   []float32
	word  []string // "" for character n-grams
}

// sparse is a sparse vector with indices in increasing order.
type sparse struct {
	idx []int32
	val []float32
}

func (v sparse) dot(w sparse) float64 {
	var s float64
	i, j := 0, 0
	for i < len(v.idx) && j < len(w.idx) {
		switch {
		case v.idx[i] == w.idx[j]:
			s += float64(v.val[i]) * float64(w.val[j])
			i++
			j++
		case v.idx[i] < w.idx[j]:
			i++
		default:
			j++
		}
	}
	return s
}

// fitVocab learns the terms seen in at least minDF texts and their IDF.
func fitVocab(docs []rawTerms, minDF int) *vocab {
	df := map[uint64]int{}
	text := map[uint64]string{}
	for _, d := range docs {
		for h := range d.word {
			df[h]++
			text[h] = d.words[h]
		}
		for h := range d.char {
			df[h]++
		}
	}
	keys := make([]uint64, 0, len(df))
	for h, n := range df {
		if n >= minDF {
			keys = append(keys, h)
		}
	}
	slices.Sort(keys) // deterministic indices
	v := &vocab{index: make(map[uint64]int32, len(keys))}
	n := float64(len(docs))
	for _, h := range keys {
		v.index[h] = int32(len(v.idf))
		v.idf = append(v.idf, float32(math.Log((1+n)/(1+float64(df[h])))+1))
		v.word = append(v.word, text[h])
	}
	return v
}

// vector is the TF-IDF vector of a text: sublinear term frequency times
// IDF, the word and character blocks each L2-normalised, the whole
// normalised again.
func (v *vocab) vector(t rawTerms) sparse {
	var out sparse
	block := func(m map[uint64]float64) {
		start := len(out.idx)
		var norm float64
		for h, c := range m {
			i, ok := v.index[h]
			if !ok {
				continue
			}
			x := (1 + math.Log(c)) * float64(v.idf[i])
			out.idx = append(out.idx, i)
			out.val = append(out.val, float32(x))
			norm += x * x
		}
		if norm > 0 {
			f := 1 / math.Sqrt(norm)
			for j := start; j < len(out.val); j++ {
				out.val[j] *= float32(f)
			}
		}
	}
	block(t.word)
	block(t.char)
	var norm float64
	for _, x := range out.val {
		norm += float64(x) * float64(x)
	}
	if norm > 0 {
		f := float32(1 / math.Sqrt(norm))
		for j := range out.val {
			out.val[j] *= f
		}
	}
	sortSparse(&out)
	return out
}

func sortSparse(v *sparse) {
	order := make([]int, len(v.idx))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return int(v.idx[a]) - int(v.idx[b]) })
	idx := make([]int32, len(order))
	val := make([]float32, len(order))
	for k, i := range order {
		idx[k], val[k] = v.idx[i], v.val[i]
	}
	v.idx, v.val = idx, val
}
