package plugins

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/go-hclog"

	"github.com/earshot/earshot/plugins/sdk"
)

func TestParseManifest(t *testing.T) {
	sum := strings.Repeat("0f", 32)
	tests := []struct {
		name    string
		in      string
		want    Manifest
		wantErr string
	}{
		{name: "full", in: `{"name":"crm-acme","version":"1.2.3","executable":"crm","kinds":["info","sink"],"scopes":["customer_ref"],"sha256":"` + sum + `"}`,
			want: Manifest{Name: "crm-acme", Version: "1.2.3", Executable: "crm", Kinds: []sdk.Kind{"info", "sink"}, Scopes: []sdk.Scope{"customer_ref"}, SHA256: sum}},
		{name: "local model", in: `{"name":"llm","version":"0.1.0","executable":"llm","kinds":["model"],"runs_locally":true}`,
			want: Manifest{Name: "llm", Version: "0.1.0", Executable: "llm", Kinds: []sdk.Kind{"model"}, RunsLocally: true}},
		{name: "unknown field", in: `{"name":"a","version":"1.0.0","executable":"a","kinds":["info"],"scope":["x"]}`, wantErr: `unknown field "scope"`},
		{name: "bad name", in: `{"name":"../etc","version":"1.0.0","executable":"a","kinds":["info"]}`, wantErr: "name"},
		{name: "upper-case name", in: `{"name":"CRM","version":"1.0.0","executable":"a","kinds":["info"]}`, wantErr: "name"},
		{name: "bad version", in: `{"name":"a","version":"latest","executable":"a","kinds":["info"]}`, wantErr: "version"},
		{name: "executable with a path", in: `{"name":"a","version":"1.0.0","executable":"../../bin/sh","kinds":["info"]}`, wantErr: "executable"},
		{name: "executable is the manifest", in: `{"name":"a","version":"1.0.0","executable":"manifest.json","kinds":["info"]}`, wantErr: "executable"},
		{name: "no kinds", in: `{"name":"a","version":"1.0.0","executable":"a"}`, wantErr: "kinds is empty"},
		{name: "unknown kind", in: `{"name":"a","version":"1.0.0","executable":"a","kinds":["crm"]}`, wantErr: `unknown kind "crm"`},
		{name: "unknown scope", in: `{"name":"a","version":"1.0.0","executable":"a","kinds":["info"],"scopes":["email"]}`, wantErr: `unknown scope "email"`},
		{name: "runs_locally without model", in: `{"name":"a","version":"1.0.0","executable":"a","kinds":["info"],"runs_locally":true}`, wantErr: "runs_locally"},
		{name: "short checksum", in: `{"name":"a","version":"1.0.0","executable":"a","kinds":["info"],"sha256":"abcd"}`, wantErr: "sha256"},
		{name: "trailing data", in: `{"name":"a","version":"1.0.0","executable":"a","kinds":["info"]} {}`, wantErr: "trailing"},
		{name: "not json", in: `name: a`, wantErr: "invalid manifest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseManifest([]byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrManifest) {
					t.Fatalf("ParseManifest(%s) error = %v, want ErrManifest containing %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseManifest(%s) error = %v", tt.in, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseManifest (-want +got):\n%s", diff)
			}
		})
	}
}

