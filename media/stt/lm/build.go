package lm

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode"
)

// Order is the n-gram order of the models built.
const Order = 3

const (
	bos = "<s>"
	eos = "</s>"
	unk = "<unk>"
)

// Options tune a build.
type Options struct {
	// Known reports whether the recogniser can say a word (its
	// dictionary); other words are counted as <unk>. Nil: every word.
	Known func(word string) bool
	// MinTrigramCount drops trigrams seen fewer times (default 1: keep
	// all); large sites use 2 to keep the model small.
	MinTrigramCount int
}

// Stats describe a built model.
type Stats struct {
	Sentences int    `json:"sentences"`
	Tokens    int    `json:"tokens"`
	OOV       int    `json:"oov"` // tokens counted as <unk>
	NGrams    [3]int `json:"ngrams"`
}

// Model is counted text, ready to be written.
type Model struct {
	vocab  []string
	ids    map[string]uint32
	counts [Order]map[uint64]uint32 // raw counts of each order (key: word ids)
	stats  Stats
	min3   int
}

// ErrNoText is returned when the text holds no sentence.
var ErrNoText = errors.New("lm: no text to build a model from")

// maxWords bounds the vocabulary so that a trigram fits in a uint64 key.
const maxWords = 1 << 21

func key(ws ...uint32) uint64 {
	var k uint64
	for _, w := range ws {
		k = k<<21 | uint64(w)
	}
	return k
}

// NewModel returns an empty model to Add text to.
func NewModel(opts Options) *Model {
	m := &Model{ids: map[string]uint32{}, min3: max(opts.MinTrigramCount, 1)}
	for i := range m.counts {
		m.counts[i] = map[uint64]uint32{}
	}
	for _, w := range []string{bos, eos, unk} {
		m.id(w)
	}
	return m
}

func (m *Model) id(w string) uint32 {
	if id, ok := m.ids[w]; ok {
		return id
	}
	id := uint32(len(m.vocab))
	m.ids[w] = id
	m.vocab = append(m.vocab, w)
	return id
}

// Add counts the sentences of text (any length: split at sentence ends
// and line breaks). known may be nil.
func (m *Model) Add(text string, known func(string) bool) error {
	for _, sent := range Sentences(text) {
		ws := make([]uint32, 0, len(sent)+2)
		ws = append(ws, m.ids[bos])
		for _, w := range sent {
			if known != nil && !known(w) {
				w = unk
				m.stats.OOV++
			}
			if len(m.vocab) >= maxWords && m.ids[w] == 0 {
				w = unk
			}
			ws = append(ws, m.id(w))
		}
		ws = append(ws, m.ids[eos])
		m.stats.Sentences++
		m.stats.Tokens += len(sent)
		for i := 1; i < len(ws); i++ {
			m.counts[0][key(ws[i])]++
			m.counts[1][key(ws[i-1], ws[i])]++
			if i >= 2 {
				m.counts[2][key(ws[i-2], ws[i-1], ws[i])]++
			}
		}
	}
	return nil
}

// Stats returns the counts so far.
func (m *Model) Stats() Stats { return m.stats }

// Sentences splits text into normalised sentences: lower case words of
// letters, digits spelled out one by one, apostrophes kept inside words;
// other characters separate words; . ! ? ; : and line breaks end
// sentences.
func Sentences(text string) [][]string {
	var out [][]string
	var cur []string
	var word strings.Builder
	flushWord := func() {
		if word.Len() == 0 {
			return
		}
		w := strings.Trim(word.String(), "'")
		word.Reset()
		if w != "" {
			cur = append(cur, w)
		}
	}
	flushSent := func() {
		flushWord()
		if len(cur) > 0 {
			out = append(out, cur)
			cur = nil
		}
	}
	for _, r := range text {
		switch {
		case unicode.IsLetter(r):
			word.WriteRune(unicode.ToLower(r))
		case r == '\'' || r == '’':
			if word.Len() > 0 {
				word.WriteByte('\'')
			}
		case r >= '0' && r <= '9':
			flushWord()
			cur = append(cur, digitWords[r-'0'])
		case r == '.' || r == '!' || r == '?' || r == ';' || r == ':' || r == '\n':
			flushSent()
		default:
			flushWord()
		}
	}
	flushSent()
	return out
}

var digitWords = [10]string{"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"}

// discounts are the modified Kneser-Ney discounts D1, D2, D3+ of one
// order, from its counts of counts (Chen and Goodman, eq. 26).
func discounts(counts map[uint64]uint32) [3]float64 {
	var n [5]float64
	for _, c := range counts {
		if c <= 4 {
			n[c]++
		}
	}
	d := [3]float64{0.5, 1.0, 1.5} // too little text for the estimate
	if n[1] > 0 && n[2] > 0 && n[3] > 0 && n[4] > 0 {
		y := n[1] / (n[1] + 2*n[2])
		est := [3]float64{1 - 2*y*n[2]/n[1], 2 - 3*y*n[3]/n[2], 3 - 4*y*n[4]/n[3]}
		for i, v := range est {
			if v > 0 && v < float64(i+1) {
				d[i] = v
			}
		}
	}
	return d
}

func disc(d [3]float64, c uint32) float64 {
	switch {
	case c == 0:
		return 0
	case c == 1:
		return d[0]
	case c == 2:
		return d[1]
	}
	return d[2]
}

// ctxStat is the total count and the number of words seen once, twice
// and more after one context.
type ctxStat struct {
	total  float64
	n1, n2 float64
	n3     float64
	pruned float64 // counts of pruned n-grams: their mass backs off whole
}

func (s ctxStat) gamma(d [3]float64) float64 {
	if s.total == 0 {
		return 1
	}
	return (d[0]*s.n1 + d[1]*s.n2 + d[2]*s.n3 + s.pruned) / s.total
}

