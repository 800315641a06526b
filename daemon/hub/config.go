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
	// MaxLivePerSource bounds the live engagements of each source (api,
	// whip, websocket, upload, sip), so that no one source takes every
	// slot. A source missing from the map gets DefaultLimit(MaxLive).
	MaxLivePerSource map[string]int
	// MaxLivePerHolder bounds the live engagements started by one holder
	// (an API token); 0 means DefaultLimit(MaxLive).
	MaxLivePerHolder int
	// ChatIdleTimeout ends a chat engagement with no message for this
	// long.
	ChatIdleTimeout time.Duration
	// EndedRetention is how long an ended engagement's events stay in
	// memory for readers resuming their streams; after it they read what
	// the store holds. It bounds the hub's memory to the engagements of
	// this period.
	EndedRetention time.Duration
	// AnalysisLanguage is the language the analyzers read: a chat message
	// in another language reaches them as its translation into this one,
	// when it has one. Empty means the original text.
	AnalysisLanguage string
}

// DefaultLimit is the per-source and per-holder limit that applies unless
// configured: three quarters of maxLive, at least 1.
func DefaultLimit(maxLive int) int { return max(1, maxLive*3/4) }

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{MaxLive: 32, MediaTimeout: 60 * time.Second, EventBuffer: 4096, ChatIdleTimeout: 30 * time.Minute, EndedRetention: 10 * time.Minute}
}

// sourceLimit is the limit of source.
func (c Config) sourceLimit(source string) int {
	if n, ok := c.MaxLivePerSource[source]; ok {
		return n
	}
	return DefaultLimit(c.MaxLive)
}

// holderLimit is the limit of one holder.
func (c Config) holderLimit() int {
	if c.MaxLivePerHolder > 0 {
		return c.MaxLivePerHolder
	}
	return DefaultLimit(c.MaxLive)
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
	case c.MaxLivePerHolder < 0 || c.MaxLivePerHolder > c.MaxLive:
		return fmt.Errorf("hub: max_live_per_token must be between 1 and max_live (%d), got %d", c.MaxLive, c.MaxLivePerHolder)
	case c.ChatIdleTimeout <= 0:
		return fmt.Errorf("hub: chat_idle_timeout must be positive, got %s", c.ChatIdleTimeout)
	case c.EndedRetention <= 0:
		return fmt.Errorf("hub: ended_retention must be positive, got %s", c.EndedRetention)
	}
	for src, n := range c.MaxLivePerSource {
		if n < 1 || n > c.MaxLive {
			return fmt.Errorf("hub: max_live_per_source.%s must be between 1 and max_live (%d), got %d", src, c.MaxLive, n)
		}
	}
	return nil
}
