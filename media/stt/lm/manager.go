package lm

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sys/unix"
)

// Source gives the site's text for each profile (queue).
type Source interface {
	// Profiles lists the profiles that get a domain model.
	Profiles(ctx context.Context) ([]string, error)
	// Text returns the documents of a profile (articles, phrases,
	// prompts, vocabulary), in a stable order.
	Text(ctx context.Context, profile string) ([]string, error)
}

// Installer puts a built model in use (pocketsphinx SetDomainLM).
type Installer interface {
	Install(profile string, b Built) error
}

// Built is one version of a profile's model.
type Built struct {
	Profile string `json:"profile"`
	// Version is derived from the text and the options: the same text
	// gives the same version.
	Version string        `json:"version"`
	Path    string        `json:"-"`
	Stats   Stats         `json:"stats"`
	Took    time.Duration `json:"-"`
	At      time.Time     `json:"built_at"`
}

// Config configures the Manager.
type Config struct {
	// Interval is how often every profile's text is checked for changes
	// (default 10 min); Trigger checks at once.
	Interval time.Duration `json:"interval"`
	// MinTrigramCount: see Options (default 1).
	MinTrigramCount int `json:"min_trigram_count"`
	// Keep is how many versions of a profile stay available (default 2).
	Keep int `json:"keep"`
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config { return Config{Interval: 10 * time.Minute, MinTrigramCount: 1, Keep: 2} }

// Validate checks the configuration.
func (c Config) Validate() error {
	switch {
	case c.Interval < time.Second:
		return fmt.Errorf("lm: interval must be at least 1s, got %s", c.Interval)
	case c.MinTrigramCount < 1:
		return fmt.Errorf("lm: min_trigram_count must be at least 1, got %d", c.MinTrigramCount)
	case c.Keep < 1:
		return fmt.Errorf("lm: keep must be at least 1, got %d", c.Keep)
	}
	return nil
}

// Manager builds and versions the domain models of every profile. The
// models are held in memory files (memfd), never written to disk: they
// are made of the site's sealed text.
type Manager struct {
	cfg   Config
	log   *slog.Logger
	src   Source
	inst  Installer
	known func(string) bool
	m     *metrics

	trigger chan struct{}

	mu       sync.Mutex
	versions map[string][]*memModel // newest last +checklocks:mu
}

type memModel struct {
	Built
	f *os.File
}

// NewManager returns a manager; known (nil: every word) is the
// recogniser's dictionary. A nil logger discards; reg may be nil.
func NewManager(cfg Config, logger *slog.Logger, reg prometheus.Registerer, src Source, inst Installer, known func(string) bool) (*Manager, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	return &Manager{cfg: cfg, log: logger.With("component", "lm"), src: src, inst: inst, known: known, m: m,
		trigger: make(chan struct{}, 1), versions: map[string][]*memModel{}}, nil
}

// Trigger asks for a check of every profile's text now (the text
// changed); it does not block.
func (m *Manager) Trigger() {
	select {
	case m.trigger <- struct{}{}:
	default:
	}
}

// Run checks the profiles at start, every Interval and on Trigger, until
// ctx is done, building what changed one profile at a time (in the
// background of the service: it never holds up calls).
func (m *Manager) Run(ctx context.Context) error {
	t := time.NewTicker(m.cfg.Interval)
	defer t.Stop()
	defer m.closeAll()
	for {
		m.Refresh(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-m.trigger:
		}
	}
}

// Refresh checks every profile once and builds those whose text changed.
func (m *Manager) Refresh(ctx context.Context) {
	profiles, err := m.src.Profiles(ctx)
	if err != nil {
		m.log.Warn("domain language models: profiles not listed", "err", err)
		return
	}
	for _, p := range profiles {
		if ctx.Err() != nil {
			return
		}
		if _, err := m.Update(ctx, p); err != nil && !errors.Is(err, ErrNoText) {
			m.log.Warn("domain language model not built", "profile", p, "err", err)
		}
	}
}

// Current returns the newest model of a profile.
func (m *Manager) Current(profile string) (Built, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	vs := m.versions[profile]
	if len(vs) == 0 {
		return Built{}, false
	}
	return vs[len(vs)-1].Built, true
}

// Update builds the profile's model if its text changed since the
// current version, and installs it.
func (m *Manager) Update(ctx context.Context, profile string) (Built, error) {
	docs, err := m.src.Text(ctx, profile)
	if err != nil {
		return Built{}, err
	}
	version := m.version(docs)
	if cur, ok := m.Current(profile); ok && cur.Version == version {
		return cur, nil
	}
	t0 := time.Now()
	mod := NewModel(Options{Known: m.known, MinTrigramCount: m.cfg.MinTrigramCount})
	for _, d := range docs {
		if err := ctx.Err(); err != nil {
			return Built{}, err
		}
		mod.Add(d, m.known)
	}
	if mod.Stats().Sentences == 0 {
		m.m.builds.WithLabelValues("empty").Inc()
		return Built{}, ErrNoText
	}
	f, err := memFile("earshot-lm-" + profile)
	if err != nil {
		m.m.builds.WithLabelValues("error").Inc()
		return Built{}, err
	}
	if err := mod.WriteARPA(f); err != nil {
		f.Close()
		m.m.builds.WithLabelValues("error").Inc()
		return Built{}, fmt.Errorf("lm: write model: %w", err)
	}
	b := Built{Profile: profile, Version: version, Path: fmt.Sprintf("/proc/self/fd/%d", f.Fd()), Stats: mod.Stats(),
		Took: time.Since(t0), At: time.Now().UTC()}
	if err := m.inst.Install(profile, b); err != nil {
		f.Close()
		m.m.builds.WithLabelValues("error").Inc()
		return Built{}, fmt.Errorf("lm: install %s %s: %w", profile, version, err)
	}
	m.m.builds.WithLabelValues("ok").Inc()
	m.m.seconds.Observe(b.Took.Seconds())
	m.mu.Lock()
	vs := append(m.versions[profile], &memModel{Built: b, f: f})
	var old []*memModel
	if n := len(vs) - m.cfg.Keep; n > 0 {
		old, vs = vs[:n], vs[n:]
	}
	m.versions[profile] = vs
	m.mu.Unlock()
	for _, o := range old {
		o.f.Close() // decoders read a model once, when they load it
	}
	m.log.Info("domain language model built", "profile", profile, "version", version, "sentences", b.Stats.Sentences,
		"tokens", b.Stats.Tokens, "oov", b.Stats.OOV, "trigrams", b.Stats.NGrams[2], "took", b.Took.Round(time.Millisecond))
	return b, nil
}

// version names the text and the options.
func (m *Manager) version(docs []string) string {
	h := sha256.New()
	fmt.Fprintf(h, "order=%d min3=%d\x00", Order, m.cfg.MinTrigramCount)
	for _, d := range docs {
		fmt.Fprintf(h, "%d\x00%s", len(d), d)
	}
	return hex.EncodeToString(h.Sum(nil))[:12]
}

func (m *Manager) closeAll() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, vs := range m.versions {
		for _, v := range vs {
			v.f.Close()
		}
	}
	m.versions = map[string][]*memModel{}
}

// Profiles returns the profiles with a model, sorted.
func (m *Manager) Profiles() []Built {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Built
	for _, vs := range m.versions {
		if len(vs) > 0 {
			out = append(out, vs[len(vs)-1].Built)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Profile < out[j].Profile })
	return out
}

// memFile is an anonymous file in memory that a path (/proc/self/fd/N)
// opens, for libraries that read files by name.
func memFile(name string) (*os.File, error) {
	fd, err := unix.MemfdCreate(name, unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("lm: memfd: %w", err)
	}
	return os.NewFile(uintptr(fd), name), nil
}