func (s *ctxStat) add(c uint32) {
	s.total += float64(c)
	switch {
	case c == 1:
		s.n1++
	case c == 2:
		s.n2++
	case c >= 3:
		s.n3++
	}
}

const mask = 1<<21 - 1

// WriteARPA smooths the counts with interpolated modified Kneser-Ney and
// writes the model in ARPA format.
func (m *Model) WriteARPA(w io.Writer) error {
	if m.stats.Sentences == 0 {
		return ErrNoText
	}
	V := len(m.vocab)
	// Counts used at each order: raw for the highest, continuation counts
	// (distinct left words) below.
	tri := map[uint64]uint32{}
	for k, c := range m.counts[2] {
		if int(c) >= m.min3 {
			tri[k] = c
		}
	}
	bi := map[uint64]uint32{}
	for k := range m.counts[2] { // every observed trigram, pruned or not
		bi[k&(1<<42-1)]++
	}
	// Bigrams starting at <s> have no left word: their raw count stands.
	s := uint64(m.ids[bos])
	for k, c := range m.counts[1] {
		if k>>21 == s {
			bi[k] = c
		}
	}
	uni := map[uint64]uint32{}
	for k := range m.counts[1] {
		uni[k&mask]++
	}
	d3, d2, d1 := discounts(tri), discounts(bi), discounts(uni)

	// Unigrams: interpolated with the uniform distribution.
	var us ctxStat
	for _, c := range uni {
		us.add(c)
	}
	g0 := us.gamma(d1)
	p1 := make([]float64, V)
	for i := range V {
		if m.vocab[i] == bos {
			continue // never predicted: the uniform share is over the others
		}
		c := uni[uint64(i)]
		p1[i] = g0 / float64(V-1)
		if us.total > 0 {
			p1[i] += max(float64(c)-disc(d1, c), 0) / us.total
		}
	}
	// Bigrams.
	bctx := map[uint64]*ctxStat{}
	for k, c := range bi {
		st := bctx[k>>21]
		if st == nil {
			st = &ctxStat{}
			bctx[k>>21] = st
		}
		st.add(c)
	}
	p2 := make(map[uint64]float64, len(bi))
	for k, c := range bi {
		st := bctx[k>>21]
		p2[k] = max(float64(c)-disc(d2, c), 0)/st.total + st.gamma(d2)*p1[k&mask]
	}
	// Trigrams.
	tctx := map[uint64]*ctxStat{}
	for k, c := range tri {
		st := tctx[k>>21]
		if st == nil {
			st = &ctxStat{}
			tctx[k>>21] = st
		}
		st.add(c)
	}
	// A pruned trigram still counts in its context's total, so that the
	// mass it had goes to the lower order.
	if m.min3 > 1 {
		for k, c := range m.counts[2] {
			if int(c) < m.min3 {
				st := tctx[k>>21]
				if st == nil {
					st = &ctxStat{}
					tctx[k>>21] = st
				}
				st.total += float64(c)
				st.pruned += float64(c)
			}
		}
	}
	lower := func(k uint64) float64 { // p(w | last word of the context)
		if p, ok := p2[k&(1<<42-1)]; ok {
			return p
		}
		return bctxGamma(bctx, d2, (k>>21)&mask) * p1[k&mask]
	}
	p3 := make(map[uint64]float64, len(tri))
	for k, c := range tri {
		st := tctx[k>>21]
		p3[k] = max(float64(c)-disc(d3, c), 0)/st.total + st.gamma(d3)*lower(k)
	}

	bw := bufio.NewWriterSize(w, 1<<16)
	fmt.Fprintf(bw, "\\data\\\nngram 1=%d\nngram 2=%d\nngram 3=%d\n", V, len(p2), len(p3))
	m.stats.NGrams = [3]int{V, len(p2), len(p3)}
	log10 := func(p float64) string { return strconv.FormatFloat(math.Log10(p), 'f', 6, 64) }
	fmt.Fprint(bw, "\n\\1-grams:\n")
	for i := range V {
		lp := "-99" // <s>
		if p1[i] > 0 {
			lp = log10(p1[i])
		}
		fmt.Fprintf(bw, "%s\t%s", lp, m.vocab[i])
		if st, ok := bctx[uint64(i)]; ok {
			fmt.Fprintf(bw, "\t%s", log10(st.gamma(d2)))
		}
		bw.WriteByte('\n')
	}
	fmt.Fprint(bw, "\n\\2-grams:\n")
	for _, k := range sortedKeys(p2) {
		fmt.Fprintf(bw, "%s\t%s %s", log10(p2[k]), m.vocab[k>>21], m.vocab[k&mask])
		if st, ok := tctx[k]; ok {
			fmt.Fprintf(bw, "\t%s", log10(st.gamma(d3)))
		}
		bw.WriteByte('\n')
	}
	fmt.Fprint(bw, "\n\\3-grams:\n")
	for _, k := range sortedKeys(p3) {
		fmt.Fprintf(bw, "%s\t%s %s %s\n", log10(p3[k]), m.vocab[k>>42], m.vocab[(k>>21)&mask], m.vocab[k&mask])
	}
	fmt.Fprint(bw, "\n\\end\\\n")
	return bw.Flush()
}

func bctxGamma(bctx map[uint64]*ctxStat, d [3]float64, ctx uint64) float64 {
	if st, ok := bctx[ctx]; ok {
		return st.gamma(d)
	}
	return 1
}

func sortedKeys(m map[uint64]float64) []uint64 {
	ks := make([]uint64, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Slice(ks, func(i, j int) bool { return ks[i] < ks[j] })
	return ks
}
