package daemon

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/earshot/earshot/daemon/hub"
	"github.com/earshot/earshot/inference/builtin/intents"
	"github.com/earshot/earshot/inference/kb"
	"github.com/earshot/earshot/inference/ollama"
	ttsengines "github.com/earshot/earshot/media/tts/engines"
	"github.com/earshot/earshot/plugins"
	"github.com/earshot/earshot/store"
)

// DefaultConfigPath is where the service looks for its configuration.
const DefaultConfigPath = "/etc/earshot/earshot.yaml"

// Config is the daemon's configuration, read from one YAML file. Every field
// has a default (DefaultConfig), so an empty file and no file at all are
// both valid.
type Config struct {
	// DataDir holds the database, keys, the generated admin token and the
	// generated TLS certificate. Default: $STATE_DIRECTORY when run by
	// systemd, /var/lib/earshot for the service, ./earshot-data otherwise.
	DataDir string `yaml:"data_dir"`
	// Listen is the API's address. Default 127.0.0.1:7080.
	Listen string    `yaml:"listen"`
	TLS    TLSConfig `yaml:"tls"`
	Log    LogConfig `yaml:"log"`
	// LocalModelsOnly is the initial value of the local-models-only switch,
	// used until an administrator changes it through the API. Default true.
	LocalModelsOnly *bool `yaml:"local_models_only"`
	// ShutdownTimeout bounds how long in-flight requests may run after a
	// stop signal. Default 15s.
	ShutdownTimeout Duration `yaml:"shutdown_timeout"`
	// Store holds retention windows, the key provider and group commit.
	Store store.Config `yaml:"store"`
	// Engagements bounds live engagements.
	Engagements EngagementsConfig `yaml:"engagements"`
	// Media configures speech-to-text and the ingest paths.
	Media MediaConfig `yaml:"media"`
	// Ollama is a local Ollama server for the generative features (summary,
	// notes, tasks, disposition); features without a model in
	// ollama.models use the built-in models.
	Ollama ollama.Config `yaml:"ollama"`
	// Plugins configures the plugin host; plugins.dir defaults to
	// <data_dir>/plugins.
	Plugins plugins.Config `yaml:"plugins"`
	// Analytics configures the built-in analytics.
	Analytics AnalyticsConfig `yaml:"analytics"`
	// Sinks bounds the delivery of events to sink plugins through the
	// store's outbox.
	Sinks SinksConfig `yaml:"sinks"`
	// KB bounds the knowledge base.
	KB KBConfig `yaml:"kb"`
	// Translate configures the translation of chat messages.
	Translate TranslateConfig `yaml:"translate"`
	// Redaction says what the pii_redaction feature removes.
	Redaction RedactionConfig `yaml:"redaction"`
	// SiteConfig says whose site configuration bundles this box applies.
	SiteConfig SiteConfigConfig `yaml:"site_config"`
	// TTS configures speech synthesis for voice bots: voices per language
	// and bot, lexicons, the prompt cache, a neural server (media/tts).
	TTS ttsengines.Config `yaml:"tts"`
}

// KBConfig bounds the knowledge base.
type KBConfig struct {
	// MaxTextBytes bounds the article text (titles, bodies, tags) the
	// in-memory index holds; the index takes about 3.4 times that.
	// Article writes past it are refused and imports stop. Default 64 MiB.
	MaxTextBytes int64 `yaml:"max_text_bytes"`
}

// AnalyticsConfig configures the built-in analytics.
type AnalyticsConfig struct {
	// DefaultIntents names the shipped intent set the intent detector is
	// trained on, in the background at start, while the site has trained
	// no intents of its own: "banking77" (77 retail-banking intents, the
	// default) or "none".
	DefaultIntents string `yaml:"default_intents"`
}

// SinksConfig configures the delivery of events to sink plugins. Events
// wait in the store's outbox until delivered, across restarts; a failed
// delivery is retried with exponential backoff between RetryMin and
// RetryMax, and after MaxAttempts the event is kept as dead until an
// administrator retries it.
type SinksConfig struct {
	RetryMin    Duration `yaml:"retry_min"`    // default 1s
	RetryMax    Duration `yaml:"retry_max"`    // default 1h
	MaxAttempts int      `yaml:"max_attempts"` // default 30 (about a day)
	// PollInterval is how often the outbox is checked for due events
	// (new events are delivered at once). Default 1s.
	PollInterval Duration `yaml:"poll_interval"`
}

