// Package stt defines the speech-to-text engine interface the media pipeline
// drives, and the result types. Engines live in sub-packages: pocketsphinx
// (CMU PocketSphinx through cgo, streaming) and whisperhttp (a local
// Whisper-class HTTP server, one utterance at a time).
package stt

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Rate is the sample rate (Hz) of the mono 16-bit PCM every engine receives.
const Rate = 16000

// ErrBusy is returned by Engine.NewStream when the engine has no free
// recogniser (all pooled decoders are in use). The caller refuses the new
// engagement (HTTP 503 / SIP 486) and counts it.
var ErrBusy = errors.New("stt: no recogniser available")

// Word is one recognised word.
type Word struct {
	Text       string  `json:"text"`
	StartMs    int64   `json:"start_ms"`
	EndMs      int64   `json:"end_ms"`
	Confidence float64 `json:"confidence"` // 0..1
}

// Result is one hypothesis for an utterance. Times are milliseconds of audio
// written to the Stream since it was created (the pipeline maps them to
// engagement time).
type Result struct {
	Text    string
	Words   []Word // set on final results when the engine reports words
	StartMs int64
	EndMs   int64
	Final   bool
	// ID names a final result that a later revision may replace (0: it
	// will not be revised). Unique within a stream.
	ID uint64
	// Revises, on a result delivered through Reviser.Revisions, is the ID
	// of the final result it replaces.
	Revises uint64
}

// StreamOptions tunes a stream to its source.
type StreamOptions struct {
	// Narrowband is set when the source was 8 kHz telephone audio
	// (G.711, 8 kHz WAV) upsampled to 16 kHz; engines may pick an acoustic
	// set-up measured for it.
	Narrowband bool
	// Profile names the language-model profile of the stream (a queue's
	// domain language model, see media/stt/lm); "" is the general model.
	// Engines without profiles ignore it.
	Profile string
	// Engine, when set, names the engine a router uses for the stream
	// instead of the profile's (a voice bot's call recognised with a
	// faster search). Single engines ignore it.
	Engine string
}

// Mode is what a stream listens for.
type Mode string

// Modes.
const (
	// ModeSpeech is free speech (the default).
	ModeSpeech Mode = "speech"
	// ModeDigits expects spoken digits (card, account and phone numbers:
	// "four two oh seven", "double five").
	ModeDigits Mode = "digits"
	// ModeLetters expects spelled letters and digits (postcodes,
	// reference codes: "b as in bravo").
	ModeLetters Mode = "letters"
)

// ParseMode checks a mode name.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case ModeSpeech, ModeDigits, ModeLetters:
		return m, nil
	}
	return "", fmt.Errorf("stt: mode %q is not one of speech, digits, letters", s)
}

// ModeSetter is implemented by streams that can switch what they listen
// for: a virtual agent's step that asks for a card number calls
// SetMode(ModeDigits), and SetMode(ModeSpeech) after. The change applies
// from the next utterance. It is called from the stream's own goroutine
// (the pipeline's), never concurrently with Write.
type ModeSetter interface {
	SetMode(Mode) error
}

// Reviser is implemented by streams whose final results may later be
// replaced by a better transcript of the same utterance (two-pass
// recognition: a second recogniser re-recognises each utterance after it
// ends). Revisions are delivered on the channel, each with Revises set
// to the ID of the final it replaces and times on the stream's clock.
// After the last EndUtterance, Drain stops accepting work; the channel is
// closed once every pending revision was delivered or given up. Close
// abandons pending revisions and closes the channel.
type Reviser interface {
	Revisions() <-chan Result
	Drain()
}

// Engine creates recognisers. Implementations are safe for concurrent use.
type Engine interface {
	// NewStream returns a recogniser for one party. It returns ErrBusy
	// (possibly wrapped) when no capacity is free; it does not wait for
	// capacity beyond ctx.
	NewStream(ctx context.Context, opts StreamOptions) (Stream, error)
	// Name identifies the engine in metrics and logs.
	Name() string
}

// CPUReporter is implemented by streams that can report the CPU time
// their recogniser spent (thread CPU clock), which the pipeline uses for
// the CPU real-time factor.
type CPUReporter interface {
	CPUTime() time.Duration
}

// Stream recognises one party's audio. It is used by one goroutine at a
// time. The caller owns it and must Close it, which returns pooled
// resources to the engine.
type Stream interface {
	// Write feeds 16 kHz mono PCM that the pipeline's voice activity
	// detector classed as (possibly) speech. It returns the partial and
	// final results that became available; engines that detect utterance
	// ends themselves may return finals here.
	Write(pcm []int16) ([]Result, error)
	// EndUtterance marks the end of a speech region (or of the audio) and
	// returns the final result(s) of the pending utterance, if any.
	EndUtterance() ([]Result, error)
	// Close releases the stream. It is safe to call more than once.
	Close() error
}
