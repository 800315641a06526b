package ingesttest

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestSpeechRuns: a word split by a 10 ms dip into pieces under 100 ms is
// still speech (the end of a recording's last word), while a lone click
// is not.
func TestSpeechRuns(t *testing.T) {
	const rate = 16000
	r := rand.New(rand.NewPCG(1, 2))
	pcm := make([]int16, 4*rate)
	for i := range pcm {
		pcm[i] = int16(r.IntN(61) - 30) // a quiet background
	}
	tone := func(fromMS, toMS int) {
		for i := fromMS * rate / 1000; i < toMS*rate/1000; i++ {
			pcm[i] = int16(8000 * math.Sin(2*math.Pi*300*float64(i)/rate))
		}
	}
	tone(500, 1500)  // speech
	tone(1600, 1680) // a last word, 80 ms,
	tone(1690, 1750) // and 60 ms more after a 10 ms dip
	tone(3500, 3530) // a click
	want := [][2]int64{{500, 1750}}
	if diff := cmp.Diff(want, SpeechRuns(pcm, rate)); diff != "" {
		t.Errorf("SpeechRuns (-want +got):\n%s", diff)
	}
}
