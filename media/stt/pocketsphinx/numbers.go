package pocketsphinx

import (
	"strings"

	"github.com/earshot/earshot/media/stt"
)

// Number spans: read-out numbers (card, account, phone numbers) in free
// speech. The general language model turns long digit strings into words
// ("three seven or nine", "five and a three way for"); with
// Config.NumberSpans a final's run of number words is decoded a second
// time, from the utterance's own audio, with a grammar of spoken digits
// and digit pairs, and the grammar's words replace the run. Only the run
// is decoded again (a small share of the audio), and only runs of at
// least minSpanWords number words, of which at least minSpanDigits are
// unambiguous ("four", not "for").

// numbersGrammar is the span grammar: digits as callers read them, singly
// ("four two oh seven", "double five") or in pairs ("forty eight",
// "twelve", "ten"); single digits weigh more ("four two" is not "forty").
const numbersGrammar = `#JSGF V1.0;
grammar numbers;
public <number> = <item>+;
<item> = /4/ [double | triple] <digit> | /1/ <teen> | /1/ <tens> [<digit>] | /1/ hundred;
<digit> = zero | oh | one | two | three | four | five | six | seven | eight | nine;
<teen> = ten | eleven | twelve | thirteen | fourteen | fifteen | sixteen | seventeen | eighteen | nineteen;
<tens> = twenty | thirty | forty | fifty | sixty | seventy | eighty | ninety;
`

const numbersSearch = "span:numbers"

const (
	minSpanWords  = 4
	minSpanDigits = 3
	// spanPadMs of audio on each side of a run is decoded with it (not
	// past the neighbouring words), so its first and last digits are
	// whole.
	spanPadMs = 150
	// maxGapWords short words (four letters or fewer) between number
	// words are taken into a run: the language model's guesses for
	// digits it could not place ("four a far far too" for "four eight
	// four oh four two").
	maxGapWords = 3
)

// numberWord: unambiguous number words (true: digits, pairs, "hundred",
// "double", "triple") and words the language model writes for spoken
// digits (false: "for", "to", "won", "ate"). It is made from the card
// readers' tables (digitOf, pairOf, soundsLike), so that both passes know
// the same words; only "hundred" is a number word here and not in a card
// run (numberWordOnly), where it would be an amount.
var numberWord = func() map[string]bool {
	m := map[string]bool{"hundred": true}
	for w := range digitOf {
		m[w] = true
	}
	for w := range pairOf {
		m[w] = true
	}
	for _, w := range []string{"double", "triple"} {
		m[w] = true
	}
	for w := range soundsLike {
		m[w] = false
	}
	return m
}()

// numberRuns returns the [i, j) index ranges of words that are runs of
// number words long enough to decode again. A run may take in up to
// maxGapWords short words before a number word ("five one for or nine":
// "or"; "find" for "five"), or before a look-alike after two or more of
// them, and does not start with a look-alike ("charge it to five ...":
// the language model's "to" stays).
func numberRuns(words []stt.Word) [][2]int {
	kind := func(i int) int { // 2 a number word, 1 a look-alike, 0 neither
		if i < 0 || i >= len(words) {
			return 0
		}
		strict, ok := numberWord[strings.ToLower(words[i].Text)]
		switch {
		case !ok:
			return 0
		case strict:
			return 2
		}
		return 1
	}
	// gap returns how many short words from j on stand between the run
	// and its next number word (0: none such).
	gap := func(j int) int {
		for m := 0; m < maxGapWords && j+m < len(words); m++ {
			if len(words[j+m].Text) > 4 || kind(j+m) != 0 {
				if kind(j+m) > 0 && (m > 1 || kind(j+m) == 2) {
					return m
				}
				return 0
			}
		}
		if j+maxGapWords < len(words) && kind(j+maxGapWords) > 0 {
			return maxGapWords
		}
		return 0
	}
	var out [][2]int
	for i := 0; i < len(words); {
		j, digits := i, 0
		for j < len(words) {
			k := kind(j)
			if k == 0 {
				// Up to maxGapWords short words between number words.
				if m := gap(j); j > i && m > 0 {
					j += m
					continue
				}
				break
			}
			if k == 2 {
				digits++
			}
			j++
		}
		if j == i {
			i++
			continue
		}
		start := i
		for start < j && kind(start) == 1 {
			start++
		}
		if j-start >= minSpanWords && digits >= minSpanDigits {
			out = append(out, [2]int{start, j})
		}
		i = j
	}
	return out
}

