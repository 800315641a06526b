package whip

import (
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/earshot/earshot/media/ingest"
)

// Config holds the WHIP server settings. The zero value is not valid; start
// from DefaultConfig.
type Config struct {
	// Interfaces restricts ICE host candidates to these network interface
	// names (e.g. "eth0"); empty means all interfaces.
	Interfaces []string `json:"interfaces,omitempty"`
	// Addresses restricts ICE host candidates to these local addresses or
	// CIDR prefixes (e.g. "10.1.2.3", "10.1.0.0/16"); empty means any.
	Addresses []string `json:"addresses,omitempty"`
	// PublicIPs, if set, replace the host candidates' addresses in the
	// answer (a 1:1 NAT in front of the server).
	PublicIPs []string `json:"public_ips,omitempty"`
	// RemoteAddresses restricts the client candidates the server checks to
	// these addresses or CIDR prefixes; empty means any.
	RemoteAddresses []string `json:"remote_addresses,omitempty"`
	// UDPPortMin and UDPPortMax bound the UDP ports of ICE candidates; both
	// zero means any ephemeral port.
	UDPPortMin uint16 `json:"udp_port_min,omitempty"`
	UDPPortMax uint16 `json:"udp_port_max,omitempty"`
	// IncludeLoopback offers loopback candidates (tests, a client on the
	// same host).
	IncludeLoopback bool `json:"include_loopback,omitempty"`
	// MaxSessions bounds concurrent sessions; further offers get 503.
	MaxSessions int `json:"max_sessions"`
	// ConnectTimeout ends a session whose ICE/DTLS has not connected in
	// time; IdleTimeout ends one whose tracks have received nothing for
	// that long.
	ConnectTimeout time.Duration `json:"connect_timeout"`
	IdleTimeout    time.Duration `json:"idle_timeout"`
	// MaxPayloadBytes drops RTP packets with a larger payload.
	MaxPayloadBytes int `json:"max_payload_bytes"`
	// JitterPackets is how many early packets a track holds while waiting
	// for one overtaken on the network; packets in order are not delayed.
	// 0 turns reordering off (late packets are then dropped and counted).
	JitterPackets int `json:"jitter_packets"`
}

// DefaultConfig returns the defaults: all interfaces, any port, 64
// sessions.
func DefaultConfig() Config {
	return Config{
		MaxSessions:     64,
		ConnectTimeout:  30 * time.Second,
		IdleTimeout:     60 * time.Second,
		MaxPayloadBytes: 1200,
		JitterPackets:   3,
	}
}

// Validate reports the first invalid field.
func (c Config) Validate() error {
	if _, err := ingest.ParsePrefixes(c.Addresses); err != nil {
		return fmt.Errorf("whip: addresses: %w", err)
	}
	if _, err := ingest.ParsePrefixes(c.RemoteAddresses); err != nil {
		return fmt.Errorf("whip: remote_addresses: %w", err)
	}
	for _, ip := range c.PublicIPs {
		if net.ParseIP(ip) == nil {
			return fmt.Errorf("whip: public_ips: %q is not an IP address", ip)
		}
	}
	if (c.UDPPortMin == 0) != (c.UDPPortMax == 0) || c.UDPPortMin > c.UDPPortMax {
		return fmt.Errorf("whip: udp_port_min %d and udp_port_max %d must both be set, min <= max", c.UDPPortMin, c.UDPPortMax)
	}
	switch {
	case c.MaxSessions <= 0:
		return fmt.Errorf("whip: max_sessions must be positive, got %d", c.MaxSessions)
	case c.ConnectTimeout <= 0:
		return fmt.Errorf("whip: connect_timeout must be positive, got %s", c.ConnectTimeout)
	case c.IdleTimeout <= 0:
		return fmt.Errorf("whip: idle_timeout must be positive, got %s", c.IdleTimeout)
	case c.MaxPayloadBytes < 160:
		return fmt.Errorf("whip: max_payload_bytes must be at least 160, got %d", c.MaxPayloadBytes)
	case c.JitterPackets < 0 || c.JitterPackets > 50:
		return fmt.Errorf("whip: jitter_packets must be within 0..50, got %d", c.JitterPackets)
	}
	return nil
}

// ipFilter returns a filter keeping IPs inside one of ps; nil if ps is empty.
func ipFilter(ps []netip.Prefix) func(net.IP) bool {
	if len(ps) == 0 {
		return nil
	}
	return func(ip net.IP) bool {
		a, ok := netip.AddrFromSlice(ip)
		if !ok {
			return false
		}
		a = a.Unmap()
		for _, p := range ps {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
}
