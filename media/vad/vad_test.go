package vad

import (
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/earshot/earshot/media/audio"
	"github.com/earshot/earshot/media/wav"
)

// espeak synthesises real speech with eSpeak NG (Debian espeak-ng) at 16 kHz.
func espeak(t *testing.T, text string) []int16 {
	t.Helper()
	p := filepath.Join(t.TempDir(), "s.wav")
	if out, err := exec.Command("espeak-ng", "-w", p, text).CombinedOutput(); err != nil {
		t.Fatalf("espeak-ng (in DEBS_TEST): %v: %s", err, out)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	f, err := wav.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	r, err := audio.NewResampler(f.SampleRate, 16000)
	if err != nil {
		t.Fatal(err)
	}
	return r.Flush(r.Process(nil, f.Samples()))
}

func noise(n int, amp float64, seed uint64) []int16 {
	r := rand.New(rand.NewPCG(seed, 1))
	s := make([]int16, n)
	for i := range s {
		s[i] = int16(r.NormFloat64() * amp)
	}
	return s
}

type span struct{ start, end, speechFrom, speechTo int64 }

func regions(t *testing.T, d *Detector, pcm []int16, chunk int) []span {
	t.Helper()
	var out []span
	var cur *span
	var fed int64
	handle := func(evs []Event) {
		for _, ev := range evs {
			switch ev.Kind {
			case Audio:
				if cur == nil {
					cur = &span{start: ev.Offset}
				} else if ev.Offset != fed {
					t.Fatalf("audio at %d, want contiguous %d", ev.Offset, fed)
				}
				fed = ev.Offset + int64(len(ev.PCM))
			case End:
				if cur == nil {
					t.Fatal("End without Audio")
				}
				cur.end, cur.speechFrom, cur.speechTo = ev.Offset, ev.SpeechFrom, ev.SpeechTo
				out = append(out, *cur)
				cur = nil
			}
		}
	}
	for off := 0; off < len(pcm); off += chunk {
		handle(d.Write(pcm[off:min(off+chunk, len(pcm))]))
	}
	handle(d.Flush())
	return out
}

func TestDetectorFindsSpeechInNoise(t *testing.T) {
	speech1 := espeak(t, "Hello, I would like to check the balance of my savings account.")
	speech2 := espeak(t, "Thank you, goodbye.")
	const rate = 16000
	var pcm []int16
	pcm = append(pcm, noise(2*rate, 60, 1)...) // 2 s of quiet line noise
	s1 := int64(len(pcm))
	pcm = append(pcm, speech1...)
	e1 := int64(len(pcm))
	pcm = append(pcm, noise(2*rate, 60, 2)...)
	s2 := int64(len(pcm))
	pcm = append(pcm, speech2...)
	e2 := int64(len(pcm))
	pcm = append(pcm, noise(rate, 60, 3)...)
	// Mix the noise floor under the speech as well.
	for i, v := range noise(len(pcm), 60, 4) {
		pcm[i] = int16(max(-32768, min(32767, int(pcm[i])+int(v))))
	}
	for _, chunk := range []int{160, 320, 1111} {
		d, err := New(Config{}, rate)
		if err != nil {
			t.Fatal(err)
		}
		got := regions(t, d, pcm, chunk)
		if len(got) < 2 {
			t.Fatalf("chunk %d: %d regions %v, want the 2 utterances", chunk, len(got), got)
		}
		// Every speech sample lies in a region; regions start at most
		// the pre-roll before the speech and end within hangover+frame.
		first, last := got[0], got[len(got)-1]
		tol := int64(rate * 0.35)
		if first.start > s1 || first.start < s1-tol {
			t.Errorf("chunk %d: first region starts at %d, speech at %d", chunk, first.start, s1)
		}
		if last.end < e2 || last.end > e2+int64(rate*0.6) {
			t.Errorf("chunk %d: last region ends at %d, speech ends at %d", chunk, last.end, e2)
		}
		// The speech bounds leave out exactly the pre-roll (full after 2 s
		// of noise) and the hangover, and lie within the speech.
		if d := first.speechFrom - first.start; d != rate*300/1000 {
			t.Errorf("chunk %d: first region's speech starts %d samples after the region, want the 300 ms pre-roll", chunk, d)
		}
		if d := last.end - last.speechTo; d != rate*500/1000 {
			t.Errorf("chunk %d: last region ends %d samples after its speech, want the 500 ms hangover", chunk, d)
		}
		if first.speechFrom < s1 || last.speechTo > e2 {
			t.Errorf("chunk %d: speech %d..%d outside the utterances %d..%d", chunk, first.speechFrom, last.speechTo, s1, e2)
		}
		for _, r := range got {
			if r.speechFrom < r.start || r.speechTo > r.end || r.speechTo <= r.speechFrom {
				t.Errorf("chunk %d: region %v: speech bounds outside the region", chunk, r)
			}
			if r.start < s2 && r.end > s2 && r.start < e1 {
				t.Errorf("chunk %d: region %v bridges the 2 s pause (%d..%d)", chunk, r, e1, s2)
			}
		}
	}
}

func TestDetectorSilence(t *testing.T) {
	d, _ := New(Config{}, 16000)
	if got := regions(t, d, noise(5*16000, 40, 9), 320); len(got) != 0 {
		t.Errorf("noise only: regions %v, want none", got)
	}
}

func TestConfigValidate(t *testing.T) {
	bad := []Config{{FrameMs: 5}, {FrameMs: 20, ThresholdDB: -1}, {FrameMs: 20, ThresholdDB: 10, HangoverMs: 10, MaxRegionMs: 30000}}
	for _, c := range bad {
		if err := c.Validate(); err == nil {
			t.Errorf("Validate(%+v) = nil", c)
		}
	}
	if err := DefaultConfig().Validate(); err != nil {
		t.Error(err)
	}
}

// TestSpeechEdgesOverDigitalSilence: a recording (speech over its own
// background) placed between stretches of digital silence, as when calls
// are assembled from recordings or a line mutes. The detector's floor
// falls to the silence, so the recording's background counts as speech
// frames; the speech edges still lie at the speech (within two frames of
// where the clean speech's level first and last rises 30 dB above its
// background), not at the recording's ends.
func TestSpeechEdgesOverDigitalSilence(t *testing.T) {
	const rate = 16000
	speech := espeak(t, "Hello, I would like to check the balance of my savings account.")
	// The clean speech's own edges: 20 ms frames louder than -50 dBFS.
	ref := func() (from, to int64) {
		from, to = -1, -1
		for i := 0; i+320 <= len(speech); i += 320 {
			if levelDB(speech[i:i+320]) > -50 {
				if from < 0 {
					from = int64(i)
				}
				to = int64(i + 320)
			}
		}
		return from, to
	}
	sFrom, sTo := ref()
	lead := int64(2 * rate)
	rec := append(noise(rate/2, 100, 5), speech...) // half a second of background first
	rec = append(rec, noise(rate/2, 100, 6)...)
	for i, v := range noise(len(rec), 100, 7) {
		rec[i] = int16(max(-32768, min(32767, int(rec[i])+int(v))))
	}
	pcm := append(make([]int16, lead), rec...)
	pcm = append(pcm, make([]int16, 2*rate)...)
	speechAt := lead + int64(rate/2)
	d, err := New(Config{}, rate)
	if err != nil {
		t.Fatal(err)
	}
	var open bool
	var got []span
	var cur *span
	for off := 0; off < len(pcm); off += 320 {
		for _, ev := range d.Write(pcm[off:min(off+320, len(pcm))]) {
			switch ev.Kind {
			case Audio:
				if cur == nil {
					cur = &span{start: ev.Offset}
				}
			case End:
				cur.end, cur.speechFrom, cur.speechTo = ev.Offset, ev.SpeechFrom, ev.SpeechTo
				got = append(got, *cur)
				cur = nil
			}
		}
		if region, from, to, ok := d.OpenSpeech(); ok {
			open = true
			if region != cur.start || from < cur.start || to < from {
				t.Fatalf("open region %d: speech %d..%d", region, from, to)
			}
		}
	}
	if !open || len(got) == 0 {
		t.Fatalf("regions %v (open seen %v), want the recording", got, open)
	}
	first, last := got[0], got[len(got)-1]
	tol := int64(2 * 320)
	if first.start > lead {
		t.Fatalf("the recording's background is not speech frames here: region starts at %d, recording at %d", first.start, lead)
	}
	if diff := first.speechFrom - (speechAt + sFrom); diff < -tol || diff > tol {
		t.Errorf("speech starts at %d, the clean speech at %d (off by %d samples)", first.speechFrom, speechAt+sFrom, diff)
	}
	if diff := last.speechTo - (speechAt + sTo); diff < -tol || diff > tol {
		t.Errorf("speech ends at %d, the clean speech at %d (off by %d samples)", last.speechTo, speechAt+sTo, diff)
	}
}

// TestSpeechEdgeKeepsSoftFricative: a soft high-pitched ending (a
// fricative such as the "s" of "was") adds little to a frame's level over
// a low hum, but much to its high-pass level; the speech edge must come
// after it, not at the end of the loud part, in narrowband audio (where
// such endings lost their energy above 4 kHz) as in wideband audio (where
// the level alone put utterances' ends ~60 ms early on the speaker
// metrics' development calls).
func TestSpeechEdgeKeepsSoftFricative(t *testing.T) {
	const rate = 16000
	lead, loud, soft, tail := rate, rate, rate*3/10, 2*rate
	var pcm []int16
	pcm = append(pcm, tone(lead, 100, 100, 0)...)              // hum, about -53 dBFS
	pcm = append(pcm, tone(loud, 300, 3000, lead)...)          // voiced speech, about -21 dBFS
	pcm = append(pcm, tone(soft, 6000, 400, lead+loud)...)     // fricative: about -41 dBFS, high-pass about -36
	pcm = append(pcm, tone(tail, 100, 100, lead+loud+soft)...) // hum again
	got := oneRegion(t, pcm)
	wantTo := int64(lead + loud + soft)
	if r := got[0]; r.speechTo < wantTo-2*320 || r.speechTo > wantTo+2*320 || r.speechFrom < int64(lead)-2*320 || r.speechFrom > int64(lead)+2*320 {
		t.Errorf("speech %d..%d, want %d..%d", r.speechFrom, r.speechTo, lead, wantTo)
	}
}

// oneRegion runs pcm (16 kHz) through a default detector and returns its
// one region.
func oneRegion(t *testing.T, pcm []int16) []span {
	t.Helper()
	d, err := New(Config{}, 16000)
	if err != nil {
		t.Fatal(err)
	}
	got := regions(t, d, pcm, 320)
	if len(got) != 1 {
		t.Fatalf("regions %+v, want one", got)
	}
	return got
}

// tone is n samples of a sine of hz at amplitude amp, from sample at.
func tone(n int, hz, amp float64, at int) []int16 {
	s := make([]int16, n)
	for i := range s {
		s[i] = int16(amp * math.Sin(2*math.Pi*hz*float64(at+i)/16000))
	}
	return s
}

// TestSpeechEdgeOverIdleLine: a recording placed on an idle line (a
// mu-law channel's idle noise, about -75 dBFS, before and after it) has
// its own background (about -50 dBFS) for 300 ms before and after the
// speech. The detector's speech frames cover the whole recording (its
// background is far over the line's floor), but the speech edges are the
// speech's: the recording's background is measured as the region's quiet,
// not the idle line of the pre-roll and hangover (with which the whole
// recording was speech).
func TestSpeechEdgeOverIdleLine(t *testing.T) {
	const rate = 16000
	idle, bg, speech := rate, rate*3/10, 2*rate
	var pcm []int16
	pcm = append(pcm, noise(idle, 6, 1)...)
	at := len(pcm) + bg
	pcm = append(pcm, noise(bg, 100, 2)...)
	pcm = append(pcm, tone(speech, 300, 3000, 0)...)
	for i, v := range noise(speech, 100, 3) { // the background under the speech
		pcm[at+i] += v
	}
	pcm = append(pcm, noise(bg, 100, 4)...)
	pcm = append(pcm, noise(2*rate, 6, 5)...)
	got := oneRegion(t, pcm)
	from, to := int64(at), int64(at+speech)
	if r := got[0]; r.speechFrom < from-2*320 || r.speechFrom > from+2*320 || r.speechTo < to-2*320 || r.speechTo > to+2*320 {
		t.Errorf("speech %d..%d, want %d..%d (the recording: %d..%d)", r.speechFrom, r.speechTo, from, to, from-int64(bg), to+int64(bg))
	}
}
