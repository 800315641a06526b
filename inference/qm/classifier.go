package qm

import (
	"hash/maphash"
	"math"
	"strings"
	"unicode/utf8"

	"github.com/earshot/earshot/inference/builtin/textclass"
)

// The classifier engine answers a "did the agent ..." question from the
// admin's examples by nearest example. Each sentence of the party's turns
// is compared with every example (cosine of TF-IDF vectors of content
// words, word pairs, character n-grams inside content words and one term
// for the sentence's mood: question or statement); the yes examples of
// the scorecard's other questions count as examples of no. The answer is
// yes when some sentence's nearest example is a yes example at least
// Threshold similar. A handful of examples is what a site writes: a linear
// model trained on six and six answered yes for nearly any sentence (its
// scores are not calibrated for text unlike all of its examples), where
// similarity to a written example stays low for a sentence about
// something else.

// matchConfig sets the nearest-example classifier.
type matchConfig struct {
	// CharMin, CharMax bound the character n-grams taken inside content
	// words; CharMax 0 leaves them out.
	CharMin, CharMax int
	// CharWeight scales the character block against the word block (each
	// normalised first).
	CharWeight float64
	// Others takes the yes examples of the scorecard's other questions
	// as examples of no: a sentence nearest to another question's yes
	// ("I'm so sorry to hear that" for a question on resolution) is
	// about that question.
	Others bool
	// Mood adds a term for a question ("?" or an interrogative first
	// word) and one for a statement: an agent asking "which card is
	// this?" did not do what a statement example says was done.
	Mood bool
	// Threshold is the default similarity to the nearest yes example
	// above which a sentence counts (a question's own threshold wins).
	Threshold float64
}

// defaultMatchConfig is the setting chosen on the development part of the
// labelled set (testdata/labelled/README.md, TestEvalAutoQMClassifierDevSweep):
// of the thresholds 0.1 and 0.2, equally good there, the stricter.
func defaultMatchConfig() matchConfig {
	return matchConfig{CharMin: 3, CharMax: 5, CharWeight: 1, Others: true, Mood: true, Threshold: 0.2}
}

// interrogative are first words that make a sentence a question.
var interrogative = map[string]bool{"what": true, "whats": true, "which": true, "who": true, "whose": true, "when": true,
	"where": true, "why": true, "how": true, "can": true, "could": true, "would": true, "will": true, "shall": true,
	"may": true, "do": true, "does": true, "did": true, "is": true, "are": true, "have": true, "has": true}

// termVec is a sparse L2-normalised vector keyed by term (termKey).
type termVec map[uint64]float64

// A term's key is a hash of its text (seeded per process: vectors live in
// memory only), shifted left by one; the low bit marks the character
// block.
var termSeed = maphash.MakeSeed()

func wordKey(ws ...string) uint64 {
	var h maphash.Hash
	h.SetSeed(termSeed)
	for i, w := range ws {
		if i > 0 {
			h.WriteByte(' ')
		}
		h.WriteString(w)
	}
	return h.Sum64() << 1
}

func charKey(buf []byte, rs []rune) uint64 {
	buf = buf[:0]
	for _, r := range rs {
		buf = utf8.AppendRune(buf, r)
	}
	return maphash.Bytes(termSeed, buf)<<1 | 1
}

func isChar(k uint64) bool { return k&1 == 1 }

// The mood terms (no token has angle brackets).
var (
	moodAsk  = wordKey("<ask>")
	moodTell = wordKey("<tell>")
)

func (a termVec) dot(b termVec) float64 {
	if len(b) < len(a) {
		a, b = b, a
	}
	var s float64
	for k, x := range a {
		s += x * b[k]
	}
	return s
}

// exampleMatcher is a question's examples, vectorised. It is immutable and
// safe for concurrent use.
type exampleMatcher struct {
	cfg     matchConfig
	idf     map[uint64]float64
	unseen  float64 // the IDF of a term no example has
	yes, no []termVec
	yesText []string
}

