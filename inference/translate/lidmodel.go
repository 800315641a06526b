package translate

import (
	"bufio"
	"compress/gzip"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/earshot/earshot/inference/translate/internal/lidfeat"
)

// model holds log-probabilities per feature and language.
type model struct {
	langs []Lang
	// logp[feature][i] is log P(feature | langs[i]).
	logp map[string][]float32
	// unseen[k][i] is the log-probability of a feature of kind k never seen
	// in langs[i]'s training text.
	unseenN, unseenW []float32
}

// Smoothing of the stored counts: additive, with a vocabulary size of the
// features kept for each kind.
const (
	alphaN = 0.5
	alphaW = 0.1
)

// loadModel reads a gzip'd model file:
//
//	langs en es ...
//	n <gram> c1 c2 ...    counts of character n-grams per language
//	w <word> c1 c2 ...    counts of words per language
//	totals n t1 t2 ...    total n-gram count per language (before pruning)
//	totals w t1 t2 ...    total word count per language
func loadModel(r io.Reader) (*model, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("translate: language model: %w", err)
	}
	defer zr.Close()
	sc := bufio.NewScanner(zr)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	m := &model{logp: map[string][]float32{}}
	counts := map[string][]float64{}
	var totN, totW []float64
	var vocN, vocW int
	line := 0
	for sc.Scan() {
		line++
		fields := strings.Split(sc.Text(), "\t")
		switch fields[0] {
		case "langs":
			for _, f := range fields[1:] {
				m.langs = append(m.langs, Lang(f))
			}
		case "n", "w", "totals":
			if len(m.langs) == 0 || len(fields) != 2+len(m.langs) {
				return nil, fmt.Errorf("translate: language model: line %d: want %d counts", line, len(m.langs))
			}
			c := make([]float64, len(m.langs))
			for i, s := range fields[2:] {
				v, err := strconv.ParseFloat(s, 64)
				if err != nil || v < 0 {
					return nil, fmt.Errorf("translate: language model: line %d: bad count %q", line, s)
				}
				c[i] = v
			}
			switch {
			case fields[0] == "totals" && fields[1] == "n":
				totN = c
			case fields[0] == "totals" && fields[1] == "w":
				totW = c
			case fields[0] == "n":
				counts["n"+fields[1]] = c
				vocN++
			case fields[0] == "w":
				counts["w"+fields[1]] = c
				vocW++
			}
		default:
			return nil, fmt.Errorf("translate: language model: line %d: unknown record %q", line, fields[0])
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("translate: language model: %w", err)
	}
	if totN == nil || totW == nil || vocN == 0 || vocW == 0 {
		return nil, fmt.Errorf("translate: language model: incomplete (%d n-grams, %d words)", vocN, vocW)
	}
	k := len(m.langs)
	m.unseenN, m.unseenW = make([]float32, k), make([]float32, k)
	for i := range k {
		m.unseenN[i] = float32(math.Log(alphaN / (totN[i] + alphaN*float64(vocN))))
		m.unseenW[i] = float32(math.Log(alphaW / (totW[i] + alphaW*float64(vocW))))
	}
	for f, c := range counts {
		lp := make([]float32, k)
		for i := range k {
			if f[0] == 'n' {
				lp[i] = float32(math.Log((c[i] + alphaN) / (totN[i] + alphaN*float64(vocN))))
			} else {
				lp[i] = float32(math.Log((c[i] + alphaW) / (totW[i] + alphaW*float64(vocW))))
			}
		}
		m.logp[f] = lp
	}
	return m, nil
}

// score adds the log-likelihood of text under every language to s (len
// langs) and returns the number of letters and features seen.
func (m *model) score(text string, s []float64) (letters, nfeat int) {
	letters = lidfeat.Features(text, func(kind byte, f string) {
		nfeat++
		lp, ok := m.logp[string(kind)+f]
		for i := range s {
			switch {
			case ok:
				s[i] += float64(lp[i])
			case kind == 'n':
				s[i] += float64(m.unseenN[i])
			default:
				s[i] += float64(m.unseenW[i])
			}
		}
	})
	return letters, nfeat
}

// printable reports whether a rune may stay in a message sent to an engine.
func printable(r rune) bool {
	return r == '\n' || r == '\t' || (r != utf8.RuneError && !unicode.IsControl(r) && r != '\u2028' && r != '\u2029')
}