// EngagementsConfig bounds the live engagements the hub holds.
type EngagementsConfig struct {
	// MaxLive is the most live engagements at once; more are refused
	// (HTTP 503, SIP 486) and counted. Default 32.
	MaxLive int `yaml:"max_live"`
	// MediaTimeout ends a voice engagement whose media stopped for this
	// long. Default 60s.
	MediaTimeout Duration `yaml:"media_timeout"`
	// EventBuffer is how many events per engagement are kept for clients
	// resuming with Last-Event-ID. Default 4096.
	EventBuffer int `yaml:"event_buffer"`
	// MaxLivePerSource bounds the live engagements of each source (api:
	// chats and engagements created through the API; whip, websocket,
	// upload, sip; a virtual agent's conversations by channel: bot_api,
	// bot_websocket, bot_widget), so that no one source takes every slot.
	// A source left out gets three quarters of max_live.
	MaxLivePerSource map[string]int `yaml:"max_live_per_source"`
	// MaxLivePerToken bounds the live engagements one API token has
	// started. Default three quarters of max_live.
	MaxLivePerToken int `yaml:"max_live_per_token"`
	// ChatIdleTimeout ends a chat with no message for this long. Default
	// 30m.
	ChatIdleTimeout Duration `yaml:"chat_idle_timeout"`
	// EndedRetention is how long an ended engagement's events stay in
	// memory for readers resuming their event streams; later readers get
	// what the store holds. Default 10m.
	EndedRetention Duration `yaml:"ended_retention"`
}

// hubConfig is the hub's configuration from these settings.
func (e EngagementsConfig) hubConfig() hub.Config {
	return hub.Config{MaxLive: e.MaxLive, MediaTimeout: time.Duration(e.MediaTimeout), EventBuffer: e.EventBuffer,
		MaxLivePerSource: e.MaxLivePerSource, MaxLivePerHolder: e.MaxLivePerToken, ChatIdleTimeout: time.Duration(e.ChatIdleTimeout),
		EndedRetention: time.Duration(e.EndedRetention)}
}

// liveSources are the sources max_live_per_source may name.
// The bot_ ones are the hub sources of the virtual agent's conversations
// (botService.start), one per channel.
var liveSources = []string{"api", "whip", "websocket", "upload", "sip", "bot_api", "bot_websocket", "bot_widget"}

// TLSConfig configures TLS on the API listener. In YAML it is either a
// mapping or one of the scalars "off" and "auto".
type TLSConfig struct {
	// Mode is "off", "auto" (a self-signed certificate generated in the
	// data directory) or "files" (CertFile and KeyFile).
	Mode     string `yaml:"mode"`
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// UnmarshalYAML accepts `tls: auto` as well as a mapping.
func (t *TLSConfig) UnmarshalYAML(unmarshal func(any) error) error {
	var s string
	if err := unmarshal(&s); err == nil {
		*t = TLSConfig{Mode: s}
		return nil
	}
	type plain TLSConfig
	var p plain
	if err := unmarshal(&p); err != nil {
		return err
	}
	*t = TLSConfig(p)
	return nil
}

// LogConfig configures the daemon's structured logs.
type LogConfig struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // text or json
}

// DefaultConfig returns the embedded defaults. forService selects the
// service's data directory.
func DefaultConfig(forService bool) Config {
	dir := "./earshot-data"
	if d := os.Getenv("STATE_DIRECTORY"); d != "" {
		dir = strings.Split(d, ":")[0]
	} else if forService {
		dir = "/var/lib/earshot"
	}
	on := true
	return Config{
		DataDir:         dir,
		Listen:          "127.0.0.1:7080",
		TLS:             TLSConfig{Mode: "off"},
		Log:             LogConfig{Level: "info", Format: "text"},
		LocalModelsOnly: &on,
		ShutdownTimeout: Duration(15e9),
		Store:           store.DefaultConfig(),
		Engagements: EngagementsConfig{MaxLive: 32, MediaTimeout: Duration(60e9), EventBuffer: 4096, ChatIdleTimeout: Duration(30 * time.Minute),
			EndedRetention: Duration(10 * time.Minute)},
		Media:     DefaultMediaConfig(),
		Ollama:    ollama.DefaultConfig(),
		Plugins:   defaultPluginsConfig(),
		Analytics: AnalyticsConfig{DefaultIntents: intents.Banking77},
		KB:        KBConfig{MaxTextBytes: kb.DefaultMaxTextBytes},
		Sinks:     SinksConfig{RetryMin: Duration(time.Second), RetryMax: Duration(time.Hour), MaxAttempts: 30, PollInterval: Duration(time.Second)},
		Translate: defaultTranslateConfig(),
		Redaction: defaultRedactionConfig(),
		TTS:       ttsengines.DefaultConfig(),
	}
}

