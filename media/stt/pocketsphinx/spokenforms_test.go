package pocketsphinx

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/earshot/earshot/media/stt"
	"github.com/earshot/earshot/media/wer"
)

// priorTestWeight is the weight measured on the development speakers.
const priorTestWeight = 0.1

// TestSpokenFormsPrior: spoken forms synthesised by Flite (a spelled
// surname, a phone number with "oh" and "double", a date of birth) are
// decoded with the general model alone and with the spoken-forms prior
// interpolated; with the prior the stream's search is the interpolated
// one, a domain model's search includes it, and fewer words are wrong.
func TestSpokenFormsPrior(t *testing.T) {
	refs := []string{
		"my surname is h a r r i s",
		"my number is oh seven double four one nine three six",
		"i was born on the third of july nineteen eighty two",
		"the last four digits are eight two oh five",
	}
	var pcms [][]int16
	for _, r := range refs {
		pcms = append(pcms, append(flite(t, "slt", r), make([]int16, stt.Rate/2)...))
	}
	errs := map[float64]int{}
	for _, w := range []float64{0, priorTestWeight} {
		e := newEngine(t, func(c *Config) {
			c.SpokenFormsWeight = w
			c.SpokenFormsMode = SpokenFormsAlways
			// The default search (the fast one does without the prior).
			c.Search = SearchAccurate
			// The language model's own reading: no re-reading of digit
			// runs with the numbers grammar.
			c.NumberSpans, c.CardNumberRuns, c.CardContextDigits = false, false, false
		})
		if (e.prior != "") != (w > 0) {
			t.Fatalf("weight %v: prior file %q", w, e.prior)
		}
		for i, pcm := range pcms {
			st, err := e.NewStream(context.Background(), stt.StreamOptions{})
			if err != nil {
				t.Fatal(err)
			}
			var on bool
			st.(*stream).d.do(func() { on = st.(*stream).d.priorOn() })
			if on != (w > 0) {
				t.Errorf("weight %v: the default search interpolated with the prior: %v", w, on)
			}
			var hyp []string
			for _, r := range feed(t, st, pcm) {
				if r.Final {
					hyp = append(hyp, r.Text)
				}
			}
			st.Close()
			c := wer.Align(wer.Normalize(refs[i]), wer.Normalize(strings.Join(hyp, " ")))
			errs[w] += c.Sub + c.Del + c.Ins
			t.Logf("weight %v: %q (%d errors)", w, strings.Join(hyp, " "), c.Sub+c.Del+c.Ins)
		}
		if w > 0 {
			// A profile's domain model is interpolated with the prior too.
			st := openDomainStream(t, e)
			if base := st.base; base != domainSearch("q", "1") {
				t.Errorf("domain profile's search %q", base)
			}
			st.Close()
			prior := e.prior
			e.Close()
			if _, err := os.Stat(prior); !os.IsNotExist(err) {
				t.Errorf("prior file left after Close: %v", err)
			}
		}
	}
	// The fast search keeps the general model alone.
	if e := newEngine(t, func(c *Config) { c.SpokenFormsWeight, c.SpokenFormsMode = priorTestWeight, SpokenFormsAlways }); e.prior != "" {
		t.Error("the fast search has the prior")
	}
	t.Logf("word errors in %d words: general %d, with the prior %d", len(strings.Fields(strings.Join(refs, " "))), errs[0], errs[priorTestWeight])
	if errs[priorTestWeight] >= errs[0] {
		t.Errorf("with the prior %d word errors, without %d", errs[priorTestWeight], errs[0])
	}
}

func TestSpokenFormsWeightValidate(t *testing.T) {
	for w, ok := range map[float64]bool{0: true, 0.1: true, 0.99: true, -0.1: false, 1: false, 1.5: false} {
		c := DefaultConfig()
		c.SpokenFormsWeight = w
		if err := c.Validate(); (err == nil) != ok {
			t.Errorf("spoken_forms_weight %v: Validate() = %v", w, err)
		}
	}
}
