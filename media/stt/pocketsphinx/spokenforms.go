package pocketsphinx

import (
	"fmt"
	"os"

	"github.com/earshot/earshot/media/stt/lm"
	"github.com/earshot/earshot/media/stt/spokenforms"
)

// DefaultSpokenFormsWeight is Config.SpokenFormsWeight's default, 0.1
// with DefaultSpokenFormsMode (SpokenFormsRegion).
// On AN4 development speakers 1-16 (16 kHz, the default search, the
// pipeline; media/analyze TestEvalHeldOutDev with EARSHOT_EVAL_PRIOR) it
// wins by far: WER without the prior 39.7 (41.9 in the same run, where
// warp selection moved almost no stream), 0.05: 28.4, 0.1: 28.0, 0.2:
// 28.9. But it hurts other speech: on the domain speech set's
// development voices (TestEvalDomainLMDev, banking77 questions, Flite
// slt and kal16, 1792 words) 0.1 took the general model from 24.1 to
// 26.9 and the domain model (0.5) from 16.9 to 18.1 (digits and letters
// where words were said: "for" heard as "four"). It also costs
// recogniser CPU (1.41x per audio second on free speech, 1.73x on spoken
// forms, BenchmarkSpokenFormsDecode), about 40 MB and 0.9 s more per
// decoder and 0.4 s at engine start (BenchmarkSpokenFormsPrior). A
// site whose calls are mostly details read out could turn it on.
//
// Those figures are SpokenFormsAlways'. SpokenFormsReread keeps the
// general model and reads again only utterances with number words or
// letters. At 0.1, against the prior off in the same
// runs: AN4 speakers 1-16 39.5 -> 33.1 WER (153 utterances read again)
// at 2.4x the CPU per audio second (0.306 -> 0.722: nearly every AN4
// utterance is read twice); the domain speech set's development voices
// 23.2 -> 24.0 with the general model (8 of 154 utterances read again),
// 16.5 -> 16.8 with the domain model (4), CPU 0.243 -> 0.219 and
// 0.324 -> 0.463 (machine shared). The rule fixed before measuring, at
// least 5 points better on AN4 and at most 0.5 worse on the domain set
// with either model, is not met (the general model's 0.8): the damage
// was in the words around the numbers of questions read again whole.
//
// SpokenFormsRegion keeps the second reading only within the stretch of
// details read out. At 0.1, against the prior off in the same runs: AN4
// speakers 1-16 39.5 -> 34.4 WER (5.1 points; 153 utterances read again,
// 70 changed; CPU per audio second 0.341 -> 0.637, 1.9x); the domain
// speech set's development voices 23.2 -> 23.2 with the general model
// (one insertion more; 8 read again, 1 changed), 16.5 -> 16.5 with the
// domain model (4 read again, none changed). Both parts of the rule are
// met (AN4's by 0.1 point, within the run-to-run noise of pooled
// decoders), so it is the default.
const DefaultSpokenFormsWeight = 0.1

// writeSpokenForms builds the spoken-forms prior (a trigram model of
// spokenforms' corpus, words outside the dictionary counted as <unk>)
// and writes it as ARPA text to path. It takes a few hundred
// milliseconds, once per engine; each decoder reads the file when it
// is made and interpolates it into its default search (decoder.setPrior).
func writeSpokenForms(path string, known func(string) bool) (string, error) {
	m := lm.NewModel(lm.Options{Known: known})
	if err := m.Add(spokenforms.Text(spokenforms.DefaultSentences), known); err != nil {
		return "", fmt.Errorf("pocketsphinx: spoken-forms prior: %w", err)
	}
	f, err := os.Create(path)
	if err != nil {
		return "", fmt.Errorf("pocketsphinx: spoken-forms prior: %w", err)
	}
	if err := m.WriteARPA(f); err != nil {
		f.Close()
		os.Remove(path)
		return "", fmt.Errorf("pocketsphinx: spoken-forms prior: %w", err)
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return "", fmt.Errorf("pocketsphinx: spoken-forms prior: %w", err)
	}
	return path, nil
}
