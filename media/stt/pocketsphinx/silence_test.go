package pocketsphinx

import (
	"context"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/earshot/earshot/media/stt"
)

// quietDigits reads digits with a Flite voice the way tightly trimmed
// recordings joined end to end sound: each word cut to where it is
// audible, at a quiet caller's level (about -43 dBFS RMS), with digital
// silence (exact zeros) between the words and around them, then through
// a telephone channel (8 kHz mu-law, upsampled).
func quietDigits(t *testing.T, voice string, words []string) []int16 {
	t.Helper()
	pcm := make([]int16, stt.Rate/4)
	for i, w := range words {
		s := flite(t, voice, w)
		var peak float64
		for _, v := range s {
			peak = math.Max(peak, math.Abs(float64(v)))
		}
		from, to := -1, 0
		for j, v := range s {
			if math.Abs(float64(v)) > 0.05*peak {
				if from < 0 {
					from = j
				}
				to = j + 1
			}
		}
		s = s[from:to]
		var e float64
		for _, v := range s {
			e += float64(v) * float64(v)
		}
		g := 32768 * math.Pow(10, -43.0/20) / math.Sqrt(e/float64(len(s)))
		for _, v := range s {
			pcm = append(pcm, int16(float64(v)*g))
		}
		pcm = append(pcm, make([]int16, stt.Rate/1000*(100+40*(i%3)))...)
	}
	return telephone(t, append(pcm, make([]int16, stt.Rate/4)...))
}

// TestDigitSilenceFill: digits read quietly with digital silence between
// them (Flite voices rms and awb through a telephone channel) are all
// heard in the digits mode with the default background under the
// silence; without it the grammar search loses some of them. The filling
// itself: only runs of zeros of 2 ms or more change, the same audio gives
// the same samples, other modes are left alone, bad levels are refused.
func TestDigitSilenceFill(t *testing.T) {
	const want = "seven three five nine two eight four one six"
	hear := func(pcm []int16, db float64) string {
		e := newEngine(t, func(c *Config) { c.DigitSilenceFillDB = db })
		st, err := e.NewStream(context.Background(), stt.StreamOptions{Narrowband: true})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		if err := st.(stt.ModeSetter).SetMode(stt.ModeDigits); err != nil {
			t.Fatal(err)
		}
		return text(feed(t, st, pcm))
	}
	for _, voice := range []string{"rms", "awb"} {
		pcm := quietDigits(t, voice, strings.Fields(want))
		off := hear(pcm, 0)
		got := hear(pcm, DefaultDigitSilenceFillDB)
		t.Logf("%s: without the background %q, with it %q", voice, off, got)
		if n := len(strings.Fields(got)); n != len(strings.Fields(want)) {
			t.Errorf("%s: the digits mode heard %d digits (%q), want all %d (%q)", voice, n, got, len(strings.Fields(want)), want)
		}
		if voice == "rms" && got != want {
			t.Errorf("%s: heard %q, want %q", voice, got, want)
		}
		if off == got {
			t.Errorf("%s: the background changed nothing (%q): it does not reach the decoder", voice, got)
		}
	}

	e := newEngine(t, nil)
	s := &stream{e: e, d: &decoder{profile: narrowband}, mode: stt.ModeDigits}
	s.startFill()
	if !s.fill {
		t.Fatal("the digits mode does not fill digital silence by default")
	}
	in := make([]int16, 400)
	for i := range 100 {
		in[i] = int16(100 * (i%7 - 3)) // speech with single zeros
	}
	in[150] = 5 // a run of 49 zeros before it, 249 after
	in[160] = -5
	in[170] = 5 // runs of 9 zeros: too short
	out := s.fillSilence(in)
	for i, v := range in {
		switch {
		case i < 100 || i >= 150 && i <= 170:
			if out[i] != v {
				t.Fatalf("sample %d: %d became %d; only runs of %d zeros or more may change", i, v, out[i], fillMinRun)
			}
		}
	}
	changed := 0
	for i := 171; i < len(in); i++ {
		if out[i] != 0 {
			changed++
		}
	}
	if changed < 200 {
		t.Errorf("%d of the last 229 zeros were filled, want nearly all", changed)
	}
	var e2 float64
	for _, v := range out[171:] {
		e2 += float64(v) * float64(v)
	}
	if lvl := 10*math.Log10(e2/229) - 90.309; math.Abs(lvl-DefaultDigitSilenceFillDB) > 3 {
		t.Errorf("the background is at %.1f dBFS, want %v", lvl, DefaultDigitSilenceFillDB)
	}
	s2 := &stream{e: e, d: &decoder{profile: narrowband}, mode: stt.ModeDigits}
	s2.startFill()
	if again := s2.fillSilence(in); !slices.Equal(again, out) {
		t.Error("the same audio was filled differently")
	}
	for _, m := range []stt.Mode{stt.ModeSpeech, stt.ModeLetters} {
		s := &stream{e: e, d: &decoder{profile: narrowband}, mode: m}
		if s.startFill(); s.fill {
			t.Errorf("mode %s fills digital silence", m)
		}
	}
	for _, db := range []float64{-20, -101, 3} {
		c := DefaultConfig()
		c.DigitSilenceFillDB = db
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "digit_silence_fill_db") {
			t.Errorf("digit_silence_fill_db %v: err %v", db, err)
		}
	}
}
