package packaging

import (
	"encoding/json"
	"runtime/debug"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestNewSBOM(t *testing.T) {
	bi := &debug.BuildInfo{Deps: []*debug.Module{
		{Path: "go.etcd.io/bbolt", Version: "v1.4.0", Sum: "h1:TU77id3TnN/zKr7CO/uk+fBCwF2jGcMuw2B/FMAzYIk="},
		{Path: "example.com/old", Version: "v1.0.0", Replace: &debug.Module{Path: "example.com/fork", Version: "v1.0.1"}},
	}}
	s, err := NewSBOM(bi, "1.2.3", "libc6, libpocketsphinx3 (>= 5.0), adduser | passwd", time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.JSON()
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		BOMFormat, SpecVersion string
		Metadata               struct{ Timestamp string }
		Components             []struct {
			Name, Version, PURL string
			Hashes              []Hash
		}
		Dependencies []SBOMDepends
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got.BOMFormat != "CycloneDX" || got.SpecVersion != "1.5" || got.Metadata.Timestamp != "2026-12-06T12:00:00Z" {
		t.Errorf("header = %s %s %s", got.BOMFormat, got.SpecVersion, got.Metadata.Timestamp)
	}
	var purls []string
	for _, c := range got.Components {
		purls = append(purls, c.PURL)
	}
	want := []string{
		"pkg:golang/go.etcd.io/bbolt@v1.4.0",
		"pkg:golang/example.com/fork@v1.0.1", // the replacement is what is built in
		"pkg:deb/debian/libc6?distro=debian-12",
		"pkg:deb/debian/libpocketsphinx3?distro=debian-12",
		"pkg:deb/debian/adduser?distro=debian-12",
	}
	if diff := cmp.Diff(want, purls); diff != "" {
		t.Errorf("components (-want +got):\n%s", diff)
	}
	// h1:TU77... is base64 of these 32 bytes (python3 base64.b64decode).
	if h := got.Components[0].Hashes; len(h) != 1 || h[0].Alg != "SHA-256" ||
		h[0].Content != "4d4efb89ddd39cdff32abec23bfba4f9f042c05da319c32ec3607f14c0336089" {
		t.Errorf("bbolt hashes = %+v", h)
	}
	if len(got.Dependencies) != 1 || len(got.Dependencies[0].DependsOn) != len(want) {
		t.Errorf("dependencies = %+v", got.Dependencies)
	}
	if _, err := NewSBOM(nil, "1", "", time.Now()); err == nil {
		t.Error("NewSBOM without build information succeeded")
	}
}
