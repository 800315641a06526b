package hub

import (
	"fmt"
	"time"
)

// Config bounds the live engagements the hub holds.
type Config struct {
	// MaxLive is the most live engagements at once; Start refuses more
	// with ErrBusy and counts the refusal.
	MaxLive int
	// MediaTimeout ends a voice engagement whose media stopped for this
	// long.
	MediaTimeout time.Duration
	// EventBuffer is how many events per engagement are kept for readers
	// resuming with Last-Event-ID.
	EventBuffer int
	// AnalysisLanguage is the language the analyzers read: a chat message
	// in another language reaches them as its translation into this one,
	// when it has one. Empty means the original text.
	AnalysisLanguage string
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{MaxLive: 32, MediaTimeout: 60 * time.Second, EventBuffer: 4096}
}

// Validate reports the first invalid field.
func (c Config) Validate() error {
	switch {
	case c.MaxLive <= 0:
		return fmt.Errorf("hub: max_live must be positive, got %d", c.MaxLive)
	case c.MediaTimeout <= 0:
		return fmt.Errorf("hub: media_timeout must be positive, got %s", c.MediaTimeout)
	case c.EventBuffer < 16:
		return fmt.Errorf("hub: event_buffer must be at least 16, got %d", c.EventBuffer)
	}
	return nil
}
