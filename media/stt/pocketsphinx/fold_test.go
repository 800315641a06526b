package pocketsphinx

import (
	"context"
	"strings"
	"testing"

	"github.com/earshot/earshot/media/audio"
	"github.com/earshot/earshot/media/codec"
	"github.com/earshot/earshot/media/stt"
)

// telephone passes 16 kHz audio through a telephone channel as the
// pipeline receives and prepares it: 8 kHz G.711 mu-law, upsampled back
// to 16 kHz (nothing above 4 kHz).
func telephone(t testing.TB, pcm []int16) []int16 {
	t.Helper()
	down, err := audio.NewResampler(16000, 8000)
	if err != nil {
		t.Fatal(err)
	}
	n := down.Flush(down.Process(nil, pcm))
	for i, u := range codec.EncodeMulaw(nil, n) {
		n[i] = codec.MulawToLinear(u)
	}
	up, err := audio.NewResampler(8000, 16000)
	if err != nil {
		t.Fatal(err)
	}
	return up.Flush(up.Process(nil, n))
}

// TestNarrowbandFold: the folded high band reaches the decoder in the
// digits mode of narrowband streams and nowhere else. A gain far above
// the default's changes what the digits grammar hears in a real 8 kHz
// recording; the default gain keeps its digits; the other modes and
// wideband streams hear the same with any gain. The values are checked.
func TestNarrowbandFold(t *testing.T) {
	raw := loadRaw(t, "/usr/share/pocketsphinx/test/data/numbers.raw")
	tel := telephone(t, raw)
	hear := func(gain float64, narrow bool, mode stt.Mode) string {
		e := newEngine(t, func(c *Config) { c.NarrowbandFoldGain = gain })
		st, err := e.NewStream(context.Background(), stt.StreamOptions{Narrowband: narrow})
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		if err := st.(stt.ModeSetter).SetMode(mode); err != nil {
			t.Fatal(err)
		}
		pcm := raw
		if narrow {
			pcm = tel
		}
		return text(feed(t, st, pcm))
	}
	off := hear(0, true, stt.ModeDigits)
	if len(strings.Fields(off)) < 4 {
		t.Fatalf("digits mode at 8 kHz without folding heard %q", off)
	}
	if got := hear(DefaultNarrowbandFoldGain, true, stt.ModeDigits); got != off {
		t.Errorf("digits mode at 8 kHz with the default fold heard %q, %q without", got, off)
	}
	if got := hear(0.5, true, stt.ModeDigits); got == off {
		t.Errorf("digits mode at 8 kHz heard %q with a fold gain of 0.5 as without: the fold does not reach the decoder", got)
	}
	for _, c := range []struct {
		narrow bool
		mode   stt.Mode
	}{{true, stt.ModeSpeech}, {true, stt.ModeLetters}, {false, stt.ModeDigits}} {
		if a, b := hear(0, c.narrow, c.mode), hear(0.5, c.narrow, c.mode); a != b {
			t.Errorf("narrowband %v, %s mode: heard %q with a fold gain of 0.5, %q without", c.narrow, c.mode, b, a)
		}
	}
	for _, bad := range []float64{-0.1, 1.5} {
		cfg := DefaultConfig()
		cfg.NarrowbandFoldGain = bad
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "narrowband_fold_gain") {
			t.Errorf("narrowband_fold_gain %v: %v", bad, err)
		}
	}
	cfg := DefaultConfig()
	cfg.NarrowbandFoldCMNAdaptMs = -1
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "narrowband_fold_cmn_adapt_ms") {
		t.Errorf("narrowband_fold_cmn_adapt_ms -1: %v", err)
	}
}
