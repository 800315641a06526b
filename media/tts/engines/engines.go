// Package engines builds the text-to-speech front with every engine the
// configuration asks for: the one constructor the daemon calls, from the
// one configuration section it reads (tts: in earshot.yaml).
package engines

import (
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/earshot/earshot/media/tts"
	"github.com/earshot/earshot/media/tts/espeak"
	"github.com/earshot/earshot/media/tts/flite"
	"github.com/earshot/earshot/media/tts/ttshttp"
)

// Config is the text-to-speech configuration.
type Config struct {
	// Front chooses voices per language and bot, and bounds prompts and
	// the prompt cache (see tts.Config).
	Front tts.Config `json:"front" yaml:"front"`
	// Flite and Espeak configure the built-in engines.
	Flite  flite.Config  `json:"flite" yaml:"flite"`
	Espeak espeak.Config `json:"espeak_ng" yaml:"espeak_ng"`
	// HTTP is the site's neural speech server, if any (voices with
	// engine tts-http need it).
	HTTP *ttshttp.Config `json:"http,omitempty" yaml:"http,omitempty"`
}

// DefaultConfig returns the defaults: Flite for English, eSpeak NG for
// other languages, no neural server.
func DefaultConfig() Config {
	return Config{Front: tts.DefaultConfig(), Flite: flite.DefaultConfig(), Espeak: espeak.DefaultConfig()}
}

// Validate checks the configuration.
func (c Config) Validate() error {
	if err := c.Front.Validate(); err != nil {
		return err
	}
	if err := c.Flite.Validate(); err != nil {
		return fmt.Errorf("tts: %w", err)
	}
	if err := c.Espeak.Validate(); err != nil {
		return fmt.Errorf("tts: %w", err)
	}
	if c.HTTP != nil {
		if err := c.HTTP.Validate(); err != nil {
			return fmt.Errorf("tts: %w", err)
		}
	} else if c.uses(tts.EngineHTTP) {
		return fmt.Errorf("tts: a voice uses %s but no http server is configured", tts.EngineHTTP)
	}
	return nil
}

func (c Config) uses(engine string) bool {
	if c.Front.OtherLanguages == engine {
		return true
	}
	for _, v := range c.Front.Voices {
		if v.Engine == engine {
			return true
		}
	}
	for _, b := range c.Front.Bots {
		for _, v := range b.Voices {
			if v.Engine == engine {
				return true
			}
		}
	}
	return false
}

// New builds the engines and the front.
func New(cfg Config, logger *slog.Logger, reg prometheus.Registerer) (*tts.Front, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	fe, err := flite.New(cfg.Flite, logger)
	if err != nil {
		return nil, err
	}
	ee, err := espeak.New(cfg.Espeak, logger)
	if err != nil {
		return nil, err
	}
	es := []tts.Engine{fe, ee}
	if cfg.HTTP != nil {
		he, err := ttshttp.New(*cfg.HTTP, logger, nil)
		if err != nil {
			return nil, err
		}
		es = append(es, he)
	}
	return tts.New(cfg.Front, logger, reg, es...)
}