// redecodeNumbers decodes the final's number runs again with the numbers
// grammar from the utterance's audio (s.utt, starting at stream sample
// s.uttStart) and returns the words with the runs replaced (decoder
// thread, between utterances).
func (s *stream) redecodeNumbers(words []stt.Word) ([]stt.Word, error) {
	runs := numberRuns(words)
	if len(runs) == 0 {
		return words, nil
	}
	if err := s.d.addGrammar(numbersSearch, numbersGrammar, s.e.cfg.GrammarWIP); err != nil {
		return words, err
	}
	mean := s.d.cmn()
	out := append([]stt.Word(nil), words[:runs[0][0]]...)
	for k, run := range runs {
		if k > 0 {
			out = append(out, words[runs[k-1][1]:run[0]]...)
		}
		startMs, endMs := words[run[0]].StartMs-spanPadMs, words[run[1]-1].EndMs+spanPadMs
		if run[0] > 0 {
			startMs = max(startMs, words[run[0]-1].EndMs)
		}
		if run[1] < len(words) {
			endMs = min(endMs, words[run[1]].StartMs)
		}
		a := max(0, startMs*stt.Rate/1000-s.uttStart)
		b := min(int64(len(s.utt)), endMs*stt.Rate/1000-s.uttStart)
		if b-a < stt.Rate/10 {
			out = append(out, words[run[0]:run[1]]...)
			continue
		}
		got, err := s.decodeSpan(s.utt[a:b], numbersSearch, (s.uttStart+a)*1000/stt.Rate, 0)
		if err != nil {
			return words, err
		}
		if len(got) == 0 {
			got = words[run[0]:run[1]]
		}
		out = append(out, got...)
	}
	out = append(out, words[runs[len(runs)-1][1]:]...)
	if err := s.d.useSearch(s.base); err != nil {
		return words, err
	}
	// The span's frames went into the running mean a second time: put
	// the utterance's mean back.
	s.d.setCMN(mean, 500)
	return out, nil
}

// decodeSpan decodes pcm, which starts at startMs on the stream's clock,
// with the grammar search (decoder thread). With piece > 0 the live
// cepstral mean is updated after every piece samples.
func (s *stream) decodeSpan(pcm []int16, search string, startMs int64, piece int) ([]stt.Word, error) {
	got, _, err := s.decodeSpanN(pcm, search, startMs, piece, 0)
	return got, err
}

// decodeSpanN is decodeSpan that also returns up to n other readings of
// the span from its lattice, best first, with their path scores' distance
// below the best reading's (in the decoder's log base).
func (s *stream) decodeSpanN(pcm []int16, search string, startMs int64, piece, n int) ([]stt.Word, []reading, error) {
	if err := s.d.useSearch(search); err != nil {
		return nil, nil, err
	}
	if err := s.d.startUtt(); err != nil {
		return nil, nil, err
	}
	if piece <= 0 {
		piece = len(pcm)
	}
	for off := 0; off < len(pcm); off += piece {
		if off > 0 {
			s.d.updateCMN()
		}
		if err := s.d.processRaw(pcm[off:min(off+piece, len(pcm))]); err != nil {
			return nil, nil, err
		}
	}
	if err := s.d.endUtt(); err != nil {
		return nil, nil, err
	}
	s.shiftMs += ms(int64(len(pcm)))
	// The front end's frames lag the audio by a few: times are kept
	// inside the span.
	endMs := startMs + ms(int64(len(pcm)))
	clamp := func(v int64) int64 { return min(max(v, startMs), endMs) }
	// Word segments count frames on the decoder's stream clock, and the
	// first segment (silence or a word) begins at the span's first frame.
	// (ps_get_n_frames counts the frames of the last utterance only, so
	// it is the span's first frame only after a stream's first one.)
	segs := s.d.words()
	var frame0 int64
	if len(segs) > 0 {
		frame0 = int64(segs[0].sf)
	}
	timed := func(segs []rawWord) []stt.Word {
		var out []stt.Word
		for _, w := range segs {
			t := cleanWord(w.word)
			if t == "" {
				continue
			}
			out = append(out, stt.Word{Text: t, StartMs: clamp(startMs + (int64(w.sf)-frame0)*10),
				EndMs: clamp(startMs + (int64(w.ef)+1-frame0)*10), Confidence: min(w.confidence, 1)})
		}
		return out
	}
	var alts []reading
	if n > 0 {
		hyps := s.d.nbest(n)
		for _, h := range hyps {
			alts = append(alts, reading{words: timed(h.words), behind: hyps[0].score - h.score})
		}
	}
	return timed(segs), alts, nil
}

// reading is one of a span's n best readings and how far its path score
// is behind the best one's.
type reading struct {
	words  []stt.Word
	behind int
}
