package pocketsphinx

import (
	"fmt"
	"os"

	"github.com/earshot/earshot/media/stt/lm"
	"github.com/earshot/earshot/media/stt/spokenforms"
)

// DefaultSpokenFormsWeight is Config.SpokenFormsWeight's default.
const DefaultSpokenFormsWeight = 0.0

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
