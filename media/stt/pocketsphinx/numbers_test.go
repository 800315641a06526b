package pocketsphinx

import (
	"context"
	"strings"
	"testing"

	"github.com/earshot/earshot/internal/testspeech"
	"github.com/earshot/earshot/media/stt"
	"github.com/google/go-cmp/cmp"
)

func TestNumberRuns(t *testing.T) {
	for _, tc := range []struct {
		text string
		want [][2]int
	}{
		{"my card is four one one one and that is it", [][2]int{{3, 7}}},
		{"four one one", nil},              // too short
		{"i want to go for two days", nil}, // too few number words
		{"for to won four", nil},           // mostly look-alikes
		{"it is five for two oh double seven", [][2]int{{2, 8}}},
		{"one two three four expiry ten twenty five five", [][2]int{{0, 4}, {5, 9}}},
		{"please charge it to five one four four", [][2]int{{4, 8}}},  // "to" stays
		{"charger to find one four four six", [][2]int{{2, 7}}},       // "find" taken in
		{"nine zero one expiry zero five two five", [][2]int{{4, 8}}}, // not a long word
		{"four one one one four a far far too thanks", [][2]int{{0, 9}}},
		{"one two three four is that okay", [][2]int{{0, 4}}},
		{"one two three four and my pin is one two", [][2]int{{0, 4}}},
		{"", nil},
	} {
		var words []stt.Word
		for _, w := range strings.Fields(tc.text) {
			words = append(words, stt.Word{Text: w})
		}
		if diff := cmp.Diff(tc.want, numberRuns(words)); diff != "" {
			t.Errorf("numberRuns(%q) (-want +got):\n%s", tc.text, diff)
		}
	}
}

// flite synthesises speech for a test (testspeech.Flite): 16 kHz mono
// PCM.
func flite(t testing.TB, voice, text string) []int16 {
	t.Helper()
	f := testspeech.Flite(t, voice, text)
	if f.SampleRate != stt.Rate {
		t.Fatalf("flite voice %s speaks at %d Hz, want %d", voice, f.SampleRate, stt.Rate)
	}
	return f.Samples()
}

// TestNumberSpans: a card number read after a few words, in one
// utterance (synthesised: Flite's awb voice). With its run decoded again
// with the numbers grammar, the digits come out as read, with word times
// inside the audio and in order, and the words before it are left as the
// language model heard them. (The language model alone hears "find" for
// the first "five" here: logged.)
func TestNumberSpans(t *testing.T) {
	const digits = "five one four four six three three eight seven six nine five five one one seven"
	pcm := append(flite(t, "awb", "please charge it to "+digits+" thanks"), make([]int16, stt.Rate/2)...)
	got := map[bool]stt.Result{}
	for _, spans := range []bool{false, true} {
		e := newEngine(t, func(c *Config) { c.NumberSpans = spans })
		st, err := e.NewStream(context.Background(), stt.StreamOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var fin stt.Result
		for _, r := range feed(t, st, pcm) {
			if r.Final {
				fin.Text = strings.TrimSpace(fin.Text + " " + r.Text)
				fin.Words = append(fin.Words, r.Words...)
			}
		}
		st.Close()
		got[spans] = fin
	}
	t.Logf("language model: %q", got[false].Text)
	t.Logf("number spans:   %q", got[true].Text)
	if !strings.Contains(got[true].Text, digits) {
		t.Errorf("with number spans heard %q, want %q in it", got[true].Text, digits)
	}
	if !strings.HasPrefix(got[true].Text, "please") {
		t.Errorf("the words before the number were changed: %q", got[true].Text)
	}
	durMs := int64(len(pcm)) * 1000 / stt.Rate
	var last int64
	for i, w := range got[true].Words {
		if w.StartMs < last-20 || w.EndMs < w.StartMs || w.EndMs > durMs+100 {
			t.Errorf("word %d %+v out of order or outside the %d ms of audio", i, w, durMs)
		}
		last = w.EndMs
	}
	// The digits sit where the language model's words were.
	for i, w := range got[true].Words {
		if i < len(got[false].Words) && w.Text == got[false].Words[i].Text && abs64(w.StartMs-got[false].Words[i].StartMs) > 100 {
			t.Errorf("word %d %q at %d ms, %d ms without number spans", i, w.Text, w.StartMs, got[false].Words[i].StartMs)
		}
	}
}
