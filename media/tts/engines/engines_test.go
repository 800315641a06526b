package engines

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/earshot/earshot/media/tts"
)

func TestNewSpeaks(t *testing.T) {
	f, err := New(DefaultConfig(), nil, prometheus.NewRegistry())
	if err != nil {
		t.Fatalf("New (Debian libflite1, libespeak-ng1): %v", err)
	}
	for _, lang := range []string{"en", "es"} {
		n := 0
		if err := f.Speak(context.Background(), tts.Prompt{Text: "Hola. Hello.", Lang: lang, Rate: 8000}, func(c []int16) error {
			n += len(c)
			return nil
		}); err != nil || n < 4000 {
			t.Errorf("%s: %v, %d samples", lang, err, n)
		}
	}
}

func TestValidate(t *testing.T) {
	c := DefaultConfig()
	c.Front.Voices["fr"] = tts.Voice{Engine: tts.EngineHTTP, Voice: "ff_siwis"}
	if c.Validate() == nil {
		t.Error("a tts-http voice without a server was accepted")
	}
	c = DefaultConfig()
	c.Flite.DefaultVoice = "cmu_us_nobody"
	if c.Validate() == nil {
		t.Error("an unknown Flite voice was accepted")
	}
}
