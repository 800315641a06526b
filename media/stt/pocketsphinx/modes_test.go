package pocketsphinx

import (
	"context"
	"encoding/binary"
	"os"
	"strings"
	"testing"

	"github.com/earshot/earshot/media/stt"
)

// tidigits is a TIDIGITS recording from Debian's pocketsphinx-testdata:
// "two nine three four zero", 16 kHz raw.
const tidigits = "/usr/share/pocketsphinx/test/data/tidigits/dhd.2934z.raw"

func loadRaw(t testing.TB, path string) []int16 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("pocketsphinx-testdata: %v", err)
	}
	pcm := make([]int16, len(b)/2)
	for i := range pcm {
		pcm[i] = int16(binary.LittleEndian.Uint16(b[2*i:]))
	}
	return pcm
}

func text(res []stt.Result) string {
	var parts []string
	for _, r := range res {
		if r.Final && r.Text != "" {
			parts = append(parts, r.Text)
		}
	}
	return strings.Join(parts, " ")
}

// TestModes: in digits mode a stream hears only digits, in letters mode
// only letters, NATO words and digits; back in speech mode it uses the
// language model again. The mode applies from the next utterance.
func TestModes(t *testing.T) {
	e := newEngine(t, nil)
	pcm := loadRaw(t, tidigits)
	st, err := e.NewStream(context.Background(), stt.StreamOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ms := st.(stt.ModeSetter)
	if err := ms.SetMode(stt.ModeDigits); err != nil {
		t.Fatal(err)
	}
	if got := text(feed(t, st, pcm)); got != "two nine three four zero" {
		t.Errorf("digits mode heard %q, want %q", got, "two nine three four zero")
	}
	letters := map[string]bool{"as": true, "in": true, "double": true}
	for _, w := range strings.Fields("a b c d e f g h i j k l m n o p q r s t u v w x y z zero oh one two three four five six seven eight nine " +
		"alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima mike november oscar papa quebec romeo sierra tango uniform victor whiskey yankee zulu") {
		letters[w] = true
	}
	ms.SetMode(stt.ModeLetters)
	got := text(feed(t, st, pcm))
	for _, w := range strings.Fields(got) {
		if !letters[w] {
			t.Errorf("letters mode heard %q, which the grammar does not have (%q)", w, got)
		}
	}
	if got == "" {
		t.Error("letters mode heard nothing")
	}
	ms.SetMode(stt.ModeSpeech)
	speech := text(feed(t, st, loadSpeech(t, "0880")))
	if !strings.Contains(speech, "young man") {
		t.Errorf("speech mode again heard %q", speech)
	}
	if err := ms.SetMode("shouting"); err == nil {
		t.Error("unknown mode accepted")
	}
}

// TestRedecodeFirst: the first utterance decoded again keeps its words'
// times on the stream's clock, and so do the utterances after it.
func TestRedecodeFirst(t *testing.T) {
	pcm := append(append(loadSpeech(t, "0880"), make([]int16, stt.Rate/2)...), loadSpeech(t, "0930")...)
	times := map[bool][]stt.Word{}
	for _, redo := range []bool{false, true} {
		e := newEngine(t, func(c *Config) { c.RedecodeFirst = redo })
		st, err := e.NewStream(context.Background(), stt.StreamOptions{})
		if err != nil {
			t.Fatal(err)
		}
		half := len(loadSpeech(t, "0880"))
		res := feed(t, st, pcm[:half])
		res = append(res, feed(t, st, pcm[half:])...)
		st.Close()
		for _, r := range res {
			if r.Final {
				times[redo] = append(times[redo], r.Words...)
			}
		}
	}
	durMs := int64(len(pcm)) * 1000 / stt.Rate
	for _, w := range times[true] {
		if w.StartMs < 0 || w.EndMs > durMs+100 || w.EndMs < w.StartMs {
			t.Errorf("word %+v outside the %d ms of audio", w, durMs)
		}
	}
	// The same words (mostly) at the same times, redecoded or not.
	matched := 0
	for _, w := range times[true] {
		best := int64(1 << 40)
		for _, b := range times[false] {
			if b.Text == w.Text && abs64(b.StartMs-w.StartMs) < abs64(best) {
				best = b.StartMs - w.StartMs
			}
		}
		if best == 1<<40 {
			continue
		}
		matched++
		if best < -60 || best > 60 {
			t.Errorf("word %q at %d ms redecoded, %d ms off without", w.Text, w.StartMs, best)
		}
	}
	if matched < len(times[false])/2 {
		t.Errorf("only %d of %d words in common: %v vs %v", matched, len(times[false]), times[true], times[false])
	}
}

func abs64(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

// TestGrammarWIP: the grammars' word insertion penalty reaches their
// search and no other. One far beyond the word beam ruins the digits
// grammar's search (so it hears other than the five digits it hears
// with the decoder's penalty, TestModes); the decoder's own -wip, which
// the language-model searches made later (domain models) read, is
// unchanged. The value is checked.
func TestGrammarWIP(t *testing.T) {
	e := newEngine(t, func(c *Config) { c.GrammarWIP = 1e-200 })
	st := modeStream(t, e, stt.ModeDigits)
	defer st.Close()
	if got := text(feed(t, st, loadRaw(t, tidigits))); got == "two nine three four zero" {
		t.Errorf("with a word insertion penalty of 1e-200 the digits grammar heard %q as without", got)
	}
	var wip float64
	d := st.(*stream).d
	d.do(func() { wip = d.configFloat("-wip") })
	if wip != 0.65 { // PocketSphinx's default
		t.Errorf("the decoder's -wip is %v after the grammar was made, want 0.65", wip)
	}

	refused(t, "grammar_word_insertion_penalty", func(c *Config, v float64) { c.GrammarWIP = v }, -0.1, 1.5)
}

// TestDigitMinWordMs: the digits mode drops words shorter than
// DigitMinWordMs from its finals and keeps the others; the speech mode
// keeps every word. The value is checked.
func TestDigitMinWordMs(t *testing.T) {
	pcm := loadRaw(t, tidigits)
	hear := func(minMs int, mode stt.Mode) []stt.Word {
		e := newEngine(t, func(c *Config) { c.DigitMinWordMs = minMs })
		st, err := e.NewStream(context.Background(), stt.StreamOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		if err := st.(stt.ModeSetter).SetMode(mode); err != nil {
			t.Fatal(err)
		}
		var words []stt.Word
		for _, r := range feed(t, st, pcm) {
			if r.Final {
				words = append(words, r.Words...)
			}
		}
		return words
	}
	all := hear(0, stt.ModeDigits)
	if len(all) != 5 {
		t.Fatalf("digits mode heard %v, want five digits", all)
	}
	shortest := all[0]
	for _, w := range all {
		if w.EndMs-w.StartMs < shortest.EndMs-shortest.StartMs {
			shortest = w
		}
	}
	limit := int(shortest.EndMs-shortest.StartMs) + 10
	var want []string
	for _, w := range all {
		if w.EndMs-w.StartMs >= int64(limit) {
			want = append(want, w.Text)
		}
	}
	var got []string
	for _, w := range hear(limit, stt.ModeDigits) {
		got = append(got, w.Text)
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("digits mode with words of %d ms and more: %q, want %q (all: %v)", limit, got, want, all)
	}
	if a, b := hear(0, stt.ModeSpeech), hear(limit, stt.ModeSpeech); len(a) != len(b) {
		t.Errorf("speech mode heard %v with a digits minimum of %d ms, %v without", b, limit, a)
	}
	for _, bad := range []int{-1, 501} {
		cfg := DefaultConfig()
		cfg.DigitMinWordMs = bad
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "digit_min_word_ms") {
			t.Errorf("digit_min_word_ms %v: %v", bad, err)
		}
	}
}
