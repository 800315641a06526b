package sip

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"time"

	"github.com/earshot/earshot/media/ingest"
)

// Config holds the SIP server settings. The zero value is not valid; start
// from DefaultConfig.
type Config struct {
	// UDP and TCP are the SIP listen addresses (host:port); empty disables
	// the transport. At least one of UDP, TCP and TLS must be set.
	UDP string `json:"udp,omitempty" yaml:"udp"`
	TCP string `json:"tcp,omitempty" yaml:"tcp"`
	// TLS is the SIPS listen address; it needs TLSCert and TLSKey (PEM
	// files).
	TLS     string `json:"tls,omitempty" yaml:"tls"`
	TLSCert string `json:"tls_cert,omitempty" yaml:"tls_cert"`
	TLSKey  string `json:"tls_key,omitempty" yaml:"tls_key"`
	// MediaIP is the address RTP sockets bind to and the answer
	// advertises (c=); it must be a concrete address.
	MediaIP string `json:"media_ip" yaml:"media_ip"`
	// RTPPortMin and RTPPortMax bound the RTP ports (even ports for RTP,
	// the next odd port for RTCP).
	RTPPortMin int `json:"rtp_port_min" yaml:"rtp_port_min"`
	RTPPortMax int `json:"rtp_port_max" yaml:"rtp_port_max"`
	// AllowedSources lists the networks (CIDR prefixes or addresses)
	// allowed to send INVITEs and RTP; empty allows loopback only.
	AllowedSources []string `json:"allowed_sources,omitempty" yaml:"allowed_sources"`
	// DigestRealm and DigestUsers enable digest authentication of INVITEs
	// (user name to password); empty users disables it.
	DigestRealm string            `json:"digest_realm,omitempty" yaml:"digest_realm"`
	DigestUsers map[string]string `json:"digest_users,omitempty" yaml:"digest_users"`
	// AgentPatterns and CustomerPatterns are regular expressions matched
	// against a participant's address of record and name: the first that
	// matches decides the party (agent patterns first). Unmatched
	// participants are the customer when another one is the agent, and
	// otherwise follow stream order (customer, agent).
	AgentPatterns    []string `json:"agent_patterns,omitempty" yaml:"agent_patterns"`
	CustomerPatterns []string `json:"customer_patterns,omitempty" yaml:"customer_patterns"`
	// SingleParty is the party of a plain INVITE's one stream: mixed
	// (default), customer or agent.
	SingleParty string `json:"single_party,omitempty" yaml:"single_party"`
	// Headers maps SIP header names to engagement metadata keys, e.g.
	// {"X-Queue": "queue", "X-Agent": "agent"}; Meta.Fields carries them.
	Headers map[string]string `json:"headers,omitempty" yaml:"headers"`
	// MaxCalls bounds concurrent calls; further INVITEs get 503.
	MaxCalls int `json:"max_calls" yaml:"max_calls"`
	// MaxStreams bounds the audio streams of a call: an INVITE offering
	// more gets 488, and a re-INVITE's streams beyond it are rejected.
	MaxStreams int `json:"max_streams" yaml:"max_streams"`
	// RTPTimeout ends a call whose streams received no RTP for this long
	// (held streams excepted); the first packet may take SetupTimeout.
	RTPTimeout   time.Duration `json:"rtp_timeout" yaml:"rtp_timeout"`
	SetupTimeout time.Duration `json:"setup_timeout" yaml:"setup_timeout"`
	// HoldTimeout ends a call all of whose streams have been held (or
	// inactive from the start) for this long.
	HoldTimeout time.Duration `json:"hold_timeout" yaml:"hold_timeout"`
	// RTPSource says where a stream's RTP must come from: "sdp" (the
	// default) accepts only the address and port the offer names
	// (symmetric RTP); "latch" accepts the offer's address and latches,
	// once per offer, the port of the first valid packet from it (clients
	// whose RTP source port differs from the port they offer). Packets from
	// anywhere else are dropped and counted.
	RTPSource string `json:"rtp_source" yaml:"rtp_source"`
	// JitterPackets is the reorder buffer depth in packets; 0 disables
	// reordering (packets go straight to the party).
	JitterPackets int `json:"jitter_packets" yaml:"jitter_packets"`
	// MaxPayloadBytes drops RTP packets with a larger payload.
	MaxPayloadBytes int `json:"max_payload_bytes" yaml:"max_payload_bytes"`
	// MaxMessageBytes bounds a SIP message over TCP or TLS (headers and
	// body): a larger one gets 513 Message Too Large and its connection is
	// closed. At most 65535, the SIP stack's own bound.
	MaxMessageBytes int `json:"max_message_bytes" yaml:"max_message_bytes"`
	// TCPIdleTimeout closes a TCP or TLS connection that received nothing
	// for this long, unless a call it carried is still in progress.
	TCPIdleTimeout time.Duration `json:"tcp_idle_timeout" yaml:"tcp_idle_timeout"`
	// MaxTCPConnections bounds the open TCP and TLS connections, and
	// MaxTCPConnectionsPerSource those from one address; connections
	// beyond them, or from outside AllowedSources, are closed at once.
	MaxTCPConnections          int `json:"max_tcp_connections" yaml:"max_tcp_connections"`
	MaxTCPConnectionsPerSource int `json:"max_tcp_connections_per_source" yaml:"max_tcp_connections_per_source"`
	// Bots maps the user part of a Request-URI to the virtual agent that
	// answers calls to it (e.g. {"billing-bot": "billing"}): such a call is
	// a bot call (two-way audio, one stream) instead of a recording.
	Bots map[string]string `json:"bots,omitempty" yaml:"bots"`
}

