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
	// 16 kHz stereo PCM is 64000 bytes. At most MaxMessageLimit.
	MaxMessageBytes int64 `json:"max_message_bytes"`
	// IdleTimeout closes a stream (status 1008) that sends no media (audio,
	// or the message that starts it) for that long.
	IdleTimeout time.Duration `json:"idle_timeout"`
	// MaxBadMessages closes a stream (status 1007) after that many invalid
	// messages.
	MaxBadMessages int `json:"max_bad_messages"`
	// WriteTimeout bounds one outbound message of a two-way (bot) stream:
	// a far end that does not take audio for that long is hung up on.
	WriteTimeout time.Duration `json:"write_timeout"`
	// OriginPatterns lists the browser origins allowed besides the request
	// host (telephony platforms send no Origin).
	OriginPatterns []string `json:"origin_patterns,omitempty"`
}

// MaxMessageLimit bounds max_message_bytes: a message is received whole
// before it is handled, and no telephony platform sends more than a second
// or so of audio in one.
const MaxMessageLimit = 4 << 20

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{MaxStreams: 128, MaxMessageBytes: 128 << 10, IdleTimeout: 15 * time.Second, MaxBadMessages: 20, WriteTimeout: 5 * time.Second}
}

// Validate reports the first invalid field.
func (c Config) Validate() error {
	switch {
	case c.MaxStreams <= 0:
		return fmt.Errorf("wsstream: max_streams must be positive, got %d", c.MaxStreams)
	case c.MaxMessageBytes < 1024 || c.MaxMessageBytes > MaxMessageLimit:
		return fmt.Errorf("wsstream: max_message_bytes must be within 1024-%d, got %d", MaxMessageLimit, c.MaxMessageBytes)
	case c.IdleTimeout <= 0:
		return fmt.Errorf("wsstream: idle_timeout must be positive, got %s", c.IdleTimeout)
	case c.MaxBadMessages <= 0:
		return fmt.Errorf("wsstream: max_bad_messages must be positive, got %d", c.MaxBadMessages)
	case c.WriteTimeout <= 0:
		return fmt.Errorf("wsstream: write_timeout must be positive, got %s", c.WriteTimeout)
	}
	return nil
}
