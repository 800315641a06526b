package espeak

import (
	"context"
	"errors"
	"testing"

	"github.com/earshot/earshot/media/tts"
	"github.com/earshot/earshot/media/tts/internal/roundtrip"
)

func newEngine(t testing.TB) *Engine {
	t.Helper()
	e, err := New(DefaultConfig(), nil)
	if err != nil {
		t.Fatalf("New (Debian libespeak-ng1, espeak-ng-data): %v", err)
	}
	return e
}

func speakAll(t testing.TB, e tts.Engine, req tts.Request) []int16 {
	t.Helper()
	var pcm []int16
	if err := e.Synthesize(context.Background(), req, func(c []int16) error {
		pcm = append(pcm, c...)
		return nil
	}); err != nil {
		t.Fatalf("Synthesize(%+v): %v", req, err)
	}
	return pcm
}

// TestEnglishRoundTrip: eSpeak NG's English, transcribed back by
// PocketSphinx at 16 kHz. PocketSphinx hears eSpeak NG's formant speech
// poorly (the eval reports its word error rates, 8 kHz included: the
// eSpeak NG command line's own output, resampled by sox, is heard no
// better), so two of the prompt's ten words must be heard; silence, noise
// or another prompt hears none.
func TestEnglishRoundTrip(t *testing.T) {
	e := newEngine(t)
	rec, err := roundtrip.NewRecognizer(1)
	if err != nil {
		t.Fatalf("PocketSphinx (Debian pocketsphinx-en-us): %v", err)
	}
	defer rec.Close()
	want := []string{"thank", "you", "for", "calling", "please", "tell", "me", "your", "account", "number"}
	for _, rate := range []int{16000} {
		pcm := speakAll(t, e, tts.Request{Text: "Thank you for calling. Please tell me your account number.", Rate: rate})
		if secs := float64(len(pcm)) / float64(rate); secs < 1.5 || secs > 8 {
			t.Errorf("%d Hz: %.2f s of audio for a 10-word prompt", rate, secs)
		}
		got, err := roundtrip.Transcribe(rec, pcm, rate)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%d Hz: %q", rate, got)
		if h := roundtrip.Heard(got, want); h < 2 {
			t.Errorf("%d Hz: heard %q, want two of %v", rate, got, want)
		}
	}
}

// TestOtherLanguages: the voice follows the request's language; the same
// text read as Spanish and as German differs, and an unknown language is
// refused.
func TestOtherLanguages(t *testing.T) {
	e := newEngine(t)
	text := "Buenos días, gracias por llamar."
	es := speakAll(t, e, tts.Request{Text: text, Lang: "es", Rate: 16000})
	de := speakAll(t, e, tts.Request{Text: text, Lang: "de", Rate: 16000})
	if len(es) < 16000 || len(de) < 16000 {
		t.Fatalf("es %d, de %d samples: want over a second each", len(es), len(de))
	}
	if len(es) == len(de) {
		t.Errorf("Spanish and German readings have the same length %d: the language was ignored?", len(es))
	}
	err := e.Synthesize(context.Background(), tts.Request{Text: text, Lang: "xx-nowhere", Rate: 8000}, func([]int16) error { return nil })
	if !errors.Is(err, ErrUnknownVoice) {
		t.Errorf("unknown language: %v, want ErrUnknownVoice", err)
	}
	// A failed voice change leaves the engine usable.
	if n := len(speakAll(t, e, tts.Request{Text: "Hello again.", Rate: 8000})); n < 4000 {
		t.Errorf("after an unknown voice: %d samples", n)
	}
}

// TestCancelMidPrompt: cancelling during a long prompt stops the audio at
// once and returns the context's error.
func TestCancelMidPrompt(t *testing.T) {
	e := newEngine(t)
	text := ""
	for len(text) < 3000 {
		text += "Your payment has been received and your balance is now up to date. "
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	calls := 0
	err := e.Synthesize(ctx, tts.Request{Text: text, Rate: 8000}, func([]int16) error {
		calls++
		if calls == 3 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) || calls != 3 {
		t.Errorf("Synthesize = %v after %d chunks, want context.Canceled after 3", err, calls)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []Config{
		{DefaultVoice: "en us", WordsPerMinute: 165},
		{DefaultVoice: "en", WordsPerMinute: 20},
		{DefaultVoice: "en", WordsPerMinute: 165, MaxChunkChars: -1},
	} {
		if c.Validate() == nil {
			t.Errorf("Validate(%+v) = nil", c)
		}
	}
	if err := DefaultConfig().Validate(); err != nil {
		t.Error(err)
	}
}
