package tts_test

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/earshot/earshot/media/tts"
	"github.com/earshot/earshot/media/tts/espeak"
	"github.com/earshot/earshot/media/tts/flite"
)

const benchPrompt = "Thank you for calling. Your card ending in four two one one has been blocked for your protection. " +
	"Your current balance is one thousand two hundred eighty four dollars and fifty seven cents."

// synthCPU synthesises benchPrompt once and returns the engine's thread
// CPU time and the seconds of audio produced.
func synthCPU(b *testing.B, e tts.Engine, voice string) (time.Duration, float64) {
	m := e.(tts.CPUMeter)
	c0 := m.CPUTime()
	n := 0
	if err := e.Synthesize(context.Background(), tts.Request{Text: benchPrompt, Voice: voice, Rate: 8000}, func(c []int16) error {
		n += len(c)
		return nil
	}); err != nil {
		b.Fatal(err)
	}
	return m.CPUTime() - c0, float64(n) / 8000
}

// BenchmarkVoiceCPU reports the CPU time per second of audio of the
// default English voice, of another Flite voice and of eSpeak NG, each
// synthesising the same prompt in turn within every iteration (so the
// machine's load weighs on all alike), and the default's ratio to each.
//
//	go test -run '^$' -bench BenchmarkVoiceCPU -benchtime 20x ./media/tts/
func BenchmarkVoiceCPU(b *testing.B) {
	fe, err := flite.New(flite.DefaultConfig(), nil)
	if err != nil {
		b.Fatal(err)
	}
	ee, err := espeak.New(espeak.DefaultConfig(), nil)
	if err != nil {
		b.Fatal(err)
	}
	type peer struct {
		name  string
		e     tts.Engine
		voice string
		cpu   time.Duration
		secs  float64
	}
	peers := []*peer{{name: tts.DefaultEnglishVoice, e: fe, voice: tts.DefaultEnglishVoice}}
	for _, v := range flite.Voices {
		if v != tts.DefaultEnglishVoice {
			peers = append(peers, &peer{name: v, e: fe, voice: v})
		}
	}
	peers = append(peers, &peer{name: "espeak-ng", e: ee, voice: "en-us"})
	b.ResetTimer()
	p0 := processCPU()
	for range b.N {
		for _, p := range peers {
			c, s := synthCPU(b, p.e, p.voice)
			p.cpu += c
			p.secs += s
		}
	}
	// The process's CPU time over every voice (resampling, queues and the
	// Go side included) against the engines' own thread CPU time: what the
	// per-voice figures leave out.
	total, engines := 0.0, time.Duration(0)
	for _, p := range peers {
		total += p.secs
		engines += p.cpu
	}
	b.ReportMetric((processCPU()-p0).Seconds()/total, "all-process-cpu-s/audio-s")
	b.ReportMetric(engines.Seconds()/total, "all-engine-cpu-s/audio-s")
	def := peers[0].cpu.Seconds() / peers[0].secs
	b.ReportMetric(def, "cpu-s/audio-s")
	for _, p := range peers[1:] {
		r := p.cpu.Seconds() / p.secs
		b.ReportMetric(r, p.name+"-cpu-s/audio-s")
		b.ReportMetric(def/r, "default/"+p.name)
	}
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
