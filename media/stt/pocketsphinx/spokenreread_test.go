package pocketsphinx

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/earshot/earshot/media/stt"
	"github.com/earshot/earshot/media/wer"
)

// TestSpokenFormsReread: in the reread mode the default search stays the
// general model's; utterances whose final holds number words or spelled
// letters are read again with the prior (fewer word errors than the
// general model's reading, word times on the stream's clock), and free
// speech without them is never read again.
func TestSpokenFormsReread(t *testing.T) {
	// (A surname spelled, "h a r r i s", is not among them: the general
	// model hears it as words, "my son in his age in our eyes", with no
	// letter to go by.)
	refs := []string{
		"my number is oh seven double four one nine three six",
		"the last four digits are eight two oh five",
	}
	const free = "i would like to check the balance of my savings account please"
	type out struct {
		text  string
		words []stt.Word
		endMs int64
	}
	// decode feeds the utterances one after another on one stream (so
	// that the later ones' times are after the earlier ones').
	decode := func(e *Engine, texts []string) []out {
		st, err := e.NewStream(context.Background(), stt.StreamOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		var outs []out
		var fedMs int64
		for _, r := range texts {
			pcm := append(flite(t, "slt", r), make([]int16, stt.Rate/2)...)
			fedMs += int64(len(pcm)) * 1000 / stt.Rate
			o := out{endMs: fedMs}
			for _, res := range feed(t, st, pcm) {
				if res.Final {
					o.text = strings.TrimSpace(o.text + " " + res.Text)
					o.words = append(o.words, res.Words...)
				}
			}
			outs = append(outs, o)
		}
		return outs
	}
	cfg := func(w float64) func(*Config) {
		return func(c *Config) {
			c.SpokenFormsWeight, c.SpokenFormsMode = w, SpokenFormsReread
			c.Search = SearchAccurate
			c.NumberSpans, c.CardNumberRuns, c.CardContextDigits = false, false, false
			c.WarpSelection = nil
		}
	}
	general := decode(newEngine(t, cfg(0)), refs)
	e := newEngine(t, cfg(priorTestWeight))

	// Free speech first: never read again.
	st, err := e.NewStream(context.Background(), stt.StreamOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var on bool
	st.(*stream).d.do(func() { on = st.(*stream).d.priorOn() })
	if on || !st.(*stream).d.searches[spokenFormsSearch] || !st.(*stream).reread {
		t.Fatalf("reread mode: default search interpolated %v, re-read search %v, stream rereads %v",
			on, st.(*stream).d.searches[spokenFormsSearch], st.(*stream).reread)
	}
	st.Close()
	freeOut := decode(e, []string{free})
	if d, _ := e.SpokenFormsReadings(); d != 0 {
		t.Errorf("free speech %q read again %d times", freeOut[0].text, d)
	}

	reread := decode(e, refs)
	var errG, errR int
	var prevEnd int64
	for i, r := range refs {
		cg := wer.Align(wer.Normalize(r), wer.Normalize(general[i].text))
		cr := wer.Align(wer.Normalize(r), wer.Normalize(reread[i].text))
		errG += cg.Sub + cg.Del + cg.Ins
		errR += cr.Sub + cr.Del + cr.Ins
		t.Logf("general %q, read again %q", general[i].text, reread[i].text)
		for _, w := range reread[i].words {
			if w.StartMs < prevEnd || w.EndMs < w.StartMs || w.EndMs > reread[i].endMs {
				t.Errorf("utterance %d: word %q at %d-%d ms, previous word ended %d, audio ended %d", i, w.Text, w.StartMs, w.EndMs, prevEnd, reread[i].endMs)
			}
			prevEnd = w.EndMs
		}
		if len(general[i].words) > 0 && len(reread[i].words) > 0 {
			// Both readings on the same clock: first words near each other.
			if d := general[i].words[0].StartMs - reread[i].words[0].StartMs; d > 300 || d < -300 {
				t.Errorf("utterance %d: first word at %d ms read again, %d ms in the general reading", i, reread[i].words[0].StartMs, general[i].words[0].StartMs)
			}
		}
	}
	d, c := e.SpokenFormsReadings()
	t.Logf("word errors: general %d, read again %d; read again %d, changed %d", errG, errR, d, c)
	if d != int64(len(refs)) || c == 0 {
		t.Errorf("read again %d of %d utterances, changed %d", d, len(refs), c)
	}
	if errR >= errG {
		t.Errorf("read again %d word errors, general model %d", errR, errG)
	}
}

// TestSpokenFormsRereadDomain: a domain profile's stream decodes with the
// general and domain models as without the prior, and reads again with
// the three-way interpolation.
func TestSpokenFormsRereadDomain(t *testing.T) {
	e := newEngine(t, func(c *Config) {
		c.SpokenFormsWeight, c.SpokenFormsMode, c.Search = priorTestWeight, SpokenFormsReread, SearchAccurate
	})
	s := openDomainStream(t, e)
	defer s.Close()
	if s.base != domainSearch("q", "1") || !s.d.searches[rereadSearch(s.base)] {
		t.Errorf("domain stream: search %q, re-read search %q present %v", s.base, rereadSearch(s.base), s.d.searches[rereadSearch(s.base)])
	}
}

func TestSpokenFormsModeValidate(t *testing.T) {
	for _, tc := range []struct {
		mode  string
		words int
		ok    bool
	}{{SpokenFormsReread, 2, true}, {SpokenFormsAlways, 2, true}, {SpokenFormsRegion, 1, true}, {SpokenFormsReread, 1, true}, {SpokenFormsReread, 20, true},
		{"", 2, false}, {"sometimes", 2, false}, {SpokenFormsReread, 0, false}, {SpokenFormsReread, 21, false}} {
		c := DefaultConfig()
		c.SpokenFormsMode, c.SpokenFormsRereadWords = tc.mode, tc.words
		if err := c.Validate(); (err == nil) != tc.ok {
			t.Errorf("spoken_forms_mode %q, spoken_forms_reread_words %d: Validate() = %v", tc.mode, tc.words, err)
		}
	}
}

// openDomainStream gives profile "q" a domain model (version "1", weight
// 0.5; the spoken-forms corpus stands in for a site's text) and opens a
// stream of it.
func openDomainStream(t *testing.T, e *Engine) *stream {
	t.Helper()
	dom := t.TempDir() + "/d.lm"
	if _, err := writeSpokenForms(dom, e.known); err != nil {
		t.Fatal(err)
	}
	if err := e.SetDomainLM("q", DomainLM{Path: dom, Version: "1", Weight: 0.5}); err != nil {
		t.Fatal(err)
	}
	st, err := e.NewStream(context.Background(), stt.StreamOptions{Profile: "q"})
	if err != nil {
		t.Fatal(err)
	}
	return st.(*stream)
}

// TestDetailsShare: the share of a final's words that are details read
// out decides whether SpokenFormsRegion takes the second reading whole.
func TestDetailsShare(t *testing.T) {
	for _, tc := range []struct {
		text string
		want float64
	}{
		{"", 0},
		{"why did my withdrawal of forty pounds fail", 1.0 / 8},
		{"card number four one one one expiry oh nine", 6.0 / 9},
		{"spelled s as in sugar", 2.0 / 5}, // "s" and "as in" (counted once)
		{"i want a card for two", 1.0 / 6}, // "i", "a", "for" are words
	} {
		var ws []stt.Word
		for _, f := range strings.Fields(tc.text) {
			ws = append(ws, stt.Word{Text: f})
		}
		if got := detailsShare(ws); math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("%q: %.3f, want %.3f", tc.text, got, tc.want)
		}
	}
}

// TestSpliceRegions: the second reading stands within the stretches of
// details read out (grown by its own cue words next to them), the first
// elsewhere; times stay monotone.
func TestSpliceRegions(t *testing.T) {
	// words builds a reading from "text@start-end" fields.
	words := func(s string) []stt.Word {
		var out []stt.Word
		for _, f := range strings.Fields(s) {
			var w stt.Word
			text, times, _ := strings.Cut(f, "@")
			w.Text = text
			if _, err := fmt.Sscanf(times, "%d-%d", &w.StartMs, &w.EndMs); err != nil {
				t.Fatal(f, err)
			}
			out = append(out, w)
		}
		return out
	}
	for _, tc := range []struct {
		first, again, want string
		phrases            bool
	}{
		// A question with one number: outside the number, the first
		// reading's words stand.
		{"why@0-100 did@100-200 my@200-300 withdrawal@300-500 of@500-600 forty@600-900 pounds@900-1300 fail@1300-1700",
			"why@0-100 did@100-200 my@200-300 withdraw@300-450 all@450-500 of@500-600 four@600-750 d@750-900 pounds@900-1300 fell@1300-1700",
			"why did my withdrawal of four d pounds fail", true},
		// Details read out: the second reading's cue words next to the
		// first's join the stretch ("oh" and "four" come in).
		{"my@0-200 number@200-500 is@500-600 a@600-700 seven@700-1000 double@1000-1300 for@1300-1500 one@1500-1800",
			"my@0-200 number@200-500 is@500-600 oh@600-700 seven@700-1000 double@1000-1300 four@1300-1500 one@1500-1800",
			"my number is oh seven double four one", true},
		// No cue word in the first reading: nothing changes.
		{"hello@0-300 there@300-600", "oh@0-300 three@300-600", "hello there", true},
		// A card read out: the second reading's detail phrases next to
		// the stretches join them ("card number" before the digits,
		// "expiry" between two stretches); without phrases the first
		// reading's words stand there.
		{"shark@0-300 our@300-500 number@500-800 six@800-1000 five@1000-1200 next@1200-1500 bar@1500-1800 eleven@1800-2200 twenty@2200-2500 thanks@2700-3000",
			"sure@0-250 card@250-500 number@500-800 six@800-1000 five@1000-1200 expiry@1200-1800 eleven@1800-2200 twenty@2200-2500 thanks@2700-3000",
			"shark card number six five expiry eleven twenty thanks", true},
		{"shark@0-300 our@300-500 number@500-800 six@800-1000 five@1000-1200 next@1200-1500 bar@1500-1800 eleven@1800-2200 twenty@2200-2500 thanks@2700-3000",
			"sure@0-250 card@250-500 number@500-800 six@800-1000 five@1000-1200 expiry@1200-1800 eleven@1800-2200 twenty@2200-2500 thanks@2700-3000",
			"shark our number six five next bar eleven twenty thanks", false},
		// A detail phrase away from the details is not taken.
		{"the@0-200 car@200-500 park@500-900 was@900-1200 full@1200-1600 at@1600-1800 ten@1800-2200",
			"the@0-200 card@200-500 number@500-900 was@900-1200 full@1200-1600 at@1600-1800 ten@1800-2200",
			"the car park was full at ten", true},
	} {
		first, again := words(tc.first), words(tc.again)
		got := spliceRegions(first, again, tc.phrases)
		var texts []string
		var prev int64
		for _, w := range got {
			texts = append(texts, w.Text)
			if w.StartMs < prev || w.EndMs < w.StartMs {
				t.Errorf("%q: word %q at %d-%d after %d", tc.want, w.Text, w.StartMs, w.EndMs, prev)
			}
			prev = w.EndMs
		}
		if g := strings.Join(texts, " "); g != tc.want {
			t.Errorf("spliceRegions:\n got %q\nwant %q", g, tc.want)
		}
	}
}
