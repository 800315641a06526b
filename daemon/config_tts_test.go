package daemon

import (
	"strings"
	"testing"
	"time"
)

func TestConfigTTS(t *testing.T) {
	cfg := DefaultConfig(false)
	err := ParseConfig([]byte(`
tts:
  front:
    voices:
      en: {engine: flite, voice: cmu_us_rms}
      fr: {engine: tts-http, voice: ff_siwis}
    stall_timeout: 2s
    bots:
      billing:
        lexicon: {IBAN: eye ban}
  http:
    url: http://127.0.0.1:8880
    model: kokoro
    response_format: wav
    pcm_rate: 24000
    first_byte_timeout: 3s
    stall_timeout: 2s
    request_timeout: 30s
    max_in_flight: 4
`), &cfg)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.TTS.Front.StallTimeout != 2*time.Second || cfg.TTS.Front.Voices["fr"].Engine != "tts-http" || cfg.TTS.HTTP.Model != "kokoro" || cfg.TTS.Front.Bots["billing"].Lexicon["IBAN"] != "eye ban" {
		t.Fatalf("%+v", cfg.TTS)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
}

// TestConfigTTSRefusals: a neural voice without a server, or a lexicon
// entry without a spoken form, is refused at start with the field named.
func TestConfigTTSRefusals(t *testing.T) {
	for _, y := range []string{
		"tts:\n  front:\n    voices:\n      fr: {engine: tts-http}\n",
		"tts:\n  front:\n    bots:\n      b:\n        lexicon: {IBAN: \"\"}\n",
		"tts:\n  flite:\n    default_voice: cmu_us_nobody\n",
	} {
		cfg := DefaultConfig(false)
		err := ParseConfig([]byte(y), &cfg)
		if err == nil {
			err = cfg.Validate()
		}
		if err == nil || !strings.HasPrefix(err.Error(), "tts: ") {
			t.Errorf("%q: Validate = %v, want a tts: error", y, err)
		}
	}
}
