package pocketsphinx

import (
	"slices"
	"strings"

	"github.com/earshot/earshot/media/stt"
)

// Utterances of details read out, read again with the spoken-forms prior.
//
// Interpolated into every utterance's search, the spoken-forms prior
// helps where callers read out numbers, codes and spellings, and costs
// words elsewhere: free speech gets digits and letters where words were
// said, and every utterance pays for the interpolated model's lookups.
// In SpokenFormsReread mode each utterance is decoded with the stream's
// own search (the general model, or the profile's domain model) as
// before; only when its final looks like details read out (at least
// Config.SpokenFormsRereadWords number words, single letters or "as in")
// is the utterance's audio decoded again on a second search whose model
// is the same one interpolated with the prior, and that reading is the
// final. Partials are the first pass's. The second search shares the
// decoder's general model (and prior) by reference; it has its own
// lexicon tree.

// Modes of the spoken-forms prior (Config.SpokenFormsMode).
const (
	SpokenFormsReread = "reread" // utterances with details read out are read again with it
	SpokenFormsAlways = "always" // every free-speech utterance's search has it
)

// DefaultSpokenFormsMode is Config.SpokenFormsMode's default.
const DefaultSpokenFormsMode = SpokenFormsReread

// DefaultSpokenFormsRereadWords is Config.SpokenFormsRereadWords'
// default, chosen on AN4 development speakers 1-16 (16 kHz, the default
// search, the pipeline; media/analyze TestEvalHeldOutDev with
// EARSHOT_EVAL_PRIOR, weight 0.1; the same run, prior off 39.5 WER):
// with two words 139 utterances were read again and WER was 36.7, with
// one 151 and 33.8 (before a read-again utterance started from its own
// cepstral mean; with it, one word: 153 utterances, 33.1). An answer
// read out is often one detail ("six", "b"), and a spelling the general
// model heard mostly as words keeps one letter or digit. (Run again with
// the final code, two words: AN4 36.1 against 39.5; on the domain speech
// set's development voices two words cost 0.5 and 0.3 points with the
// general and domain models, one word 0.8 and 0.3.)
const DefaultSpokenFormsRereadWords = 1

// spokenFormsSearch is the search of utterances read again on the general
// model; a domain model's is rereadSearch(its search).
const spokenFormsSearch = "spokenforms"

// rereadSearch is the name of the search that reads again the utterances
// of a stream whose free-speech search is base.
func rereadSearch(base string) string {
	if base == "" {
		return spokenFormsSearch
	}
	return base + "+" + spokenFormsSearch
}

// spokenFormCues counts the words of a final that are details read out:
// number words ("four", "oh", "double", "twenty", "hundred"; not the
// look-alikes "for", "to"), single letters other than "a" and "i" (which
// are words), and "as in".
func spokenFormCues(words []stt.Word) int {
	n := 0
	for i, w := range words {
		t := strings.ToLower(w.Text)
		switch {
		case numberWord[t]:
			n++
		case len(t) == 1 && t[0] >= 'a' && t[0] <= 'z' && t != "a" && t != "i":
			n++
		case t == "as" && i+1 < len(words) && strings.EqualFold(words[i+1].Text, "in"):
			n++
		}
	}
	return n
}

// rereadSpokenForms decodes the utterance again with the prior when its
// final words look like details read out, and returns that reading
// (decoder thread, between utterances, with the utterance's audio in
// s.utt). Word times stay on the stream's clock. The first reading is
// kept when the second has no words.
func (s *stream) rereadSpokenForms(words []stt.Word) ([]stt.Word, error) {
	name := rereadSearch(s.base)
	if !s.d.searches[name] || len(s.utt) == 0 || spokenFormCues(words) < s.e.cfg.SpokenFormsRereadWords {
		return words, nil
	}
	s.e.observe.spokenReread.Add(1)
	// The second reading hears the audio as the first did: from the
	// cepstral mean the utterance started with, following it as often
	// as the live stream does. Then the mean the utterance ended with
	// is put back (its frames went into the running sum a second time).
	mean, frames := s.d.cmn(), s.d.cmnFrames()
	if s.uttMean != nil {
		s.d.setCMN(s.uttMean, s.uttFrames)
	}
	got, _, err := s.decodeSpanN(s.utt, name, ms(s.uttStart), int(s.cmnEvery), 0)
	if err == nil {
		err = s.d.useSearch(s.base)
	}
	s.d.setCMN(mean, frames)
	if err != nil || len(got) == 0 {
		return words, err
	}
	if !slices.EqualFunc(got, words, func(a, b stt.Word) bool { return a.Text == b.Text }) {
		s.e.observe.spokenChanged.Add(1)
	}
	return got, nil
}

// SpokenFormsReadings returns how many utterances were decoded again with
// the spoken-forms prior (SpokenFormsReread) and how many of those
// readings differ from the first one in their words, since the engine
// started.
func (e *Engine) SpokenFormsReadings() (decoded, changed int64) {
	return e.observe.spokenReread.Load(), e.observe.spokenChanged.Load()
}
