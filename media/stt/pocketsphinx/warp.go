package pocketsphinx

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/earshot/earshot/media/stt"
)

// Frequency warping (vocal tract length normalisation): a speaker whose
// formants sit higher or lower than the acoustic model's average is
// recognised better with the mel filterbank stretched or squeezed. The
// warp is fixed when a PocketSphinx decoder is made, so the pool keeps
// decoders per warp and a wideband stream moves to another warp's decoder
// after its first utterance when that decoder's reading of the utterance
// scores better (Config.WarpSelection).

// maxWarps bounds Config.WarpSelection: each warp tried costs one more
// decoding of every wideband stream's first utterance.
const maxWarps = 4

// DefaultWarpSelection returns the default Config.WarpSelection, 0.9
// and 1.1 besides 1.0 (the grid PocketSphinx's lattice normaliser chose
// well from on development speakers 1-16; see DefaultSearch). On the
// development half of the held-out AN4 speech (media/analyze
// TestEvalHeldOutDev with EARSHOT_EVAL_WARPS='off;0.9,1.1', accurate
// preset, 16 kHz; WER %, CPU s per audio second in the same run):
//
//	speakers  words  off          0.9, 1.1     better/worse/level
//	1-16      1083   41.7  0.375  39.7  0.345   8 / 2 / 6
//	17-42     1900   40.4  0.361  39.4  0.357   6 / 4 / 16
//	all 42    2983   40.9         39.5         14 / 6 / 22
//
// Streams by warp chosen: 1-16 (12 women) 3 / 4 / 8 on 0.9 / 1 / 1.1,
// 17-42 (all men) 10 / 13 / 3. Other runs of the same rule gave 39.5 and
// 40.2 on 1-16 and 39.5 on 17-42 (the scores' noise, see selectWarp).
// Wider or finer grids lost on 1-16 (0.88, 0.94, 1.06, 1.12: 42.3;
// 0.94, 1.06: 41.4; 0.9, 1.1 40.2 in the same conditions). Speakers 17-42 were not looked at before
// the rule (path score, first utterance, no margin) was fixed.
func DefaultWarpSelection() []float64 { return []float64{0.9, 1.1} }

// slot is the index of a decoder kind in the engine's argument and free
// lists: the two profiles unwarped, then the wideband warps.
func slot(p profile, warp int) int {
	if warp == 0 {
		return int(p)
	}
	return 1 + warp
}

func validateWarps(ws []float64) error {
	if len(ws) > maxWarps {
		return fmt.Errorf("pocketsphinx: warp_selection takes at most %d warps, got %d", maxWarps, len(ws))
	}
	seen := map[float64]bool{}
	for _, w := range ws {
		if w < 0.8 || w > 1.2 || w == 1 || seen[w] {
			return fmt.Errorf("pocketsphinx: warp_selection: each warp must be in 0.8..1.2, not 1 and not repeated, got %v", ws)
		}
		seen[w] = true
	}
	return nil
}

// WarpStreams returns how many wideband streams were decoded with each
// warp once it was chosen, after their first utterance with a reading
// ("1" for no warp), since the engine started; empty when
// Config.WarpSelection is off.
func (e *Engine) WarpStreams() map[string]int64 {
	out := map[string]int64{}
	if len(e.cfg.WarpSelection) == 0 {
		return out
	}
	for i := range e.warpChosen {
		w := 1.0
		if i > 0 {
			w = e.cfg.WarpSelection[i-1]
		}
		out[strconv.FormatFloat(w, 'f', -1, 64)] = e.warpChosen[i].Load()
	}
	return out
}

// maxWarpUtts bounds the utterances a stream keeps for warp selection:
// when none of its first free-speech utterances had a reading (a click,
// a cough cut short, a listening mode's grammar), it stays unwarped.
const maxWarpUtts = 3