// RTP source modes (Config.RTPSource).
const (
	RTPSourceSDP   = "sdp"
	RTPSourceLatch = "latch"
)

// DefaultConfig returns the defaults: SIP on UDP and TCP port 5060 of
// loopback, RTP on 127.0.0.1 ports 20000-20999, loopback sources only.
func DefaultConfig() Config {
	return Config{
		UDP: "127.0.0.1:5060", TCP: "127.0.0.1:5060",
		MediaIP: "127.0.0.1", RTPPortMin: 20000, RTPPortMax: 20999,
		DigestRealm: "earshot", SingleParty: "mixed",
		MaxCalls: 64, MaxStreams: 4, RTPTimeout: 30 * time.Second, SetupTimeout: 60 * time.Second,
		HoldTimeout: 30 * time.Minute, RTPSource: RTPSourceSDP,
		JitterPackets: 5, MaxPayloadBytes: 1500, MaxMessageBytes: 65535,
		TCPIdleTimeout: 3 * time.Minute, MaxTCPConnections: 1024, MaxTCPConnectionsPerSource: 32,
	}
}

// Validate reports the first invalid field.
func (c Config) Validate() error {
	if c.UDP == "" && c.TCP == "" && c.TLS == "" {
		return errors.New("sip: one of udp, tcp, tls must be set")
	}
	for _, a := range []struct{ name, v string }{{"udp", c.UDP}, {"tcp", c.TCP}, {"tls", c.TLS}} {
		if a.v == "" {
			continue
		}
		if _, err := netip.ParseAddrPort(a.v); err != nil {
			return fmt.Errorf("sip: %s: %q is not an ip:port address", a.name, a.v)
		}
	}
	if c.TLS != "" && (c.TLSCert == "" || c.TLSKey == "") {
		return errors.New("sip: tls needs tls_cert and tls_key")
	}
	if a, err := netip.ParseAddr(c.MediaIP); err != nil || a.IsUnspecified() {
		return fmt.Errorf("sip: media_ip: %q is not a concrete IP address", c.MediaIP)
	}
	if c.RTPPortMin < 1024 || c.RTPPortMax > 65534 || c.RTPPortMin > c.RTPPortMax || c.RTPPortMax-c.RTPPortMin < 3 {
		return fmt.Errorf("sip: rtp_port_min %d and rtp_port_max %d must be within 1024-65534, min at least 3 below max", c.RTPPortMin, c.RTPPortMax)
	}
	if _, err := ingest.ParsePrefixes(c.AllowedSources); err != nil {
		return fmt.Errorf("sip: allowed_sources: %w", err)
	}
	if len(c.DigestUsers) > 0 && c.DigestRealm == "" {
		return errors.New("sip: digest_users need a digest_realm")
	}
	for _, ps := range []struct {
		name string
		v    []string
	}{{"agent_patterns", c.AgentPatterns}, {"customer_patterns", c.CustomerPatterns}} {
		if _, err := compilePatterns(ps.v); err != nil {
			return fmt.Errorf("sip: %s: %w", ps.name, err)
		}
	}
	switch c.SingleParty {
	case "mixed", "customer", "agent":
	default:
		return fmt.Errorf("sip: single_party: %q is not one of mixed, customer, agent", c.SingleParty)
	}
	for h, k := range c.Headers {
		if h == "" || k == "" {
			return fmt.Errorf("sip: headers: empty header name or key (%q: %q)", h, k)
		}
	}
	for u, b := range c.Bots {
		if u == "" || b == "" || strings.ContainsAny(u, "@:;<> ") {
			return fmt.Errorf("sip: bots: %q: %q is not a Request-URI user and a bot ID", u, b)
		}
	}
	if c.RTPSource != RTPSourceSDP && c.RTPSource != RTPSourceLatch {
		return fmt.Errorf("sip: rtp_source: %q is not one of sdp, latch", c.RTPSource)
	}
	switch {
	case c.MaxCalls <= 0:
		return fmt.Errorf("sip: max_calls must be positive, got %d", c.MaxCalls)
	case c.MaxStreams < 1 || c.MaxStreams > 16:
		return fmt.Errorf("sip: max_streams must be within 1-16, got %d", c.MaxStreams)
	case c.HoldTimeout <= 0:
		return fmt.Errorf("sip: hold_timeout must be positive, got %s", c.HoldTimeout)
	case c.MaxMessageBytes < 4096 || c.MaxMessageBytes > 65535:
		return fmt.Errorf("sip: max_message_bytes must be within 4096-65535, got %d", c.MaxMessageBytes)
	case c.TCPIdleTimeout <= 0:
		return fmt.Errorf("sip: tcp_idle_timeout must be positive, got %s", c.TCPIdleTimeout)
	case c.MaxTCPConnections <= 0:
		return fmt.Errorf("sip: max_tcp_connections must be positive, got %d", c.MaxTCPConnections)
	case c.MaxTCPConnectionsPerSource <= 0 || c.MaxTCPConnectionsPerSource > c.MaxTCPConnections:
		return fmt.Errorf("sip: max_tcp_connections_per_source must be within 1-max_tcp_connections, got %d", c.MaxTCPConnectionsPerSource)
	case c.RTPTimeout <= 0:
		return fmt.Errorf("sip: rtp_timeout must be positive, got %s", c.RTPTimeout)
	case c.SetupTimeout <= 0:
		return fmt.Errorf("sip: setup_timeout must be positive, got %s", c.SetupTimeout)
	case c.JitterPackets < 0 || c.JitterPackets > 50:
		return fmt.Errorf("sip: jitter_packets must be within 0-50, got %d", c.JitterPackets)
	case c.MaxPayloadBytes < 160:
		return fmt.Errorf("sip: max_payload_bytes must be at least 160, got %d", c.MaxPayloadBytes)
	}
	return nil
}

func compilePatterns(ss []string) ([]*regexp.Regexp, error) {
	var out []*regexp.Regexp
	for _, s := range ss {
		re, err := regexp.Compile(s)
		if err != nil {
			return nil, fmt.Errorf("%q: %w", s, err)
		}
		out = append(out, re)
	}
	return out, nil
}
