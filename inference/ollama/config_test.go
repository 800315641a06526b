package ollama

import (
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/google/go-cmp/cmp"
)

func TestConfigFromYAML(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		want    func(*Config) // applied to DefaultConfig; nil when an error is expected
		wantErr string
	}{
		{name: "empty", yaml: "{}", want: func(*Config) {}},
		{
			name: "models and timeouts",
			yaml: "url: http://[::1]:11434\nmodels: {summary: llama3.2:3b, embed: nomic-embed-text}\n" +
				"timeout: 20s\ntimeouts: {summary: 90s}\nnum_thread: 1\nseed: -1\n",
			want: func(c *Config) {
				c.URL = "http://[::1]:11434"
				c.Models = map[Feature]string{FeatureSummary: "llama3.2:3b", FeatureEmbed: "nomic-embed-text"}
				c.Timeout = 20 * time.Second
				c.Timeouts = map[Feature]time.Duration{FeatureSummary: 90 * time.Second}
				c.NumThread, c.Seed = 1, -1
			},
		},
		{
			name: "remote allowed",
			yaml: "url: https://llm.bank.internal:11434\nallow_remote: true",
			want: func(c *Config) { c.URL, c.AllowRemote = "https://llm.bank.internal:11434", true },
		},
		{name: "localhost", yaml: "url: http://localhost:11434", want: func(c *Config) { c.URL = "http://localhost:11434" }},
		{name: "remote refused", yaml: "url: http://10.1.2.3:11434", wantErr: `url: host "10.1.2.3" is not a loopback address`},
		{name: "remote name refused", yaml: "url: http://ollama:11434", wantErr: "not a loopback address"},
		{name: "bad scheme", yaml: "url: ftp://127.0.0.1", wantErr: "url: scheme must be http or https"},
		{name: "no host", yaml: "url: http://", wantErr: "has no host"},
		{name: "credentials", yaml: "url: http://u:p@127.0.0.1:1", wantErr: "must not carry credentials"},
		{name: "unknown feature", yaml: "models: {sentiment: x}", wantErr: `models: unknown feature "sentiment"`},
		{name: "empty model", yaml: "models: {notes: ' '}", wantErr: "models.notes: model name is empty"},
		{name: "zero timeout", yaml: "timeout: 0s", wantErr: "timeout must be positive"},
		{name: "bad feature timeout", yaml: "timeouts: {tasks: -1s}", wantErr: "timeouts.tasks must be positive"},
		{name: "unknown timeout feature", yaml: "timeouts: {x: 1s}", wantErr: `timeouts: unknown feature "x"`},
		{name: "temperature", yaml: "temperature: 3", wantErr: "temperature must be within 0..2"},
		{name: "seed", yaml: "seed: -2", wantErr: "seed must be -1"},
		{name: "threads", yaml: "num_thread: -1", wantErr: "num_thread must not be negative"},
		{name: "ctx", yaml: "num_ctx: -5", wantErr: "num_ctx must not be negative"},
		{name: "max tokens", yaml: "max_tokens: 0", wantErr: "max_tokens must be positive"},
		{name: "in flight", yaml: "max_in_flight: 0", wantErr: "max_in_flight must be positive"},
		{name: "prompt chars", yaml: "max_prompt_chars: 10", wantErr: "max_prompt_chars must be at least 1000"},
		{name: "threshold", yaml: "failure_threshold: 0", wantErr: "failure_threshold must be positive"},
		{name: "retry", yaml: "retry_after: 0s", wantErr: "retry_after must be positive"},
		{name: "unknown field", yaml: "modle: x", wantErr: "unknown field"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := DefaultConfig()
			err := yaml.UnmarshalWithOptions([]byte(tt.yaml), &got, yaml.Strict())
			if err == nil {
				err = got.Validate()
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("config %q: error %v, want one containing %q", tt.yaml, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("config %q: %v", tt.yaml, err)
			}
			want := DefaultConfig()
			tt.want(&want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("config %q (-want +got):\n%s", tt.yaml, diff)
			}
		})
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	cfg := DefaultConfig()
	cfg.URL = "http://192.0.2.1:11434"
	if _, err := New(cfg, nil, nil, Fallback{}); err == nil || !strings.Contains(err.Error(), "ollama: config: url") {
		t.Fatalf("New with a remote URL: error %v, want a config error naming url", err)
	}
}
