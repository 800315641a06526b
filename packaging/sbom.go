package packaging

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"runtime/debug"
	"strings"
	"time"
)

// SBOM is a CycloneDX 1.5 bill of materials of one build: the Go modules
// compiled into the binary (from its build information, with their go.sum
// hashes) and the Debian packages the package depends on.
type SBOM struct {
	BOMFormat    string        `json:"bomFormat"`
	SpecVersion  string        `json:"specVersion"`
	SerialNumber string        `json:"serialNumber,omitempty"`
	Version      int           `json:"version"`
	Metadata     SBOMMetadata  `json:"metadata"`
	Components   []Component   `json:"components"`
	Dependencies []SBOMDepends `json:"dependencies,omitempty"`
}

// SBOMMetadata names the product the bill describes.
type SBOMMetadata struct {
	Timestamp string    `json:"timestamp"`
	Component Component `json:"component"`
}

// Component is one module or package.
type Component struct {
	Type    string `json:"type"`
	BOMRef  string `json:"bom-ref"`
	Name    string `json:"name"`
	Version string `json:"version,omitempty"`
	PURL    string `json:"purl,omitempty"`
	Hashes  []Hash `json:"hashes,omitempty"`
	Scope   string `json:"scope,omitempty"`
}

// Hash is a component's digest.
type Hash struct {
	Alg     string `json:"alg"`
	Content string `json:"content"`
}

// SBOMDepends lists what one component depends on.
type SBOMDepends struct {
	Ref       string   `json:"ref"`
	DependsOn []string `json:"dependsOn"`
}

// NewSBOM builds the bill of materials of the binary whose build
// information is bi, packaged as Debian version version with the control
// file's Depends field depends ("libc6, libpocketsphinx3, ...").
func NewSBOM(bi *debug.BuildInfo, version, depends string, now time.Time) (*SBOM, error) {
	if bi == nil {
		return nil, fmt.Errorf("packaging: sbom: the binary has no build information")
	}
	main := Component{Type: "application", Name: "earshot", Version: version,
		BOMRef: "pkg:deb/earshot@" + version, PURL: "pkg:deb/earshot@" + version}
	s := &SBOM{BOMFormat: "CycloneDX", SpecVersion: "1.5", Version: 1,
		Metadata: SBOMMetadata{Timestamp: now.UTC().Format(time.RFC3339), Component: main}}
	var refs []string
	add := func(c Component) {
		s.Components = append(s.Components, c)
		refs = append(refs, c.BOMRef)
	}
	for _, d := range bi.Deps {
		m := d
		if d.Replace != nil {
			m = d.Replace
		}
		purl := "pkg:golang/" + m.Path + "@" + m.Version
		c := Component{Type: "library", BOMRef: purl, Name: m.Path, Version: m.Version, PURL: purl, Scope: "required"}
		if h, ok := strings.CutPrefix(m.Sum, "h1:"); ok {
			// go.sum's h1: is base64 SHA-256 of the module's file list;
			// CycloneDX wants hex.
			if x, err := base64ToHex(h); err == nil {
				c.Hashes = []Hash{{Alg: "SHA-256", Content: x}}
			}
		}
		add(c)
	}
	for _, dep := range strings.Split(depends, ",") {
		name := strings.TrimSpace(dep)
		// "pkg (>= 1.0)" or "a | b": the first name is the package.
		name = strings.Fields(strings.SplitN(name, "|", 2)[0] + " ")[0]
		if name == "" {
			continue
		}
		purl := "pkg:deb/debian/" + name + "?distro=debian-12"
		add(Component{Type: "library", BOMRef: purl, Name: name, PURL: purl, Scope: "required"})
	}
	s.Dependencies = []SBOMDepends{{Ref: main.BOMRef, DependsOn: refs}}
	return s, nil
}

// JSON returns the bill indented, as CycloneDX tools read it.
func (s *SBOM) JSON() ([]byte, error) {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("packaging: sbom: %w", err)
	}
	return append(b, '\n'), nil
}

func base64ToHex(s string) (string, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}
