package sdk

import (
	"strings"
	"testing"
)

func TestParseSemver(t *testing.T) {
	tests := []struct {
		in      string
		want    Semver
		wantErr string
	}{
		{in: "1.2.3", want: Semver{1, 2, 3}},
		{in: "v0.10.0", want: Semver{0, 10, 0}},
		{in: "2.0.1-rc.1+build5", want: Semver{2, 0, 1}},
		{in: "1.2", wantErr: "not MAJOR.MINOR.PATCH"},
		{in: "1.x.0", wantErr: `part "x"`},
		{in: "1.2.3x", wantErr: `part "3x"`},
		{in: "", wantErr: "not MAJOR.MINOR.PATCH"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseSemver(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseSemver(%q) error = %v, want containing %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseSemver(%q) = %v, %v, want %v", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestCheckAPIVersion(t *testing.T) {
	tests := []struct {
		host, plugin string
		wantErr      string
	}{
		{host: "1.0.0", plugin: "1.0.0"},
		{host: "1.3.0", plugin: "1.2.9"},
		{host: "1.0.0", plugin: "1.0.7"},
		{host: "1.0.0", plugin: "2.0.0", wantErr: "major versions differ"},
		{host: "2.0.0", plugin: "1.4.0", wantErr: "major versions differ"},
		{host: "1.1.0", plugin: "1.2.0", wantErr: "upgrade Earshot"},
		{host: "1.0.0", plugin: "banana", wantErr: "plugin api version"},
	}
	for _, tt := range tests {
		t.Run(tt.host+"/"+tt.plugin, func(t *testing.T) {
			err := CheckAPIVersion(tt.host, tt.plugin)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("CheckAPIVersion(%q, %q) = %v, want nil", tt.host, tt.plugin, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("CheckAPIVersion(%q, %q) = %v, want containing %q", tt.host, tt.plugin, err, tt.wantErr)
			}
		})
	}
}

func FuzzParseSemver(f *testing.F) {
	for _, s := range []string{"1.2.3", "v0.1.0-rc", "1..2", "", "9999999999999999999.0.0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseSemver(s)
		if err != nil {
			return
		}
		back, err := ParseSemver(v.String())
		if err != nil || back != v {
			t.Fatalf("ParseSemver(%q) = %v, but its String %q parses to %v, %v", s, v, v.String(), back, err)
		}
	})
}
