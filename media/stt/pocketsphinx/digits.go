package pocketsphinx

import "github.com/earshot/earshot/media/stt"

// shortDigit reports whether a word of a digits-grammar reading (the
// digits mode's finals, a card-context reading) lasting ms is too short to
// be a digit (minMs, Config.DigitMinWordMs): a breath or a consonant's
// release the grammar search matched as a short "eight" or "oh". "oh", a
// vowel alone and the shortest digit word, is kept down to half the
// minimum (DefaultDigitMinWordMs).
func shortDigit(word string, ms int64, minMs int) bool {
	if word == "oh" {
		return ms < int64(minMs/2)
	}
	return ms < int64(minMs)
}

// startDigitCMN lets the live cepstral mean follow a digits utterance of
// a wideband stream from its first digits (Config.DigitCMNPriorFrames):
// the mean so far is weighed as that many frames (decoder thread, before
// the utterance's audio). A caller's digits often come first in a stream
// (a virtual agent's prompt, a transfer), when the mean is still the
// typical level it starts from; a quiet caller's first digits were lost.
func (s *stream) startDigitCMN() {
	if s.mode == stt.ModeDigits && s.d.profile == wideband && s.cmnEvery > 0 && s.e.cfg.DigitCMNPriorFrames > 0 {
		s.d.setCMN(s.d.cmn(), s.e.cfg.DigitCMNPriorFrames)
	}
}
