package ollama

import (
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Feature names one capability the Provider can serve. Each feature has its
// own model name and, optionally, its own timeout.
type Feature string

// The features of the Provider.
const (
	FeatureSummary     Feature = "summary"     // inference.Summarizer
	FeatureNotes       Feature = "notes"       // inference.NoteWriter
	FeatureTasks       Feature = "tasks"       // inference.TaskExtractor
	FeatureDisposition Feature = "disposition" // inference.DispositionClassifier
	FeatureKeywords    Feature = "keywords"    // inference.KeywordExtractor
	FeatureGenerate    Feature = "generate"    // inference.Generator (Provider.Generate)
	FeatureNextStep    Feature = "next_step"   // inference.Generator (Provider.Generator(FeatureNextStep))
	FeatureEmbed       Feature = "embed"       // inference.Embedder
)

// Features lists every feature, in a stable order.
var Features = []Feature{
	FeatureSummary, FeatureNotes, FeatureTasks, FeatureDisposition,
	FeatureKeywords, FeatureGenerate, FeatureNextStep, FeatureEmbed,
}

func (f Feature) valid() bool { return slices.Contains(Features, f) }

// Config configures the Provider. Which features the Ollama server serves is
// the set of keys of Models: a feature without a model goes straight to the
// built-in fallback.
type Config struct {
	// URL is the server's base URL. Default http://127.0.0.1:11434.
	URL string `yaml:"url"`
	// AllowRemote permits a URL whose host is not a loopback address.
	// Conversations are customer content: only set it for a server the
	// site runs on its own network.
	AllowRemote bool `yaml:"allow_remote"`
	// Models maps a feature to the Ollama model that serves it, for
	// example {summary: "llama3.2:3b", embed: "nomic-embed-text"}.
	Models map[Feature]string `yaml:"models"`
	// Timeout bounds one call, including waiting for a free slot.
	// Default 60s.
	Timeout time.Duration `yaml:"timeout"`
	// Timeouts overrides Timeout per feature.
	Timeouts map[Feature]time.Duration `yaml:"timeouts"`
	// NumThread is the server-side CPU thread count (option num_thread);
	// 0 leaves the server's default.
	NumThread int `yaml:"num_thread"`
	// NumCtx is the context window in tokens (option num_ctx); 0 leaves
	// the model's default. Default 8192.
	NumCtx int `yaml:"num_ctx"`
	// MaxTokens caps the reply of free-text generation (option
	// num_predict). Structured features derive their cap from their
	// schema. Default 512.
	MaxTokens int `yaml:"max_tokens"`
	// Temperature is the sampling temperature, 0..2. Default 0.2.
	Temperature float64 `yaml:"temperature"`
	// Seed is the sampling seed, so that the same conversation gives the
	// same result; -1 means a random seed. Default 0.
	Seed int `yaml:"seed"`
	// KeepAlive is how long the server keeps a model loaded after a
	// request; negative means forever. Default 30m.
	KeepAlive time.Duration `yaml:"keep_alive"`
	// MaxInFlight bounds concurrent calls to the server; a call that finds
	// no free slot within its timeout falls back. Default 4.
	MaxInFlight int `yaml:"max_in_flight"`
	// MaxPromptChars bounds the transcript text sent in one prompt; longer
	// conversations keep their beginning and end. Default 24000.
	MaxPromptChars int `yaml:"max_prompt_chars"`
	// FailureThreshold is the number of consecutive connection failures or
	// timeouts that opens the circuit breaker. Default 3.
	FailureThreshold int `yaml:"failure_threshold"`
	// RetryAfter is how long the breaker stays open before one health
	// check may close it again. Default 30s.
	RetryAfter time.Duration `yaml:"retry_after"`
}

// DefaultConfig returns the defaults: a server on loopback and no feature
// served by it until Models names a model.
func DefaultConfig() Config {
	return Config{
		URL:              "http://127.0.0.1:11434",
		Models:           map[Feature]string{},
		Timeout:          60 * time.Second,
		NumCtx:           8192,
		MaxTokens:        512,
		Temperature:      0.2,
		KeepAlive:        30 * time.Minute,
		MaxInFlight:      4,
		MaxPromptChars:   24000,
		FailureThreshold: 3,
		RetryAfter:       30 * time.Second,
	}
}

// Validate reports the first problem with c, naming the field.
func (c Config) Validate() error {
	if _, err := c.baseURL(); err != nil {
		return err
	}
	for _, f := range slices.Sorted(maps.Keys(c.Models)) {
		if !f.valid() {
			return fmt.Errorf("models: unknown feature %q (known: %s)", f, featureList())
		}
		if strings.TrimSpace(c.Models[f]) == "" {
			return fmt.Errorf("models.%s: model name is empty", f)
		}
	}
	if c.Timeout <= 0 {
		return fmt.Errorf("timeout must be positive, got %s", c.Timeout)
	}
	for _, f := range slices.Sorted(maps.Keys(c.Timeouts)) {
		if !f.valid() {
			return fmt.Errorf("timeouts: unknown feature %q (known: %s)", f, featureList())
		}
		if c.Timeouts[f] <= 0 {
			return fmt.Errorf("timeouts.%s must be positive, got %s", f, c.Timeouts[f])
		}
	}
	switch {
	case c.NumThread < 0:
		return fmt.Errorf("num_thread must not be negative, got %d", c.NumThread)
	case c.NumCtx < 0:
		return fmt.Errorf("num_ctx must not be negative, got %d", c.NumCtx)
	case c.MaxTokens <= 0:
		return fmt.Errorf("max_tokens must be positive, got %d", c.MaxTokens)
	case c.Temperature < 0 || c.Temperature > 2:
		return fmt.Errorf("temperature must be within 0..2, got %g", c.Temperature)
	case c.Seed < -1:
		return fmt.Errorf("seed must be -1 (random) or a non-negative number, got %d", c.Seed)
	case c.MaxInFlight <= 0:
		return fmt.Errorf("max_in_flight must be positive, got %d", c.MaxInFlight)
	case c.MaxPromptChars < 1000:
		return fmt.Errorf("max_prompt_chars must be at least 1000, got %d", c.MaxPromptChars)
	case c.FailureThreshold <= 0:
		return fmt.Errorf("failure_threshold must be positive, got %d", c.FailureThreshold)
	case c.RetryAfter <= 0:
		return fmt.Errorf("retry_after must be positive, got %s", c.RetryAfter)
	}
	return nil
}

// baseURL parses and checks URL.
func (c Config) baseURL() (*url.URL, error) {
	u, err := url.Parse(c.URL)
	if err != nil {
		return nil, fmt.Errorf("url: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("url: scheme must be http or https, got %q", u.Scheme)
	}
	if u.Hostname() == "" {
		return nil, fmt.Errorf("url: %q has no host", c.URL)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, errors.New("url: must not carry credentials, a query or a fragment")
	}
	if !c.AllowRemote && !isLoopback(u.Hostname()) {
		return nil, fmt.Errorf("url: host %q is not a loopback address; conversations are customer content, "+
			"so set allow_remote only for a server on the site's own network", u.Hostname())
	}
	return u, nil
}

// timeout is the call timeout of feature f.
func (c Config) timeout(f Feature) time.Duration {
	if d, ok := c.Timeouts[f]; ok {
		return d
	}
	return c.Timeout
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

func featureList() string {
	s := make([]string, len(Features))
	for i, f := range Features {
		s[i] = string(f)
	}
	return strings.Join(s, ", ")
}
