package translate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Engine translates text in one direction. Implementations are safe for
// concurrent use. Translate receives text that the Translator has already
// cleaned (valid UTF-8, no control characters but line breaks and tabs,
// glossary terms replaced by placeholders) and returns the translation; an
// error means no translation, and the Translator falls back.
type Engine interface {
	// Name is the engine's name in metrics and results: "apertium",
	// "ollama", "libretranslate".
	Name() string
	// Local reports whether the engine runs on the site's own machines, so
	// that it may serve when the site allows local models only.
	Local() bool
	// Pairs lists the directions the engine translates directly.
	Pairs() []Pair
	Translate(ctx context.Context, p Pair, text string) (string, error)
}

// Errors of engines and of the Translator.
var (
	// ErrUnsupportedPair: the engine has no such direction.
	ErrUnsupportedPair = errors.New("translate: unsupported language pair")
	// ErrEngineFailed: the engine failed on this message after its retry.
	ErrEngineFailed = errors.New("translate: engine failed")
)

func parsePair(s string) (Pair, error) {
	from, to, ok := strings.Cut(s, "-")
	if !ok {
		return Pair{}, fmt.Errorf("pair %q: want from-to, such as es-en", s)
	}
	f, err := ParseLang(from)
	if err != nil {
		return Pair{}, err
	}
	t, err := ParseLang(to)
	if err != nil {
		return Pair{}, err
	}
	if f == t {
		return Pair{}, fmt.Errorf("pair %q: both sides are %s", s, f)
	}
	return Pair{f, t}, nil
}

// Duration is a time.Duration written as a string ("10s") in JSON.
type Duration time.Duration

func (d Duration) String() string { return time.Duration(d).String() }

// MarshalJSON writes d as a string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalJSON reads a string such as "10s".
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration: want a string such as \"10s\": %w", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration: %w", err)
	}
	*d = Duration(v)
	return nil
}