// Validate reports the first problem with c, naming the field.
func (c Config) Validate() error {
	if c.DataDir == "" {
		return errors.New("data_dir must not be empty")
	}
	if err := c.Translate.Validate(); err != nil {
		return err
	}
	if err := c.SiteConfig.Validate(); err != nil {
		return err
	}
	if err := c.TTS.Validate(); err != nil {
		return err // prefixed "tts:"
	}
	host, port, err := net.SplitHostPort(c.Listen)
	if err != nil {
		return fmt.Errorf("listen: %q is not host:port: %w", c.Listen, err)
	}
	if port == "" {
		return fmt.Errorf("listen: %q has no port", c.Listen)
	}
	switch c.TLS.Mode {
	case "off", "auto":
	case "files":
		if c.TLS.CertFile == "" || c.TLS.KeyFile == "" {
			return errors.New("tls: mode files needs cert_file and key_file")
		}
	default:
		return fmt.Errorf("tls.mode: %q is not one of off, auto, files", c.TLS.Mode)
	}
	if c.TLS.Mode == "off" && !isLoopbackHost(host) {
		return fmt.Errorf("listen: %s is not a loopback address and tls is off; "+
			"the API carries customer content, so set tls: auto or tls.cert_file/key_file, or listen on 127.0.0.1", c.Listen)
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("log.level: %q is not one of debug, info, warn, error", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		return fmt.Errorf("log.format: %q is not one of text, json", c.Log.Format)
	}
	if c.ShutdownTimeout <= 0 {
		return fmt.Errorf("shutdown_timeout must be positive, got %s", c.ShutdownTimeout)
	}
	if err := c.Store.Validate(); err != nil {
		return err // already prefixed "store:"
	}
	pc := c.Plugins
	if pc.Dir == "" {
		pc.Dir = "<data_dir>/plugins"
	}
	if err := pc.Validate(); err != nil {
		return err
	}
	if err := c.Ollama.Validate(); err != nil {
		return fmt.Errorf("ollama: %w", err)
	}
	if err := c.Media.Validate(); err != nil {
		return fmt.Errorf("media: %w", err)
	}
	e := c.Engagements
	switch {
	case e.MaxLive <= 0:
		return fmt.Errorf("engagements.max_live must be positive, got %d", e.MaxLive)
	case e.MediaTimeout <= 0:
		return fmt.Errorf("engagements.media_timeout must be positive, got %s", e.MediaTimeout)
	case e.EventBuffer < 16:
		return fmt.Errorf("engagements.event_buffer must be at least 16, got %d", e.EventBuffer)
	case e.MaxLivePerToken < 0 || e.MaxLivePerToken > e.MaxLive:
		return fmt.Errorf("engagements.max_live_per_token must be between 1 and max_live (%d), got %d", e.MaxLive, e.MaxLivePerToken)
	case e.ChatIdleTimeout <= 0:
		return fmt.Errorf("engagements.chat_idle_timeout must be positive, got %s", e.ChatIdleTimeout)
	case e.EndedRetention <= 0:
		return fmt.Errorf("engagements.ended_retention must be positive, got %s", e.EndedRetention)
	}
	for src, n := range e.MaxLivePerSource {
		if !slices.Contains(liveSources, src) {
			return fmt.Errorf("engagements.max_live_per_source: %q is not one of %s", src, strings.Join(liveSources, ", "))
		}
		if n < 1 || n > e.MaxLive {
			return fmt.Errorf("engagements.max_live_per_source.%s must be between 1 and max_live (%d), got %d", src, e.MaxLive, n)
		}
	}
	if d := c.Analytics.DefaultIntents; d != "none" && !slices.Contains(intents.Names, d) {
		return fmt.Errorf("analytics.default_intents: %q is not one of none, %s", d, strings.Join(intents.Names, ", "))
	}
	if c.KB.MaxTextBytes < 1<<20 {
		return fmt.Errorf("kb.max_text_bytes must be at least 1 MiB, got %d", c.KB.MaxTextBytes)
	}
	sk := c.Sinks
	switch {
	case sk.RetryMin <= 0 || sk.RetryMax < sk.RetryMin:
		return fmt.Errorf("sinks.retry_min (%s) must be positive and at most sinks.retry_max (%s)", sk.RetryMin, sk.RetryMax)
	case sk.MaxAttempts <= 0:
		return fmt.Errorf("sinks.max_attempts must be positive, got %d", sk.MaxAttempts)
	case sk.PollInterval <= 0:
		return fmt.Errorf("sinks.poll_interval must be positive, got %s", sk.PollInterval)
	}
	return c.Redaction.validate(c.Store.Retention.TranscriptDays)
}

func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

// LoadConfig reads the file at path over the defaults and validates the
// result. A missing file at the default path means the embedded defaults; a
// missing file anywhere else is an error.
func LoadConfig(path string, forService bool) (Config, error) {
	cfg := DefaultConfig(forService)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) && path == DefaultConfigPath {
		return cfg, cfg.Validate()
	}
	if err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	if err := ParseConfig(data, &cfg); err != nil {
		return Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	return cfg, nil
}

// ParseConfig decodes YAML over cfg strictly (an unknown key is an error
// naming the key and its line) and validates the result.
func ParseConfig(data []byte, cfg *Config) error {
	var probe any
	if err := yaml.Unmarshal(data, &probe); err != nil {
		return errors.New(yaml.FormatError(err, false, true))
	}
	if probe != nil { // a file of comments only decodes to nil: keep the defaults
		if err := yaml.UnmarshalWithOptions(data, cfg, yaml.Strict()); err != nil {
			return errors.New(yaml.FormatError(err, false, true))
		}
	}
	return cfg.Validate()
}

func (c Config) logger() *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(c.Log.Level))
	opts := &slog.HandlerOptions{Level: lvl}
	if c.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}

// defaultPluginsConfig is the plugin host's defaults with the directory
// left to follow data_dir.
func defaultPluginsConfig() plugins.Config {
	c := plugins.DefaultConfig()
	c.Dir = ""
	return c
}
