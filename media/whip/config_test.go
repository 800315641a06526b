package whip

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
		{"restricted", func(c *Config) {
			c.Interfaces, c.Addresses, c.RemoteAddresses = []string{"eth0"}, []string{"10.1.2.3", "fd00::/64"}, []string{"10.0.0.0/8"}
			c.PublicIPs, c.UDPPortMin, c.UDPPortMax = []string{"203.0.113.7"}, 20000, 20100
		}, ""},
		{"bad address", func(c *Config) { c.Addresses = []string{"10.1.2"} }, "addresses"},
		{"bad remote prefix", func(c *Config) { c.RemoteAddresses = []string{"10.0.0.0/99"} }, "remote_addresses"},
		{"bad public ip", func(c *Config) { c.PublicIPs = []string{"example.com"} }, "public_ips"},
		{"half a port range", func(c *Config) { c.UDPPortMin = 20000 }, "udp_port_min"},
		{"inverted port range", func(c *Config) { c.UDPPortMin, c.UDPPortMax = 30000, 20000 }, "udp_port_min"},
		{"no sessions", func(c *Config) { c.MaxSessions = 0 }, "max_sessions"},
		{"no connect timeout", func(c *Config) { c.ConnectTimeout = 0 }, "connect_timeout"},
		{"no idle timeout", func(c *Config) { c.IdleTimeout = -1 }, "idle_timeout"},
		{"tiny payload limit", func(c *Config) { c.MaxPayloadBytes = 100 }, "max_payload_bytes"},
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
