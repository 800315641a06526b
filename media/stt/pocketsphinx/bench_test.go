package pocketsphinx

import (
	"context"
	"os"
	"testing"

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
