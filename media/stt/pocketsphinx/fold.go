package pocketsphinx

import "github.com/earshot/earshot/media/stt"

// The high band of narrowband digits.
//
// An 8 kHz call reaches the decoder upsampled to 16 kHz, with nothing
// above 4 kHz, and the en-us model was trained on wideband speech: its
// filters up to 6.8 kHz expect the energy of fricatives there. Without it
// "six" sounds like "eight" (the commonest error of the digits mode at
// 8 kHz, see DefaultNarrowbandFoldGain). In the digits mode of narrowband
// streams the telephone band's upper part is mirrored into the empty band
// (spectral folding): the signal's first difference, which tilts it
// towards its high frequencies, times (-1)^n moves content at f to
// 8 kHz - f, and is added at a small gain. Voiced low frequencies land
// near 8 kHz, above the model's filters; the 3-4 kHz of a fricative
// lands at 4-5 kHz.

// foldHighBand returns pcm with the folded high band added, in s.foldBuf
// (pcm is left as it is; decoder thread). The sign alternates on the
// stream's sample clock (s.fed), so writes of any size give the same
// audio.
func (s *stream) foldHighBand(pcm []int16) []int16 {
	g := s.e.cfg.NarrowbandFoldGain
	out := s.foldBuf[:0]
	for i, v := range pcm {
		d := float64(v) - float64(s.foldPrev)
		s.foldPrev = v
		if (s.fed+int64(i))%2 == 1 {
			d = -d
		}
		y := float64(v) + g*d
		out = append(out, int16(max(-32768, min(32767, y))))
	}
	s.foldBuf = out
	return out
}

// startFold decides at the start of an utterance whether its audio is
// folded (narrowband, digits mode, a positive gain) and sets the live CMN
// adaptation that goes with it (decoder thread).
func (s *stream) startFold() {
	fold := s.d.profile == narrowband && s.mode == stt.ModeDigits && s.e.cfg.NarrowbandFoldGain > 0
	if fold == s.fold {
		return
	}
	s.fold = fold
	s.cmnEvery = s.baseCMNEvery
	if fold && s.e.cfg.NarrowbandFoldCMNAdaptMs > 0 {
		s.cmnEvery = int64(s.e.cfg.NarrowbandFoldCMNAdaptMs) * stt.Rate / 1000
		if s.baseCMNEvery == 0 {
			// Let the folded audio move the mean as an adapting stream's
			// audio does (the mean so far weighs as 2 s of audio).
			s.d.setCMN(s.d.cmn(), cmnAdaptPriorFrames)
		}
	}
}