func FuzzParseManifest(f *testing.F) {
	f.Add([]byte(`{"name":"crm-acme","version":"1.2.3","executable":"crm","kinds":["info"],"scopes":["customer_ref"]}`))
	f.Add([]byte(`{"name":"a","version":"1.0.0","executable":"../x","kinds":["model"],"runs_locally":true}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseManifest(b)
		if err != nil {
			return
		}
		// Whatever parses must be safe to use as a path inside the plugin
		// directory.
		if strings.ContainsAny(m.Name+m.Executable, `/\`) || m.Executable == ".." || m.Executable == "." {
			t.Fatalf("ParseManifest accepted unsafe paths: %+v", m)
		}
	})
}

func TestMinimise(t *testing.T) {
	e := fullEngagement
	tests := []struct {
		name       string
		requested  []sdk.Scope
		approved   []sdk.Scope
		want       sdk.Engagement
		wantFields []string
	}{
		{name: "nothing granted", requested: sdk.Scopes, approved: nil,
			want: sdk.Engagement{EngagementID: "eng-1", Channel: "voice"}},
		{name: "approved but not requested", requested: nil, approved: sdk.Scopes,
			want: sdk.Engagement{EngagementID: "eng-1", Channel: "voice"}},
		{name: "intersection", requested: []sdk.Scope{sdk.ScopeCustomerRef, sdk.ScopeTranscript}, approved: []sdk.Scope{sdk.ScopeTranscript, sdk.ScopeSummary},
			want: sdk.Engagement{EngagementID: "eng-1", Channel: "voice", Transcript: e.Transcript}, wantFields: []string{"transcript"}},
		{name: "all", requested: sdk.Scopes, approved: sdk.Scopes, want: e,
			wantFields: []string{"customer_ref", "intents", "transcript", "summary", "results"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, fields := minimise(e, granted(tt.requested, tt.approved))
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("engagement (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantFields, fields); diff != "" {
				t.Errorf("fields (-want +got):\n%s", diff)
			}
		})
	}
	// Empty fields are not reported as handed over.
	_, fields := minimise(sdk.Engagement{EngagementID: "x"}, sdk.Scopes)
	if len(fields) != 0 {
		t.Errorf("fields for an empty engagement = %v, want none", fields)
	}
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("DefaultConfig().Validate() = %v", err)
	}
	tests := []struct {
		name    string
		mod     func(*Config)
		wantErr string
	}{
		{"dir", func(c *Config) { c.Dir = "" }, "dir"},
		{"info_timeout", func(c *Config) { c.InfoTimeout = 0 }, "info_timeout"},
		{"call_timeout", func(c *Config) { c.CallTimeout = -time.Second }, "call_timeout"},
		{"start_timeout", func(c *Config) { c.StartTimeout = 0 }, "start_timeout"},
		{"max_in_flight", func(c *Config) { c.MaxInFlight = 0 }, "max_in_flight"},
		{"backoff order", func(c *Config) { c.RestartBackoffMax = c.RestartBackoffMin / 2 }, "restart_backoff_min"},
		{"breaker_failures", func(c *Config) { c.BreakerFailures = 0 }, "breaker_failures"},
		{"breaker_cooldown", func(c *Config) { c.BreakerCooldown = 0 }, "breaker_cooldown"},
		{"supervise_interval", func(c *Config) { c.SuperviseInterval = 0 }, "supervise_interval"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			tt.mod(&c)
			if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Validate() = %v, want an error naming %q", err, tt.wantErr)
			}
		})
	}
	if _, err := New(DefaultConfig(), nil, nil, nil, &recordingAuditor{}); err == nil {
		t.Error("New without settings succeeded")
	}
}

func TestHCLogAdapter(t *testing.T) {
	var buf bytes.Buffer
	l := newHCLogAdapter(slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo})), nil)
	l.Named("crm").With("plugin", "crm-csv").Info("loaded", "customers", 2, "error", "none")
	l.Debug("dropped at info level")
	l.Trace("dropped too")
	l.Warn("dangling", "key")
	out := buf.String()
	for _, want := range []string{`"msg":"loaded"`, `"logger":"crm"`, `"plugin":"crm-csv"`, `"customers":2`, `"err":"none"`, `"level":"WARN"`, `"msg":"dangling"`} {
		if !strings.Contains(out, want) {
			t.Errorf("log output lacks %s:\n%s", want, out)
		}
	}
	if strings.Contains(out, "dropped") {
		t.Errorf("debug/trace lines passed an info-level logger:\n%s", out)
	}
	if l.IsDebug() || !l.IsInfo() || l.GetLevel() != hclog.Info {
		t.Errorf("levels: IsDebug=%v IsInfo=%v GetLevel=%v", l.IsDebug(), l.IsInfo(), l.GetLevel())
	}
	l.SetLevel(hclog.Error)
	l.Warn("suppressed by SetLevel")
	if strings.Contains(buf.String(), "suppressed") {
		t.Error("SetLevel(Error) did not suppress a warning")
	}
	l.StandardLogger(&hclog.StandardLoggerOptions{ForceLevel: hclog.Error}).Print("via std logger")
	if !strings.Contains(buf.String(), "via std logger") {
		t.Error("StandardLogger output lost")
	}
}
