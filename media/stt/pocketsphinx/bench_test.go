package pocketsphinx

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/earshot/earshot/media/stt"
	"github.com/earshot/earshot/media/wav"
)

// BenchmarkStream measures recogniser CPU seconds per audio second (thread
// CPU clock, immune to other processes' load) on a LibriVox recording fed
// in 20 ms writes, for both search presets.
func BenchmarkStream(b *testing.B) {
	raw, err := os.ReadFile("/usr/share/pocketsphinx/test/data/librivox/sense_and_sensibility_01_austen_64kb-0870.wav")
	if err != nil {
		b.Fatalf("pocketsphinx-testdata: %v", err)
	}
	f, err := wav.Parse(raw)
	if err != nil {
		b.Fatal(err)
	}
	pcm := f.Samples()
	for _, search := range []string{SearchFast, SearchAccurate} {
		b.Run(search, func(b *testing.B) {
			cfg := DefaultConfig()
			cfg.Search, cfg.MaxDecoders, cfg.Warm = search, 1, 1
			e, err := New(cfg, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer e.Close()
			benchStreams(b, e, pcm, stt.StreamOptions{}, stt.ModeSpeech)
		})
	}
}

// BenchmarkNarrowbandDigits measures the digits mode of a narrowband
// stream, with and without the folded high band (fold.go), in recogniser
// CPU seconds per audio second, on a pocketsphinx-testdata recording of
// spoken numbers passed through a telephone channel.
func BenchmarkNarrowbandDigits(b *testing.B) {
	pcm := telephone(b, loadRaw(b, "/usr/share/pocketsphinx/test/data/numbers.raw"))
	for _, c := range []struct {
		name string
		gain float64
	}{{"no-fold", 0}, {"fold", DefaultNarrowbandFoldGain}} {
		b.Run(c.name, func(b *testing.B) {
			cfg := DefaultConfig()
			cfg.MaxDecoders, cfg.Warm, cfg.NarrowbandFoldGain = 1, 0, c.gain
			e, err := New(cfg, nil)
			if err != nil {
				b.Fatal(err)
			}
			defer e.Close()
			benchStreams(b, e, pcm, stt.StreamOptions{Narrowband: true}, stt.ModeDigits)
		})
	}
}

// benchStreams decodes pcm in 20 ms writes on a new stream per iteration
// (in mode) and reports the recogniser's thread CPU seconds per audio
// second (immune to other processes' load).
func benchStreams(b *testing.B, e *Engine, pcm []int16, opts stt.StreamOptions, mode stt.Mode) {
	b.Helper()
	var cpu, audioSecs float64
	for b.Loop() {
		s, err := e.NewStream(context.Background(), opts)
		if err != nil {
			b.Fatal(err)
		}
		if err := s.(stt.ModeSetter).SetMode(mode); err != nil {
			b.Fatal(err)
		}
		for off := 0; off < len(pcm); off += 320 {
			if _, err := s.Write(pcm[off:min(off+320, len(pcm))]); err != nil {
				b.Fatal(err)
			}
		}
		s.EndUtterance()
		cpu += s.(stt.CPUReporter).CPUTime().Seconds()
		audioSecs += float64(len(pcm)) / stt.Rate
		s.Close()
	}
	b.ReportMetric(cpu/audioSecs, "cpu-s/audio-s")
}

// BenchmarkCardContext measures what card_context_digits adds: a Flite
// sentence with a card number after "my card number is" (awb voice,
// 16 kHz and through an 8 kHz mu-law telephone channel) is decoded on a
// stream with the option off (the language model's pass alone) and on
// one with it on, in the same iteration. Reported in recogniser thread
// CPU (immune to other processes' load): the first pass per audio
// second, the extra CPU per re-decoded span in milliseconds, and the
// extra as a share of the first pass.
func BenchmarkCardContext(b *testing.B) {
	const say = "sure my card number is four five three nine one four eight eight zero three four three six four six seven and it expires ten twenty seven"
	pcm := flite(b, "awb", say)
	benchReading(b, func(bool) []int16 { return pcm }, func(c *Config, on bool) { c.CardContextDigits, c.CardNumberRuns = on, false },
		func(e *Engine) int64 { d, _ := e.CardReadings(CardReadingPhrase); return d })
}

// BenchmarkCardNumberRuns measures what card_number_runs adds, as
// BenchmarkCardContext does, on a card number read without a card phrase
// (TestCardNumberRuns's sentences: slt at 16 kHz, rms through the
// telephone channel; accurate search, as the redaction eval decodes).
func BenchmarkCardNumberRuns(b *testing.B) {
	wide := flite(b, "slt", "can you put it on five one eight three oh eight four one oh three seven eight one one four four please")
	narrow := flite(b, "rms", "sure four five three nine one four eight eight zero three four three six four six seven thanks")
	benchReading(b, func(n bool) []int16 {
		if n {
			return narrow
		}
		return wide
	}, func(c *Config, on bool) { c.Search, c.CardContextDigits, c.CardNumberRuns = SearchAccurate, false, on },
		func(e *Engine) int64 { d, _ := e.CardReadings(CardReadingRun); return d })
}

// benchReading decodes speech(narrow) (at 16 kHz, and through the
// telephone channel when narrow) on an engine with set(cfg, false) and
// one with set(cfg, true) in the same iteration, and reports the second's
// extra CPU per span read again (spans counts them).
func benchReading(b *testing.B, speech func(narrow bool) []int16, set func(*Config, bool), spansOf func(*Engine) int64) {
	for _, narrow := range []bool{false, true} {
		name, in := "16k", append(speech(narrow), make([]int16, stt.Rate/2)...)
		if narrow {
			name, in = "8k", telephone(b, in)
		}
		b.Run(name, func(b *testing.B) {
			var engines [2]*Engine
			for i, on := range []bool{false, true} {
				cfg := DefaultConfig()
				cfg.MaxDecoders, cfg.Warm = 1, 0
				set(&cfg, on)
				e, err := New(cfg, nil)
				if err != nil {
					b.Fatal(err)
				}
				defer e.Close()
				engines[i] = e
			}
			var cpu [2]float64
			for b.Loop() {
				for i, e := range engines {
					s, err := e.NewStream(context.Background(), stt.StreamOptions{Narrowband: narrow})
					if err != nil {
						b.Fatal(err)
					}
					for off := 0; off < len(in); off += 320 {
						if _, err := s.Write(in[off:min(off+320, len(in))]); err != nil {
							b.Fatal(err)
						}
					}
					if _, err := s.EndUtterance(); err != nil {
						b.Fatal(err)
					}
					cpu[i] += s.(stt.CPUReporter).CPUTime().Seconds()
					s.Close()
				}
			}
			spans := spansOf(engines[1])
			if spans == 0 {
				b.Fatal("no span was decoded again")
			}
			audio := float64(b.N) * float64(len(in)) / stt.Rate
			b.ReportMetric(cpu[0]/audio, "first-pass-cpu-s/audio-s")
			b.ReportMetric((cpu[1]-cpu[0])/float64(spans)*1000, "extra-cpu-ms/span")
			b.ReportMetric((cpu[1]-cpu[0])/cpu[0], "extra/first-pass")
			b.ReportMetric(float64(spans)/float64(b.N), "spans/op")
		})
	}
}

// BenchmarkSpokenFormsPrior measures what the spoken-forms prior costs at
// start and per decoder: an engine is made (the prior built and written
// when on) and its first stream opened (a decoder created and its
// free-speech search loaded), with the prior off and on; wall time of
// each, and the process's resident memory added by the engine with one
// decoder (VmRSS after malloc_trim; rough: freed memory of earlier
// iterations is reused).
func BenchmarkSpokenFormsPrior(b *testing.B) {
	for _, v := range spokenFormsVariants {
		b.Run(v.name, func(b *testing.B) {
			var newMs, openMs, rssMB float64
			for b.Loop() {
				cfg := DefaultConfig()
				cfg.MaxDecoders, cfg.Warm, cfg.WarpSelection, cfg.SpokenFormsWeight, cfg.SpokenFormsMode = 1, 0, nil, v.w, v.mode
				rss0 := vmRSSKB(b)
				t0 := time.Now()
				e, err := New(cfg, nil)
				if err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				s, err := e.NewStream(context.Background(), stt.StreamOptions{})
				if err != nil {
					b.Fatal(err)
				}
				t2 := time.Now()
				trimHeap() // what glibc keeps of freed memory is not counted
				rssMB += float64(vmRSSKB(b)-rss0) / 1024
				newMs += float64(t1.Sub(t0).Microseconds()) / 1000
				openMs += float64(t2.Sub(t1).Microseconds()) / 1000
				s.Close()
				e.Close()
			}
			n := float64(b.N)
			b.ReportMetric(newMs/n, "new-ms")
			b.ReportMetric(openMs/n, "first-stream-ms")
			b.ReportMetric(rssMB/n, "rss-MB")
		})
	}
}

// spokenFormsVariants are the benchmarks' settings of the spoken-forms
// prior: off, interpolated into every utterance's search, and reading
// again the utterances with details read out.
var spokenFormsVariants = []struct {
	name, mode string
	w          float64
}{{"off", SpokenFormsReread, 0}, {"always-0.1", SpokenFormsAlways, 0.1}, {"reread-0.1", SpokenFormsReread, 0.1}}

// vmRSSKB is the process's resident set size in kB.
func vmRSSKB(b *testing.B) int64 {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Fatal(err)
	}
	for _, l := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb
		}
	}
	b.Fatal("no VmRSS")
	return 0
}

// BenchmarkSpokenFormsDecode measures the recogniser CPU per audio
// second (thread CPU) of the default search with the spoken-forms prior
// off, always on and reading again (spokenFormsVariants): a LibriVox recording (free speech) and a Flite sentence of
// spoken forms (a card number and a date of birth).
func BenchmarkSpokenFormsDecode(b *testing.B) {
	speech := map[string][]int16{
		"librivox": loadSpeech(b, "0870"),
		"forms": flite(b, "slt", "my card number is four one one one two two three three four four five five six six seven seven "+
			"and my date of birth is the third of july nineteen eighty two"),
	}
	for _, name := range []string{"librivox", "forms"} {
		for _, v := range spokenFormsVariants {
			b.Run(name+"/"+v.name, func(b *testing.B) {
				cfg := DefaultConfig()
				cfg.MaxDecoders, cfg.Warm, cfg.WarpSelection, cfg.SpokenFormsWeight, cfg.SpokenFormsMode = 1, 1, nil, v.w, v.mode
				e, err := New(cfg, nil)
				if err != nil {
					b.Fatal(err)
				}
				defer e.Close()
				benchStreams(b, e, speech[name], stt.StreamOptions{}, stt.ModeSpeech)
			})
		}
	}
}
