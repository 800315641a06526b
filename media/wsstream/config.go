package wsstream

import (
	"fmt"
	"time"
)

// Config holds the WebSocket stream settings. Start from DefaultConfig.
type Config struct {
	// MaxStreams bounds concurrent streams; more get HTTP 503.
	MaxStreams int `json:"max_streams"`
	// MaxMessageBytes closes a stream (status 1009) that sends a larger
	// message. Twilio sends about 400 bytes per 20 ms; one second of
	// 16 kHz stereo PCM is 64000 bytes.
	MaxMessageBytes int64 `json:"max_message_bytes"`
	// IdleTimeout closes a stream (status 1008) that sends nothing for
	// that long.
	IdleTimeout time.Duration `json:"idle_timeout"`
	// MaxBadMessages closes a stream (status 1007) after that many invalid
	// messages.
	MaxBadMessages int `json:"max_bad_messages"`
	// OriginPatterns lists the browser origins allowed besides the request
	// host (telephony platforms send no Origin).
	OriginPatterns []string `json:"origin_patterns,omitempty"`
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{MaxStreams: 128, MaxMessageBytes: 128 << 10, IdleTimeout: 15 * time.Second, MaxBadMessages: 20}
}

// Validate reports the first invalid field.
func (c Config) Validate() error {
	switch {
	case c.MaxStreams <= 0:
		return fmt.Errorf("wsstream: max_streams must be positive, got %d", c.MaxStreams)
	case c.MaxMessageBytes < 1024:
		return fmt.Errorf("wsstream: max_message_bytes must be at least 1024, got %d", c.MaxMessageBytes)
	case c.IdleTimeout <= 0:
		return fmt.Errorf("wsstream: idle_timeout must be positive, got %s", c.IdleTimeout)
	case c.MaxBadMessages <= 0:
		return fmt.Errorf("wsstream: max_bad_messages must be positive, got %d", c.MaxBadMessages)
	}
	return nil
}
