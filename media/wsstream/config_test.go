package wsstream

import (
	"strings"
	"testing"
)

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		mod  func(*Config)
		err  string // "" = valid
	}{
		{"defaults", func(*Config) {}, ""},
		{"no streams", func(c *Config) { c.MaxStreams = 0 }, "max_streams"},
		{"tiny messages", func(c *Config) { c.MaxMessageBytes = 10 }, "max_message_bytes"},
		{"largest messages", func(c *Config) { c.MaxMessageBytes = MaxMessageLimit }, ""},
		{"huge messages", func(c *Config) { c.MaxMessageBytes = MaxMessageLimit + 1 }, "max_message_bytes"},
		{"no idle timeout", func(c *Config) { c.IdleTimeout = 0 }, "idle_timeout"},
		{"no bad messages", func(c *Config) { c.MaxBadMessages = 0 }, "max_bad_messages"},
		{"no write timeout", func(c *Config) { c.WriteTimeout = 0 }, "write_timeout"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.mod(&c)
			err := c.Validate()
			switch {
			case tc.err == "" && err != nil:
				t.Errorf("Validate() = %v, want nil", err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Errorf("Validate() = %v, want an error naming %q", err, tc.err)
			}
		})
	}
}
