//go:build eval

package analyze

import (
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/earshot/earshot/media/audio"
	"github.com/earshot/earshot/media/codec"
	"github.com/earshot/earshot/media/pipeline"
	"github.com/earshot/earshot/media/stt"
	"github.com/earshot/earshot/media/stt/pocketsphinx"
	"github.com/earshot/earshot/media/vad"
)

// TestEvalDigitsTrace is a diagnostic of the FSDD digit strings of
// TestEvalDigits (development half unless EARSHOT_EVAL_DEV is unset; one
// rate, EARSHOT_EVAL_RATE, 8 kHz mu-law by default): for each digit of
// each string, where it lies (the recording joined into the string), the
// voice activity detector's regions over it, and the words the digits
// mode heard over it, so that a lost digit can be told apart as never
// reaching the recogniser (outside every region) or reaching it and
// coming back as nothing. With EARSHOT_EVAL_TRACE_ALONE=1 every digit is
// also recognised alone (the recording between 250 ms of the same silence
// the strings have), which tells whether the recogniser hears it at all.
// It prints per-speaker counts; it asserts nothing about accuracy.
func TestEvalDigitsTrace(t *testing.T) {
	dev := os.Getenv("EARSHOT_EVAL_DEV") != ""
	strs := digitStrings(t, dev, 40)
	rate := 8000
	if os.Getenv("EARSHOT_EVAL_RATE") == "16k" {
		rate = 16000
	}
	cfg := pocketsphinx.DefaultConfig()
	cfg.MaxDecoders = 2
	pcfg := pipeline.DefaultConfig()
	knobs := devKnobs(&cfg, &pcfg)
	eng, err := pocketsphinx.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	p, err := pipeline.New(pcfg, nil, nil, eng)
	if err != nil {
		t.Fatal(err)
	}
	alone := os.Getenv("EARSHOT_EVAL_TRACE_ALONE") != ""
	type tally struct {
		digits, right, wrong, lost, lostOutside, inserted, aloneRight, aloneLost, strings, exact int
		levels                                                                                   []float64
	}
	bySpeaker := map[string]*tally{}
	words := func(segs []pipeline.Segment) []stt.Word {
		var out []stt.Word
		for _, sg := range segs {
			out = append(out, sg.Words...)
		}
		return out
	}
	for i, s := range strs {
		tl := bySpeaker[s.speaker]
		if tl == nil {
			tl = &tally{}
			bySpeaker[s.speaker] = tl
		}
		tl.strings++
		regions := vadRegions(t, s, rate, pcfg.VAD)
		segs := runDigitSegments(t, p, s, rate, stt.ModeDigits, i)
		ws := words(segs)
		used := make([]bool, len(ws))
		var line strings.Builder
		var hyp []string
		for _, sg := range segs {
			hyp = append(hyp, sg.Text)
		}
		if digitsOf(strings.Join(hyp, " ")) == s.digits {
			tl.exact++
		}
		fmt.Fprintf(&line, "%s %s -> %q\n  regions:", s.speaker, s.digits, strings.Join(hyp, " "))
		for _, r := range regions {
			fmt.Fprintf(&line, " [%d-%d speech %d-%d]", r[0], r[1], r[2], r[3])
		}
		line.WriteString("\n")
		for j, sp := range s.spans {
			from, to := int64(sp[0]/8), int64(sp[1]/8)
			lvl := levelDBFS(s.pcm8[sp[0]:sp[1]])
			tl.levels = append(tl.levels, lvl)
			tl.digits++
			var got []string
			for k, w := range ws {
				if mid := (w.StartMs + w.EndMs) / 2; !used[k] && mid >= from-60 && mid < to+60 {
					used[k] = true
					got = append(got, w.Text)
				}
			}
			inside := false
			for _, r := range regions {
				if r[2] < to && r[3] > from {
					inside = true
				}
			}
			want := s.digits[j : j+1]
			verdict := "right"
			switch d := digitsOf(strings.Join(got, " ")); {
			case d == want:
				tl.right++
			case len(got) == 0:
				tl.lost++
				verdict = "LOST"
				if !inside {
					tl.lostOutside++
					verdict = "LOST outside every region's speech"
				}
			default:
				tl.wrong++
				verdict = "wrong"
			}
			aloneText := ""
			if alone {
				pad := make([]int16, 2000)
				one := digitString{speaker: s.speaker, digits: want}
				one.pcm8 = append(append(append(one.pcm8, pad...), s.pcm8[sp[0]:sp[1]]...), pad...)
				h := runDigits(t, p, one, rate, stt.ModeDigits, 1000+i*20+j)
				aloneText = fmt.Sprintf(", alone %q", h)
				if digitsOf(h) == want {
					tl.aloneRight++
				} else if h == "" {
					tl.aloneLost++
				}
			}
			fmt.Fprintf(&line, "  %s %5d-%5d ms %6.1f dBFS: %v %s%s\n", want, from, to, lvl, got, verdict, aloneText)
		}
		for k, w := range ws {
			if !used[k] {
				tl.inserted++
				fmt.Fprintf(&line, "  inserted %s %d-%d ms\n", w.Text, w.StartMs, w.EndMs)
			}
		}
		t.Log(line.String())
	}
	for _, spk := range slices.Sorted(maps.Keys(bySpeaker)) {
		tl := bySpeaker[spk]
		slices.Sort(tl.levels)
		t.Logf("%s (%d Hz%s): %d/%d strings exact; %d digits (median level %.1f dBFS): %d right, %d wrong, %d lost (%d of them outside every region's speech), %d inserted; alone: %d right, %d empty",
			spk, rate, knobs, tl.exact, tl.strings, tl.digits, tl.levels[len(tl.levels)/2], tl.right, tl.wrong, tl.lost, tl.lostOutside, tl.inserted, tl.aloneRight, tl.aloneLost)
	}
}

