package pocketsphinx

import (
	"context"
	"strings"
	"testing"

	"github.com/earshot/earshot/internal/testspeech"
	"github.com/earshot/earshot/media/stt"
	"github.com/earshot/earshot/media/wer"
)

const (
	warpText1 = "please check the balance of my account"
	warpText2 = "i would like to pay my bill today"
)

// warpCall is a Flite voice reading two sentences, each followed by
// 0.8 s of silence, as one stream's audio.
type warpCall struct {
	pcm   []int16
	split int64 // ms: the second sentence's audio starts here
}

func newWarpCall(t *testing.T, voice string) warpCall {
	t.Helper()
	silence := make([]int16, stt.Rate*8/10)
	var c warpCall
	c.pcm = append(append(c.pcm, testspeech.Flite(t, voice, warpText1).Samples()...), silence...)
	c.split = ms(int64(len(c.pcm)))
	c.pcm = append(append(c.pcm, testspeech.Flite(t, voice, warpText2).Samples()...), silence...)
	return c
}

// decodeCall writes the call to a new stream of e in 20 ms writes, ending
// an utterance after each sentence, and returns the stream (open) and
// the words of each sentence's finals.
func decodeCall(t *testing.T, e *Engine, c warpCall) (*stream, [2][]stt.Word) {
	t.Helper()
	st, err := e.NewStream(context.Background(), stt.StreamOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s := st.(*stream)
	return s, feedCall(t, s, c, 0)
}

// feedCall writes the call to s, whose clock is at atMs, as decodeCall
// does, and returns the words of each sentence's finals, their times
// less atMs.
func feedCall(t *testing.T, s *stream, c warpCall, atMs int64) [2][]stt.Word {
	t.Helper()
	var words [2][]stt.Word
	take := func(rs []stt.Result) {
		for _, r := range rs {
			if !r.Final {
				continue
			}
			for _, w := range r.Words {
				w.StartMs -= atMs
				w.EndMs -= atMs
				i := 0
				if w.StartMs >= c.split {
					i = 1
				}
				words[i] = append(words[i], w)
			}
		}
	}
	splitAt := int(c.split * stt.Rate / 1000)
	for _, part := range [][]int16{c.pcm[:splitAt], c.pcm[splitAt:]} {
		for off := 0; off < len(part); off += 320 {
			rs, err := s.Write(part[off:min(off+320, len(part))])
			if err != nil {
				t.Fatal(err)
			}
			take(rs)
		}
		rs, err := s.EndUtterance()
		if err != nil {
			t.Fatal(err)
		}
		take(rs)
	}
	return words
}

func wordText(ws []stt.Word) string {
	var out []string
	for _, w := range ws {
		out = append(out, w.Text)
	}
	return strings.Join(out, " ")
}

func (e *Engine) poolCounts() (total int, free []int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, f := range e.free {
		free = append(free, len(f))
	}
	return e.total, free
}

// TestWarpSelection: a male Flite voice's stream moves from the unwarped
// decoder to the 0.9 warp's after its first utterance, keeps its words
// and their times on the stream's clock, and every decoder it borrowed
// or left goes back to the pool. With selection off the stream stays on
// the unwarped decoder, as it does when the pool has no decoder to spare.
func TestWarpSelection(t *testing.T) {
	c := newWarpCall(t, "kal16")
	check := func(name string, words [2][]stt.Word) {
		t.Helper()
		for i, ref := range []string{warpText1, warpText2} {
			got := wordText(words[i])
			if e := wer.Align(wer.Normalize(ref), wer.Normalize(got)); e.WER() > 30 {
				t.Errorf("%s: sentence %d: %q, WER %.1f%% > 30%%", name, i+1, got, e.WER())
			}
		}
	}

	off := newEngine(t, func(c *Config) { c.MaxDecoders = 4 })
	s, ref := decodeCall(t, off, c)
	check("off", ref)
	if s.d.warp != 0 || len(off.WarpStreams()) != 0 {
		t.Errorf("selection off: stream on warp %d, counts %v", s.d.warp, off.WarpStreams())
	}
	s.Close()
	if total, _ := off.poolCounts(); total != 1 {
		t.Errorf("selection off: %d decoders made, want 1", total)
	}

	on := newEngine(t, func(c *Config) { c.MaxDecoders = 4; c.WarpSelection = []float64{0.9, 1.1} })
	s, got := decodeCall(t, on, c)
	check("on", got)
	if s.d.warp != 1 {
		t.Errorf("stream on warp %d after its first utterance, want 1 (0.9)", s.d.warp)
	}
	if n := on.WarpStreams(); n["0.9"] != 1 || n["1"] != 0 || n["1.1"] != 0 {
		t.Errorf("streams by warp %v, want one on 0.9", n)
	}
	checkTimes(t, got, ref)
	total, free := on.poolCounts()
	if total != 3 || free[slot(wideband, 0)] != 1 || free[slot(wideband, 1)] != 0 || free[slot(wideband, 2)] != 1 {
		t.Errorf("while the stream is open: %d decoders, free by slot %v; want 3, the unwarped and the 1.1 free", total, free)
	}
	if cpu := s.CPUTime(); cpu <= 0 {
		t.Errorf("CPUTime = %v", cpu)
	}
	s.Close()
	if total, free = on.poolCounts(); total != 3 || free[slot(wideband, 0)]+free[slot(wideband, 1)]+free[slot(wideband, 2)] != 3 {
		t.Errorf("after close: %d decoders, free by slot %v; want all 3 free", total, free)
	}

	// Two decoders: a trial would take the last one a new call could get.
	busy := newEngine(t, func(c *Config) { c.MaxDecoders = 2; c.WarpSelection = []float64{0.9, 1.1} })
	s, got = decodeCall(t, busy, c)
	check("busy", got)
	if s.d.warp != 0 || busy.WarpStreams()["1"] != 1 {
		t.Errorf("no decoder to spare: stream on warp %d, counts %v; want it left unwarped", s.d.warp, busy.WarpStreams())
	}
	if total, _ := busy.poolCounts(); total != 1 {
		t.Errorf("no decoder to spare: %d decoders made, want the stream's alone", total)
	}
	s.Close()
}

// checkTimes: the same audio read at another warp puts the words where
// the unwarped reading (ref) put them.
func checkTimes(t *testing.T, got, ref [2][]stt.Word) {
	t.Helper()
	for i := range got {
		if len(got[i]) == 0 || len(ref[i]) == 0 {
			t.Fatalf("sentence %d: no words (%d, %d)", i+1, len(got[i]), len(ref[i]))
		}
		for _, p := range [][2]stt.Word{{got[i][0], ref[i][0]}, {got[i][len(got[i])-1], ref[i][len(ref[i])-1]}} {
			if d := p[0].StartMs - p[1].StartMs; d < -100 || d > 100 {
				t.Errorf("sentence %d: %q starts at %d ms, unwarped at %d ms", i+1, p[0].Text, p[0].StartMs, p[1].StartMs)
			}
		}
	}
}

// TestWarpSelectionAfterNoReading: a stream whose first utterance has no
// reading (a click ended as an utterance of its own) is no measure of
// the voice: the warp is chosen on the next utterance instead, on a
// decoder that heard the click too, so the words keep their times on the
// stream's clock.
func TestWarpSelectionAfterNoReading(t *testing.T) {
	c := newWarpCall(t, "kal16")
	off := newEngine(t, func(c *Config) { c.MaxDecoders = 4 })
	s, ref := decodeCall(t, off, c)
	s.Close()

	on := newEngine(t, func(c *Config) { c.MaxDecoders = 4; c.WarpSelection = []float64{0.9, 1.1} })
	st, err := on.NewStream(context.Background(), stt.StreamOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s = st.(*stream)
	defer s.Close()
	click := make([]int16, stt.Rate*6/100)
	for i := range 40 {
		click[i] = int16(12000 * (1 - 2*(i%2)))
	}
	if _, err := s.Write(click); err != nil {
		t.Fatal(err)
	}
	rs, err := s.EndUtterance()
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 1 || rs[0].Text != "" || !s.warpPending || s.d.warp != 0 {
		t.Fatalf("after the click: results %+v, selection pending %v, warp %d; want one empty final, selection still pending", rs, s.warpPending, s.d.warp)
	}
	got := feedCall(t, s, c, ms(int64(len(click))))
	if s.d.warp != 1 || on.WarpStreams()["0.9"] != 1 {
		t.Errorf("stream on warp %d, counts %v; want it moved to 0.9 after the first sentence", s.d.warp, on.WarpStreams())
	}
	for i, r := range []string{warpText1, warpText2} {
		if e := wer.Align(wer.Normalize(r), wer.Normalize(wordText(got[i]))); e.WER() > 30 {
			t.Errorf("sentence %d: %q, WER %.1f%% > 30%%", i+1, wordText(got[i]), e.WER())
		}
	}
	checkTimes(t, got, ref)
}

func TestWarpSelectionValidate(t *testing.T) {
	for _, ws := range [][]float64{{1}, {0.7}, {1.3}, {0.9, 0.9}, {0.85, 0.9, 0.95, 1.05, 1.1}} {
		cfg := DefaultConfig()
		cfg.WarpSelection = ws
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "warp_selection") {
			t.Errorf("warp_selection %v: err = %v", ws, err)
		}
	}
	cfg := DefaultConfig()
	cfg.WarpSelection = []float64{0.9, 1.1}
	if err := cfg.Validate(); err != nil {
		t.Errorf("warp_selection 0.9, 1.1: %v", err)
	}
}