// newExampleMatcher vectorises the examples. IDF weights come from the
// examples themselves: a term in many examples (of either answer) says
// little about which answer a sentence resembles.
func newExampleMatcher(cfg matchConfig, yes, no, others []string) *exampleMatcher {
	m := &exampleMatcher{cfg: cfg, idf: map[uint64]float64{}, yesText: yes}
	df := map[uint64]int{}
	if cfg.Others {
		no = append(append([]string{}, no...), others...)
	}
	all := append(append([]string{}, yes...), no...)
	for _, t := range all {
		for k := range m.rawTerms(t) {
			df[k]++
		}
	}
	n := float64(len(all))
	for k, d := range df {
		m.idf[k] = math.Log((1+n)/(1+float64(d))) + 1
	}
	m.unseen = math.Log(1+n) + 1
	for _, t := range yes {
		m.yes = append(m.yes, m.vector(t))
	}
	for _, t := range no {
		m.no = append(m.no, m.vector(t))
	}
	return m
}

// rawTerms returns the term counts of text: content words and word pairs,
// character n-grams (marked, see charKey) and the mood.
func (m *exampleMatcher) rawTerms(text string) map[uint64]float64 {
	toks := textclass.Tokens(text)
	out := make(map[uint64]float64, 16*len(toks))
	prev := ""
	var rs []rune
	buf := make([]byte, 0, 32)
	for _, t := range toks {
		if textclass.IsStopword(t) {
			prev = ""
			continue
		}
		out[wordKey(t)]++
		if prev != "" {
			out[wordKey(prev, t)]++
		}
		prev = t
		if m.cfg.CharMax > 0 {
			rs = append(append(append(rs[:0], ' '), []rune(t)...), ' ')
			for n := m.cfg.CharMin; n <= m.cfg.CharMax && n <= len(rs); n++ {
				for i := 0; i+n <= len(rs); i++ {
					out[charKey(buf, rs[i:i+n])]++
				}
			}
		}
	}
	// The mood only with content: a sentence of function words alone
	// ("Right.") is like no example.
	if m.cfg.Mood && len(out) > 0 {
		if strings.HasSuffix(strings.TrimSpace(text), "?") || interrogative[toks[0]] {
			out[moodAsk]++
		} else {
			out[moodTell]++
		}
	}
	return out
}

// vector returns the sublinear TF-IDF vector of text, each block
// normalised, the character block scaled by CharWeight, the whole
// normalised. Terms no example has count with the highest IDF, so a
// sentence mostly about other things stays far from every example.
func (m *exampleMatcher) vector(text string) termVec {
	raw := m.rawTerms(text)
	v := make(termVec, len(raw))
	var nw, nc float64
	for k, c := range raw {
		idf, ok := m.idf[k]
		if !ok {
			idf = m.unseen
		}
		x := (1 + math.Log(c)) * idf
		v[k] = x
		if isChar(k) {
			nc += x * x
		} else {
			nw += x * x
		}
	}
	nw, nc = math.Sqrt(nw), math.Sqrt(nc)
	var norm float64
	for k, x := range v {
		switch {
		case !isChar(k) && nw > 0:
			x /= nw
		case isChar(k) && nc > 0:
			x = x / nc * m.cfg.CharWeight
		}
		v[k] = x
		norm += x * x
	}
	if norm == 0 {
		return v
	}
	norm = math.Sqrt(norm)
	for k := range v {
		v[k] /= norm
	}
	return v
}

// match is one sentence's nearest examples.
type match struct {
	Sentence string
	Yes, No  float64 // similarity to the nearest yes and no example
	YesIndex int     // the nearest yes example
}

// counts reports whether the sentence counts as a yes at threshold th: its
// nearest example is a yes example, at least th similar.
func (mt match) counts(th float64) bool { return mt.Yes >= th && mt.Yes > mt.No }

// nearest compares one sentence with the examples.
func (m *exampleMatcher) nearest(sentence string) match {
	v := m.vector(sentence)
	mt := match{Sentence: sentence, YesIndex: -1}
	for i, y := range m.yes {
		if s := v.dot(y); s > mt.Yes || mt.YesIndex < 0 {
			mt.Yes, mt.YesIndex = s, i
		}
	}
	for _, n := range m.no {
		mt.No = max(mt.No, v.dot(n))
	}
	return mt
}