// levelDBFS is the RMS level of pcm in dBFS.
func levelDBFS(pcm []int16) float64 {
	var e float64
	for _, v := range pcm {
		e += float64(v) * float64(v)
	}
	return 10*math.Log10(e/float64(max(len(pcm), 1))+1e-9) - 90.309
}

// vadRegions runs the pipeline's voice activity detector over a digit
// string as the pipeline hears it (8 kHz: through mu-law, upsampled to
// 16 kHz) and returns each region as [start, end, speech from, speech
// to] in ms.
func vadRegions(t *testing.T, s digitString, rate int, cfg vad.Config) [][4]int64 {
	t.Helper()
	tmp := t.TempDir()
	in := filepath.Join(tmp, "in.wav")
	writeWAVAt(t, in, 8000, s.pcm8)
	var pcm []int16
	if rate == 8000 {
		out := filepath.Join(tmp, "out.raw")
		sox(t, "-D", in, "-r", "8000", "-e", "mu-law", "-b", "8", "-t", "raw", out)
		raw, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		lin := make([]int16, len(raw))
		for i, b := range raw {
			lin[i] = codec.MulawToLinear(b)
		}
		rs, err := audio.NewResampler(8000, audio.RecognizerRate)
		if err != nil {
			t.Fatal(err)
		}
		pcm = rs.Flush(rs.Process(nil, lin))
	} else {
		out := filepath.Join(tmp, "out.wav")
		sox(t, in, "-r", "16000", "-e", "signed-integer", "-b", "16", out)
		pcm = readPCM16(t, out)
	}
	det, err := vad.New(cfg, audio.RecognizerRate)
	if err != nil {
		t.Fatal(err)
	}
	var evs []vad.Event
	for off := 0; off < len(pcm); off += 640 {
		evs = append(evs, det.Write(pcm[off:min(off+640, len(pcm))])...)
	}
	evs = append(evs, det.Flush()...)
	var out [][4]int64
	start := int64(-1)
	for _, ev := range evs {
		switch ev.Kind {
		case vad.Audio:
			if start < 0 {
				start = ev.Offset
			}
		case vad.End:
			out = append(out, [4]int64{start / 16, ev.Offset / 16, ev.SpeechFrom / 16, ev.SpeechTo / 16})
			start = -1
		}
	}
	return out
}
