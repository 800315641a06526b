package pocketsphinx

import (
	"context"
	"strings"
	"testing"

	"github.com/earshot/earshot/internal/testspeech"
	"github.com/earshot/earshot/media/stt"
	"github.com/earshot/earshot/media/wer"
)

func TestWarpExplore(t *testing.T) {
	for _, voice := range []string{"slt", "awb", "rms", "kal16"} {
		e := newEngine(t, func(c *Config) { c.WarpSelection = []float64{0.9, 1.1}; c.MaxDecoders = 4; c.Search = SearchFast })
		pcm := testspeech.Flite(t, voice, "please check the balance of my account").Samples()
		s, err := e.NewStream(context.Background(), stt.StreamOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var texts []string
		for _, r := range feed(t, s, pcm) {
			if r.Final {
				texts = append(texts, r.Text)
			}
		}
		c := wer.Align(wer.Normalize("please check the balance of my account"), wer.Normalize(strings.Join(texts, " ")))
		t.Logf("%s: warp %d %v %q WER %.1f", voice, s.(*stream).d.warp, e.WarpStreams(), texts, c.WER())
		s.Close()
	}
}
