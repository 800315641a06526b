package pocketsphinx

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/earshot/earshot/media/stt"
	"github.com/earshot/earshot/media/wer"
)

// TestSpokenFormsRegion: in the region mode an utterance read again keeps
// its first reading's words outside the stretch of details (a question
// holding one number is not read worse than the general model read it),
// and takes the second reading's within it (a phone number's "oh" and
// "four"); the final is the reading kept, its times monotone.
func TestSpokenFormsRegion(t *testing.T) {
	const (
		question = "i don't know if this is an issue with the atm or my account but i just tried withdrawing thirty pounds"
		details  = "my number is oh seven double four one nine three six"
		// Spoken by awb, its first reading is "shoot card number six five
		// seven six four o four seven x binary eleven twenty seven
		// security code seven or nine": within the details' stretches
		// alone the second reading's "expiry" would be lost ("binary"
		// stands outside them); as a detail phrase it joins them.
		card = "sure card number six five seven six four oh four seven expiry eleven twenty seven security code seven oh nine"
	)
	engine := func(share float64) *Engine {
		return newEngine(t, func(c *Config) {
			c.SpokenFormsWeight, c.SpokenFormsMode = priorTestWeight, SpokenFormsRegion
			c.SpokenFormsWholeShare = share
			c.Search = SearchAccurate
			c.NumberSpans, c.CardNumberRuns, c.CardContextDigits = false, false, false
			c.WarpSelection = nil
		})
	}
	e := engine(DefaultSpokenFormsWholeShare)
	var mu sync.Mutex
	var seen [][3][]stt.Word // first reading, second, kept
	rereadTrace = func(first, again, kept []stt.Word) {
		mu.Lock()
		seen = append(seen, [3][]stt.Word{first, again, kept})
		mu.Unlock()
	}
	defer func() { rereadTrace = nil }()
	text := func(ws []stt.Word) string {
		var s []string
		for _, w := range ws {
			s = append(s, w.Text)
		}
		return strings.Join(s, " ")
	}
	// errs returns the word errors of the first reading, the second and
	// the one kept, and checks the final is the one kept.
	// whole tells whether the last utterance's final was its second
	// reading whole, and checks that it was exactly when the first
	// reading was mostly details (Config.SpokenFormsWholeShare).
	whole := func() bool {
		mu.Lock()
		defer mu.Unlock()
		first, again, kept := seen[0][0], seen[0][1], seen[0][2]
		w := text(kept) == text(again)
		if mostly := detailsShare(first) >= e.cfg.SpokenFormsWholeShare; mostly && !w {
			t.Errorf("%q is %.2f details, kept %q, not the second reading %q", text(first), detailsShare(first), text(kept), text(again))
		}
		return w
	}
	voice := "slt"
	errs := func(ref string) [3]int {
		seen = nil
		st, err := e.NewStream(context.Background(), stt.StreamOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		var final []stt.Word
		for _, r := range feed(t, st, append(flite(t, voice, ref), make([]int16, stt.Rate/2)...)) {
			if r.Final {
				final = append(final, r.Words...)
			}
		}
		mu.Lock()
		defer mu.Unlock()
		if len(seen) != 1 {
			t.Fatalf("%q: read again %d times, want 1", ref, len(seen))
		}
		var n [3]int
		for k, ws := range seen[0] {
			c := wer.Align(wer.Normalize(ref), wer.Normalize(text(ws)))
			n[k] = c.Sub + c.Del + c.Ins
		}
		t.Logf("%q\n first %d %q\n again %d %q\n kept  %d %q", ref, n[0], text(seen[0][0]), n[1], text(seen[0][1]), n[2], text(seen[0][2]))
		if text(final) != text(seen[0][2]) {
			t.Errorf("final %q, reading kept %q", text(final), text(seen[0][2]))
		}
		var prev int64
		for _, w := range final {
			if w.StartMs < prev || w.EndMs < w.StartMs {
				t.Errorf("%q: word %q at %d-%d ms after %d", ref, w.Text, w.StartMs, w.EndMs, prev)
			}
			prev = w.EndMs
		}
		return n
	}
	if n := errs(question); n[2] >= n[1] || n[2] > n[0] {
		t.Errorf("question: %d word errors kept, %d read again whole, %d first", n[2], n[1], n[0])
	}
	if whole() {
		t.Errorf("question: the second reading was kept whole")
	}
	if n := errs(details); n[2] >= n[0] {
		t.Errorf("details: %d word errors kept, %d first", n[2], n[0])
	}
	whole()
	// A card read out: the second reading's detail phrases join the
	// stretches of digits.
	voice = "awb"
	if n := errs(card); n[2] >= n[0] || !strings.Contains(text(seen[0][2]), "seven expiry eleven") {
		t.Errorf("card: %q kept (%d word errors, %d first), want the second reading's expiry between the numbers", text(seen[0][2]), n[2], n[0])
	}
	// With spoken_forms_whole_share 0.5 a final mostly of details is its
	// second reading whole.
	e = engine(0.5)
	if n := errs(card); !whole() || n[2] >= n[0] {
		t.Errorf("card, whole share 0.5: the second reading was not kept whole (%d word errors kept, %d first)", n[2], n[0])
	}
}
