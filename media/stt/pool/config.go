package pool

import (
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/earshot/earshot/media/stt/whisperhttp"
)

// ServerConfig is one Whisper-class server.
type ServerConfig struct {
	// Name labels the server in metrics and logs (default: host:port).
	Name string `json:"name"`
	// URL is the server's base URL, e.g. http://127.0.0.1:8080.
	URL string `json:"url"`
	// API is "whisper.cpp" (POST /inference) or "openai" (POST
	// /v1/audio/transcriptions).
	API string `json:"api"`
	// Model is the model name the OpenAI API asks for.
	Model string `json:"model"`
	// MaxInFlight bounds the requests sent to this server at once
	// (default 1: whisper.cpp's server decodes one request at a time).
	MaxInFlight int `json:"max_in_flight"`
	// ThirdParty marks a server the site does not run itself; it is not
	// used while local-models-only is on.
	ThirdParty bool `json:"third_party"`
}

// Config configures the pool.
type Config struct {
	Servers []ServerConfig `json:"servers"`
	// Language hint (ISO 639-1), default "en".
	Language string `json:"language"`
	// Timeout bounds one request (default 10 s). A live revision later
	// than this is of little use to anyone reading the transcript.
	Timeout time.Duration `json:"timeout"`
	// HealthPath is the servers' health endpoint (default "/health"; both
	// the whisper.cpp server and speaches answer it).
	HealthPath string `json:"health_path"`
	// HealthInterval is the time between active health checks (default
	// 10 s).
	HealthInterval time.Duration `json:"health_interval"`
	// FailureThreshold consecutive failures open a server's circuit
	// breaker (default 3).
	FailureThreshold int `json:"failure_threshold"`
	// OpenFor is how long an open breaker keeps the server out before a
	// trial request or a passing health check may close it (default 30 s).
	OpenFor time.Duration `json:"open_for"`
	// MinUtterance and MaxUtterance bound the utterances sent (defaults
	// 300 ms and 30 s, the Whisper window); others keep the local final.
	MinUtterance time.Duration `json:"min_utterance"`
	MaxUtterance time.Duration `json:"max_utterance"`
}

// DefaultConfig returns the defaults, with no servers.
func DefaultConfig() Config {
	return Config{Language: "en", Timeout: 10 * time.Second, HealthPath: "/health", HealthInterval: 10 * time.Second,
		FailureThreshold: 3, OpenFor: 30 * time.Second, MinUtterance: 300 * time.Millisecond, MaxUtterance: 30 * time.Second}
}

// Validate checks the configuration.
func (c Config) Validate() error {
	if len(c.Servers) == 0 {
		return errors.New("pool: servers: at least one server is required")
	}
	names := map[string]bool{}
	for i, s := range c.Servers {
		if s.API != whisperhttp.APIWhisperCpp && s.API != whisperhttp.APIOpenAI {
			return fmt.Errorf("pool: servers[%d].api must be %q or %q, got %q", i, whisperhttp.APIWhisperCpp, whisperhttp.APIOpenAI, s.API)
		}
		u, err := url.Parse(s.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("pool: servers[%d].url %q must be an http(s) URL", i, s.URL)
		}
		if s.MaxInFlight < 0 {
			return fmt.Errorf("pool: servers[%d].max_in_flight must not be negative", i)
		}
		n := s.name()
		if names[n] {
			return fmt.Errorf("pool: servers[%d]: name %q used twice", i, n)
		}
		names[n] = true
	}
	switch {
	case c.Timeout <= 0:
		return fmt.Errorf("pool: timeout must be positive, got %s", c.Timeout)
	case c.HealthInterval <= 0:
		return fmt.Errorf("pool: health_interval must be positive, got %s", c.HealthInterval)
	case c.FailureThreshold <= 0:
		return fmt.Errorf("pool: failure_threshold must be positive, got %d", c.FailureThreshold)
	case c.OpenFor <= 0:
		return fmt.Errorf("pool: open_for must be positive, got %s", c.OpenFor)
	case c.MinUtterance < 0 || c.MaxUtterance <= c.MinUtterance:
		return fmt.Errorf("pool: need 0 <= min_utterance < max_utterance, got %s and %s", c.MinUtterance, c.MaxUtterance)
	case c.HealthPath == "" || c.HealthPath[0] != '/':
		return fmt.Errorf("pool: health_path must start with /, got %q", c.HealthPath)
	}
	return nil
}

func (s ServerConfig) name() string {
	if s.Name != "" {
		return s.Name
	}
	if u, err := url.Parse(s.URL); err == nil && u.Host != "" {
		return u.Host
	}
	return s.URL
}
