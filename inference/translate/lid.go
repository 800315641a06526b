package translate

import (
	"bytes"
	_ "embed"
	"math"
	"slices"
	"strings"
	"sync"
	"unicode"
)

//go:embed lid.model.gz
var lidModel []byte

var (
	builtinOnce  sync.Once
	builtinModel *model
	builtinErr   error
)

// Detection is the language of one text.
type Detection struct {
	// Lang is the most likely language, or "" when the text has too few
	// letters to tell (Reason says why).
	Lang Lang `json:"lang,omitempty"`
	// Confidence is the posterior probability of Lang, 0..1.
	Confidence float64 `json:"confidence"`
	// Reliable is true when Confidence reaches the identifier's threshold
	// and the text has enough letters.
	Reliable bool `json:"reliable"`
	// Letters is the number of letters in the text.
	Letters int `json:"letters"`
	// Reason tells why Lang is empty or unreliable: "no_letters",
	// "too_short" or "ambiguous".
	Reason string `json:"reason,omitempty"`
	// Ranked holds every language with its posterior, most likely first.
	Ranked []LangScore `json:"ranked,omitempty"`
}

// LangScore is a language with its posterior probability.
type LangScore struct {
	Lang Lang    `json:"lang"`
	P    float64 `json:"p"`
}

// Identifier tells the language of short chat messages. It is built in: a
// naive Bayes model over character n-grams and words (lid.model.gz, trained
// by internal/lidtrain). It is safe for concurrent use.
type Identifier struct {
	m          *model
	minLetters int
	threshold  float64
}

// IdentifierConfig tunes when a detection counts as reliable.
type IdentifierConfig struct {
	// MinLetters is the fewest letters a text needs for a language to be
	// named at all. Default 3.
	MinLetters int `json:"min_letters"`
	// Threshold is the posterior a reliable detection reaches. Default 0.8.
	Threshold float64 `json:"threshold"`
}

// DefaultIdentifierConfig returns the defaults.
func DefaultIdentifierConfig() IdentifierConfig {
	return IdentifierConfig{MinLetters: 3, Threshold: 0.8}
}

// NewIdentifier returns the built-in identifier.
func NewIdentifier(cfg IdentifierConfig) (*Identifier, error) {
	builtinOnce.Do(func() { builtinModel, builtinErr = loadModel(bytes.NewReader(lidModel)) })
	if builtinErr != nil {
		return nil, builtinErr
	}
	if cfg.MinLetters <= 0 {
		cfg.MinLetters = DefaultIdentifierConfig().MinLetters
	}
	if cfg.Threshold <= 0 || cfg.Threshold > 1 {
		cfg.Threshold = DefaultIdentifierConfig().Threshold
	}
	return &Identifier{m: builtinModel, minLetters: cfg.MinLetters, threshold: cfg.Threshold}, nil
}

// Languages lists the languages the identifier can return.
func (id *Identifier) Languages() []Lang { return slices.Clone(id.m.langs) }

// Detect returns the language of text.
func (id *Identifier) Detect(text string) Detection {
	scores := make([]float64, len(id.m.langs))
	letters, _ := id.m.score(text, scores)
	d := Detection{Letters: letters}
	if letters == 0 {
		d.Reason = "no_letters"
		return d
	}
	// The n-grams of one position overlap, so naive Bayes counts the same
	// evidence several times and is overconfident; dividing the
	// log-likelihoods by the n-gram order tempers the posterior.
	post := softmax(scores, 1/float64(maxGramTemper))
	d.Ranked = make([]LangScore, len(post))
	for i, p := range post {
		d.Ranked[i] = LangScore{Lang: id.m.langs[i], P: p}
	}
	slices.SortStableFunc(d.Ranked, func(a, b LangScore) int {
		switch {
		case a.P > b.P:
			return -1
		case a.P < b.P:
			return 1
		}
		return 0
	})
	if letters < id.minLetters {
		d.Reason = "too_short"
		return d
	}
	d.Lang, d.Confidence = d.Ranked[0].Lang, d.Ranked[0].P
	d.Reliable = d.Confidence >= id.threshold
	if !d.Reliable {
		d.Reason = "ambiguous"
	}
	return d
}

// maxGramTemper is the temperature of the posterior (see Detect).
const maxGramTemper = 4

func softmax(s []float64, scale float64) []float64 {
	m := math.Inf(-1)
	for _, v := range s {
		m = max(m, v)
	}
	out := make([]float64, len(s))
	sum := 0.0
	for i, v := range s {
		out[i] = math.Exp((v - m) * scale)
		sum += out[i]
	}
	for i := range out {
		out[i] /= sum
	}
	return out
}

// Segment is a run of a message in one language.
type Segment struct {
	Text string `json:"text"`
	// Lang is the segment's language; "" when it has too few letters to
	// tell, in which case it goes with its neighbours.
	Lang Lang `json:"lang,omitempty"`
}

// minSegmentLetters is the fewest letters a sentence needs to be detected
// on its own; shorter ones go with their neighbours.
const minSegmentLetters = 12

// Segments splits text at sentence ends and line breaks, detects each
// sentence that is long enough to judge, and merges neighbours of one
// language. Short sentences take the language of the message as a whole
// (whole). The concatenated Texts equal text.
func (id *Identifier) Segments(text string, whole Lang) []Segment {
	var segs []Segment
	for _, s := range splitSentences(text) {
		l := whole
		if d := id.Detect(s); d.Letters >= minSegmentLetters && d.Reliable {
			l = d.Lang
		}
		if n := len(segs); n > 0 && segs[n-1].Lang == l {
			segs[n-1].Text += s
			continue
		}
		segs = append(segs, Segment{Text: s, Lang: l})
	}
	return segs
}

// splitSentences cuts text after sentence-ending punctuation followed by a
// space, and after line breaks; the pieces keep their trailing spaces, so
// that they concatenate back to text.
func splitSentences(text string) []string {
	var out []string
	start := 0
	rs := []rune(text)
	pos := 0 // byte offset of rs[i]
	for i, r := range rs {
		size := len(string(r))
		end := -1
		switch {
		case r == '\n':
			end = pos + size
		case strings.ContainsRune(".!?…", r) && i+1 < len(rs) && unicode.IsSpace(rs[i+1]):
			// Take the following spaces with the sentence.
			j, e := i+1, pos+size
			for j < len(rs) && unicode.IsSpace(rs[j]) && rs[j] != '\n' {
				e += len(string(rs[j]))
				j++
			}
			end = e
		}
		if end > start && end >= pos+size {
			out = append(out, text[start:end])
			start = end
		}
		pos += size
	}
	if start < len(text) {
		out = append(out, text[start:])
	}
	return out
}
