package sdk

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/hashicorp/go-plugin"
)

// ProtocolVersion is the go-plugin wire protocol version this SDK serves.
// The host serves versions N and N-1 through VersionedPlugins once an N-1
// exists.
const ProtocolVersion = 1

// PluginName is the name under which the Earshot gRPC plugin is dispensed.
const PluginName = "earshot"

// apiVersion is the semver API version of this SDK, reported by every
// plugin in its Info reply. It is a variable only so that tests can build a
// plugin that claims another version (-ldflags -X).
var apiVersion = "1.1.0"

// APIVersion returns the semver API version of this SDK.
func APIVersion() string { return apiVersion }

// Handshake is the go-plugin handshake shared by the host and every plugin.
// The magic cookie only stops a plugin binary from being run by hand by
// mistake; it is not a security feature (AutoMTLS and checksums are).
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  ProtocolVersion,
	MagicCookieKey:   "EARSHOT_PLUGIN",
	MagicCookieValue: "6f1c2d0e-earshot-plugin-v1",
}

// Semver is a parsed MAJOR.MINOR.PATCH version.
type Semver struct{ Major, Minor, Patch int }

// ParseSemver parses "MAJOR.MINOR.PATCH" (a leading "v" and a
// pre-release or build suffix are accepted and ignored).
func ParseSemver(s string) (Semver, error) {
	t := strings.TrimPrefix(s, "v")
	if i := strings.IndexAny(t, "-+"); i >= 0 {
		t = t[:i]
	}
	parts := strings.Split(t, ".")
	if len(parts) != 3 {
		return Semver{}, fmt.Errorf("sdk: version %q is not MAJOR.MINOR.PATCH", s)
	}
	var n [3]int
	for i, p := range parts {
		v, err := strconv.Atoi(p)
		if err != nil || v < 0 {
			return Semver{}, fmt.Errorf("sdk: version %q: part %q is not a non-negative number", s, p)
		}
		n[i] = v
	}
	return Semver{n[0], n[1], n[2]}, nil
}

func (v Semver) String() string { return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch) }

// CheckAPIVersion reports whether a host speaking API version host can use
// a plugin built against API version plugin: the majors must be equal and
// the plugin's minor must not be newer than the host's (a newer minor may
// rely on calls the host does not make). The error says which side to
// upgrade.
func CheckAPIVersion(host, plugin string) error {
	h, err := ParseSemver(host)
	if err != nil {
		return err
	}
	p, err := ParseSemver(plugin)
	if err != nil {
		return fmt.Errorf("sdk: plugin api version: %w", err)
	}
	switch {
	case p.Major != h.Major:
		return fmt.Errorf("sdk: plugin speaks API %s, the host speaks API %s: major versions differ, rebuild the plugin against SDK v%d.x", p, h, h.Major)
	case p.Minor > h.Minor:
		return fmt.Errorf("sdk: plugin speaks API %s, newer than the host's API %s: upgrade Earshot or rebuild the plugin against SDK %d.%d.x", p, h, h.Major, h.Minor)
	}
	return nil
}
