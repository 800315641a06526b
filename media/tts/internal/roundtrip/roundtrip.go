// Package roundtrip transcribes synthesised speech back to text with
// Earshot's own PocketSphinx engine, for the text-to-speech tests and
// eval: what an engine said is checked by listening to it.
package roundtrip

import (
	"context"
	"fmt"
	"strings"

	"github.com/earshot/earshot/media/audio"
	"github.com/earshot/earshot/media/codec"
	"github.com/earshot/earshot/media/stt"
	"github.com/earshot/earshot/media/stt/pocketsphinx"
)

// NewRecognizer returns a PocketSphinx engine for transcribing synthesised
// prompts. Each prompt is one stream whose first (only) utterance is
// decoded again with the cepstral mean of its own audio, so a transcript
// does not depend on what the pooled decoder heard before (the order of
// voices in a test or eval).
func NewRecognizer(maxDecoders int) (*pocketsphinx.Engine, error) {
	return newRecognizer(maxDecoders, true)
}

// NewSequentialRecognizer returns a PocketSphinx engine with one decoder
// and the engine's live set-up (no second decoding): fed prompts one
// after another it adapts to their voice as on a call, at half the cost
// of NewRecognizer's. The eval makes one per voice and rate, so every
// voice is heard from the same start.
func NewSequentialRecognizer() (*pocketsphinx.Engine, error) {
	return newRecognizer(1, false)
}

func newRecognizer(maxDecoders int, redecode bool) (*pocketsphinx.Engine, error) {
	cfg := pocketsphinx.DefaultConfig()
	cfg.MaxDecoders, cfg.Warm = maxDecoders, 0
	cfg.RedecodeFirst = redecode
	return pocketsphinx.New(cfg, nil)
}

// MuLaw passes 8 kHz audio through G.711 mu-law and back, as a telephone
// line does.
func MuLaw(pcm []int16) []int16 {
	enc := codec.EncodeMulaw(nil, pcm)
	out := make([]int16, len(enc))
	for i, b := range enc {
		out[i] = codec.MulawToLinear(b)
	}
	return out
}

// Transcribe recognises pcm at rate (8000 or 16000; 8 kHz audio is
// upsampled and decoded with the narrowband set-up) and returns the words.
// Half a second of silence goes before and after, as on a call.
func Transcribe(e *pocketsphinx.Engine, pcm []int16, rate int) (string, error) {
	in := pcm
	if rate != stt.Rate {
		rs, err := audio.NewResampler(rate, stt.Rate)
		if err != nil {
			return "", err
		}
		in = rs.Flush(rs.Process(nil, pcm))
	}
	pad := make([]int16, stt.Rate/2)
	in = append(append(append([]int16(nil), pad...), in...), pad...)
	s, err := e.NewStream(context.Background(), stt.StreamOptions{Narrowband: rate == 8000})
	if err != nil {
		return "", fmt.Errorf("roundtrip: %w", err)
	}
	defer s.Close()
	var res []stt.Result
	for off := 0; off < len(in); off += 320 {
		r, err := s.Write(in[off:min(off+320, len(in))])
		if err != nil {
			return "", err
		}
		res = append(res, r...)
	}
	r, err := s.EndUtterance()
	if err != nil {
		return "", err
	}
	res = append(res, r...)
	var words []string
	for _, x := range res {
		if x.Final && x.Text != "" {
			words = append(words, x.Text)
		}
	}
	return strings.Join(words, " "), nil
}

// Heard counts the words of want found in the transcript got.
func Heard(got string, want []string) int {
	n := 0
	for _, w := range want {
		if strings.Contains(" "+got+" ", " "+w+" ") {
			n++
		}
	}
	return n
}