// selectWarp decodes the stream's utterances so far (s.warpUtts, the
// last just ended) again with a decoder of each warp and keeps the one
// whose best path scores highest on the last utterance in s.next, for
// the caller to move the stream to; the others go straight back to the
// pool (decoder thread of s.d, after the utterance ended). It reports
// whether the choice is made: an utterance with no reading, or decoded
// with a listening mode's grammar, is no measure of the voice, and the
// next one is tried. The score is the best path's, language
// model included: on Flite's voices the acoustic score alone put the
// female voice on the lower warp, the path score put her on the higher
// and the male voices on the lower, as PocketSphinx's lattice normaliser
// did with the development speakers (media/analyze EVAL.md). A warp whose
// decoder the pool cannot give now without leaving it full is not tried:
// a call arriving meanwhile must find a decoder.
//
// The scores are noisy: the phonetically tied model carries each frame's
// best Gaussians over to the next, across utterances and streams, so a
// pooled decoder's score of the same audio depends on what it decoded
// before (Flite kal16, one sentence: -10733 new, -10822 and -10874 after
// other streams), by as much as the warps differ on many calls; the same
// development speaker went to 1.0, 0.9 or 1.1 in three runs. Scoring
// every warp, 1.0 included, on decoders primed alike (the first 0.5 s
// decoded first) removed that, but lost on speakers 1-16 (40.9 against
// 40.2 in the same run: 0.9 was never chosen), as did a margin,
// re-selection on two or three utterances, the acoustic score alone and
// a vote (media/analyze EVAL.md, EARSHOT_EVAL_WARPTRACE).
func (s *stream) selectWarp() (bool, error) {
	if len(s.warpCur) > 0 {
		s.warpUtts = append(s.warpUtts, s.warpCur)
	}
	s.warpCur = nil
	best, ok := s.d.pathScore()
	if s.d.search != s.base || !ok || len(s.warpUtts) == 0 {
		if len(s.warpUtts) < maxWarpUtts {
			return false, nil
		}
		s.e.warpChosen[0].Add(1)
		return true, nil
	}
	chosen := 0
	defer func() { s.e.warpChosen[chosen].Add(1) }()
	for i := range s.e.cfg.WarpSelection {
		b, err := s.e.acquire(wideband, i+1, 1)
		if errors.Is(err, stt.ErrBusy) {
			continue
		}
		if err != nil {
			return true, err
		}
		var score int64
		var base string
		c0 := b.cpu
		b.do(func() { base, score, ok, err = s.decodeUtts(b, s.warpUtts) })
		s.cpuPrev += b.cpu - c0
		if err != nil {
			s.e.put(b)
			return true, err
		}
		if ok && score > best {
			if s.next != nil {
				s.e.put(s.next)
			}
			s.next, s.nextBase, chosen = b, base, i+1
			best = score
		} else {
			s.e.put(b)
		}
	}
	return true, nil
}

// decodeUtts decodes utts, one utterance each, on b as a new stream that
// heard them in a row, as the stream decoded them live (the profile's
// initial cepstral mean adapted as often), and returns b's free-speech
// search and the last utterance's best path's score, false when it has
// none (decoder thread of b).
func (s *stream) decodeUtts(b *decoder, utts [][]int16) (string, int64, bool, error) {
	base, err := s.e.prepare(b, s.lmProfile, s.lm, int(ms(s.baseCMNEvery)))
	if err != nil {
		return "", 0, false, err
	}
	var fed, last, score int64
	var ok bool
	for _, u := range utts {
		if score, ok, err = s.decodeUtt(b, u, &fed, &last); err != nil {
			return "", 0, false, err
		}
	}
	return base, score, ok, nil
}

// decodeUtt decodes one more utterance u on b's stream, which has been
// fed *fed samples, the cepstral mean last adapted at *last, and returns
// its best path's score (decoder thread of b).
func (s *stream) decodeUtt(b *decoder, u []int16, fed, last *int64) (int64, bool, error) {
	if err := b.startUtt(); err != nil {
		return 0, false, err
	}
	for off := 0; off < len(u); off += chunk {
		piece := u[off:min(off+chunk, len(u))]
		if err := b.processRaw(piece); err != nil {
			return 0, false, err
		}
		*fed += int64(len(piece))
		if s.baseCMNEvery > 0 && *fed-*last >= s.baseCMNEvery {
			*last = *fed
			b.updateCMN()
		}
	}
	if err := b.endUtt(); err != nil {
		return 0, false, err
	}
	b.speech = false
	score, ok := b.pathScore()
	return score, ok, nil
}

// move puts the stream on s.next, the decoder selectWarp chose, which has
// decoded the stream's audio so far on the stream's clock, and returns the
// previous decoder to the pool.
func (s *stream) move() {
	old := s.d
	s.cpuPrev += old.cpu - s.cpu0
	s.d, s.next, s.base, s.warpUtts = s.next, nil, s.nextBase, nil
	if s.firstDone {
		// The first utterance was decoded twice (redecode) on the old
		// decoder only.
		s.shiftMs = 0
	}
	s.cpu0 = s.d.cpu
	s.e.put(old)
}
