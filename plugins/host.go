package plugins

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/earshot/earshot/plugins/sdk"
)

// Config configures the Host.
type Config struct {
	// Dir holds one folder per installed plugin.
	Dir string `json:"dir"`
	// InfoTimeout is the deadline of live info calls; CallTimeout that of
	// every other call. A caller's earlier deadline wins.
	InfoTimeout time.Duration `json:"info_timeout"`
	CallTimeout time.Duration `json:"call_timeout"`
	// StartTimeout bounds a plugin's start (handshake, Info, Configure).
	StartTimeout time.Duration `json:"start_timeout"`
	// MaxInFlight bounds the calls in flight per plugin; more are refused
	// at once with ErrBusy.
	MaxInFlight int `json:"max_in_flight"`
	// RestartBackoffMin and RestartBackoffMax bound the exponential delay
	// before restarting a plugin that crashed or failed to start.
	RestartBackoffMin time.Duration `json:"restart_backoff_min"`
	RestartBackoffMax time.Duration `json:"restart_backoff_max"`
	// BreakerFailures consecutive timeouts or transport failures open a
	// plugin's circuit breaker for BreakerCooldown; opening it also
	// restarts the process, which may be hung.
	BreakerFailures int           `json:"breaker_failures"`
	BreakerCooldown time.Duration `json:"breaker_cooldown"`
	// SuperviseInterval is how often Run checks for exited plugins, due
	// restarts and changed enabled state.
	SuperviseInterval time.Duration `json:"supervise_interval"`
	// MaxBinaryBytes bounds a plugin's executable: larger files are
	// refused at install and start before being hashed whole.
	MaxBinaryBytes int64 `json:"max_binary_bytes"`
	// MaxResponseBytes bounds one answer of a plugin (a larger one fails
	// the call and counts towards the plugin's breaker).
	MaxResponseBytes int `json:"max_response_bytes"`
	// Knowledge bounds one sync of a knowledge plugin (Host.SyncKnowledge).
	Knowledge KnowledgeLimits `json:"knowledge"`
	// Sandbox confines the plugin processes.
	Sandbox SandboxConfig `json:"sandbox"`
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		Dir:               "/var/lib/earshot/plugins",
		InfoTimeout:       500 * time.Millisecond,
		CallTimeout:       10 * time.Second,
		StartTimeout:      10 * time.Second,
		MaxInFlight:       16,
		RestartBackoffMin: 250 * time.Millisecond,
		RestartBackoffMax: 30 * time.Second,
		BreakerFailures:   5,
		BreakerCooldown:   10 * time.Second,
		SuperviseInterval: 250 * time.Millisecond,
		MaxBinaryBytes:    256 << 20,
		MaxResponseBytes:  8 << 20,
		Knowledge:         DefaultKnowledgeLimits(),
		Sandbox:           DefaultSandboxConfig(),
	}
}

// Validate reports the first invalid field.
func (c Config) Validate() error {
	switch {
	case c.Dir == "":
		return errors.New("plugins: config dir is empty")
	case c.InfoTimeout <= 0:
		return fmt.Errorf("plugins: config info_timeout must be positive, got %s", c.InfoTimeout)
	case c.CallTimeout <= 0:
		return fmt.Errorf("plugins: config call_timeout must be positive, got %s", c.CallTimeout)
	case c.StartTimeout <= 0:
		return fmt.Errorf("plugins: config start_timeout must be positive, got %s", c.StartTimeout)
	case c.MaxInFlight <= 0:
		return fmt.Errorf("plugins: config max_in_flight must be positive, got %d", c.MaxInFlight)
	case c.RestartBackoffMin <= 0 || c.RestartBackoffMax < c.RestartBackoffMin:
		return fmt.Errorf("plugins: config restart_backoff_min (%s) must be positive and at most restart_backoff_max (%s)", c.RestartBackoffMin, c.RestartBackoffMax)
	case c.BreakerFailures <= 0:
		return fmt.Errorf("plugins: config breaker_failures must be positive, got %d", c.BreakerFailures)
	case c.BreakerCooldown <= 0:
		return fmt.Errorf("plugins: config breaker_cooldown must be positive, got %s", c.BreakerCooldown)
	case c.SuperviseInterval <= 0:
		return fmt.Errorf("plugins: config supervise_interval must be positive, got %s", c.SuperviseInterval)
	case c.MaxBinaryBytes <= 0:
		return fmt.Errorf("plugins: config max_binary_bytes must be positive, got %d", c.MaxBinaryBytes)
	case c.MaxResponseBytes < 64<<10:
		return fmt.Errorf("plugins: config max_response_bytes must be at least 65536, got %d", c.MaxResponseBytes)
	case int64(c.Knowledge.PageSize)*int64(c.Knowledge.MaxArticleBytes) > int64(c.MaxResponseBytes):
		return fmt.Errorf("plugins: config knowledge: a page (page_size × max_article_bytes = %d) must fit in max_response_bytes (%d)",
			int64(c.Knowledge.PageSize)*int64(c.Knowledge.MaxArticleBytes), c.MaxResponseBytes)
	}
	if err := c.Knowledge.Validate(); err != nil {
		return err
	}
	return c.Sandbox.Validate()
}

// Host runs the installed plugins and is the daemon's only way to call
// them. It is safe for concurrent use.
type Host struct {
	cfg      Config
	log      *slog.Logger
	hclog    hclog.Logger
	m        *metrics
	settings Settings
	audit    Auditor
	sandbox  *sandbox

	bg        sync.WaitGroup // start and kill goroutines
	installMu sync.Mutex     // serialises Install and Uninstall
	shutdown  atomic.Bool    // set by Close; read without mu (lock order is mu before instance.mu)
	ticks     atomic.Uint64  // supervision rounds done (tests wait on it)

	mu     sync.Mutex
	insts  map[string]*instance // +checklocks:mu
	broken map[string]error     // folders whose manifest is invalid; +checklocks:mu
	closed bool                 // +checklocks:mu
}

// New returns a Host over cfg.Dir, loading the manifests found there. A
// nil logger discards; a nil reg registers nothing. settings and auditor
// are required: the host never hands data over without them.
func New(cfg Config, logger *slog.Logger, reg prometheus.Registerer, settings Settings, auditor Auditor) (*Host, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if settings == nil || auditor == nil {
		return nil, errors.New("plugins: settings and auditor are required")
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
	logger = logger.With("component", "plugins")
	h := &Host{
		cfg: cfg, log: logger, hclog: newHCLogAdapter(logger, m.leftovers), m: m,
		settings: settings, audit: auditor,
		insts: map[string]*instance{}, broken: map[string]error{},
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil { // #nosec G301 -- the plugins folder (code and manifests), readable by the plugins' own users
		return nil, fmt.Errorf("plugins: %w", err)
	}
	sb, err := newSandbox(cfg.Sandbox, cfg.Dir)
	if err != nil {
		return nil, err
	}
	h.sandbox = sb
	m.landlockABI.WithLabelValues().Set(float64(sb.abi))
	if sb.abi == 0 {
		if cfg.Sandbox.AllowUnconfined {
			logger.Warn("this kernel has no Landlock: plugins run UNCONFINED (plugins.sandbox.allow_unconfined is set) and can read whatever their user can")
		} else {
			logger.Warn("this kernel has no Landlock: plugins will not start; set plugins.sandbox.allow_unconfined to run them unconfined")
		}
	}
	if err := h.Rescan(); err != nil {
		sb.close()
		return nil, err
	}
	return h, nil
}

// Rescan reads the manifests in the plugin directory: new plugins appear,
// removed ones are stopped, and a changed manifest restarts its plugin.
// An invalid manifest is logged and listed by Broken, not fatal.
func (h *Host) Rescan() error {
	entries, err := os.ReadDir(h.cfg.Dir)
	if err != nil {
		return fmt.Errorf("plugins: %w", err)
	}
	found := map[string]Manifest{}
	broken := map[string]error{}
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") || strings.HasSuffix(e.Name(), ".old") {
			continue
		}
		m, err := ReadManifest(filepath.Join(h.cfg.Dir, e.Name()))
		if err == nil && m.Name != e.Name() {
			err = fmt.Errorf("%w: %s: name %q differs from its folder's", ErrManifest, e.Name(), m.Name)
		}
		if err == nil && m.SHA256 == "" {
			err = fmt.Errorf("%w: %s: no sha256 recorded: install the plugin with the host", ErrManifest, e.Name())
		}
		if err != nil {
			broken[e.Name()] = err
			h.log.Warn("plugin manifest refused", "plugin", e.Name(), "err", err)
			continue
		}
		found[m.Name] = m
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return ErrClosed
	}
	h.broken = broken
	for name, inst := range h.insts {
		if _, ok := found[name]; !ok {
			inst.stop("uninstalled")
			delete(h.insts, name)
		}
	}
	for name, m := range found {
		if inst, ok := h.insts[name]; ok {
			inst.setManifest(m)
			continue
		}
		h.insts[name] = newInstance(h, m)
	}
	return nil
}

// Install copies a plugin from src (a folder holding manifest.json and
// the executable) into the plugin directory, records the binary's SHA-256
// in the installed manifest, and loads it. A plugin of the same name that
// is already installed is not touched: the error wraps ErrExists (use
// Replace). The plugin stays stopped until an administrator enables it and
// approves its checksum (PluginSettings.ApprovedSHA256).
func (h *Host) Install(src string) (Manifest, error) {
	return h.install(src, false)
}

// Replace installs src like Install, replacing an installed plugin of the
// same name. A new binary runs only once an administrator approves its
// checksum: until then the plugin is stopped and calls fail with
// ErrNotApproved. Scopes the new manifest adds are handed over only once
// approved.
func (h *Host) Replace(src string) (Manifest, error) {
	return h.install(src, true)
}

func (h *Host) install(src string, replace bool) (Manifest, error) {
	h.installMu.Lock()
	defer h.installMu.Unlock()
	var old *Manifest
	m, err := installFiles(h.cfg.Dir, src, h.cfg.MaxBinaryBytes, func(m Manifest) error {
		if inst, err := h.lookup(m.Name); err == nil {
			om := inst.getManifest()
			old = &om
		} else if _, err := os.Lstat(filepath.Join(h.cfg.Dir, m.Name)); err == nil {
			old = &Manifest{Name: m.Name} // a folder the host refused (Broken)
		}
		if old != nil && !replace {
			return fmt.Errorf("plugins/%s: %w: replace it explicitly (its binary and new scopes then need approval again)", m.Name, ErrExists)
		}
		return nil
	})
	if err != nil {
		return Manifest{}, err
	}
	if old != nil {
		h.log.Info("plugin replaced", "plugin", m.Name, "version", m.Version, "sha256", m.SHA256,
			"old_version", old.Version, "old_sha256", old.SHA256)
	} else {
		h.log.Info("plugin installed", "plugin", m.Name, "version", m.Version, "sha256", m.SHA256)
	}
	return m, h.Rescan()
}

// Uninstall stops a plugin and removes its folder.
func (h *Host) Uninstall(name string) error {
	h.installMu.Lock()
	defer h.installMu.Unlock()
	if _, err := h.lookup(name); err != nil {
		return err
	}
	if err := os.RemoveAll(filepath.Join(h.cfg.Dir, name)); err != nil {
		return fmt.Errorf("plugins: %w", err)
	}
	return h.Rescan()
}

// Restart stops a plugin's process (if any) and clears its refusal and
// backoff, so that the next call or supervision tick starts it afresh with
// the current settings (e.g. a changed Config).
func (h *Host) Restart(name string) error {
	inst, err := h.lookup(name)
	if err != nil {
		return err
	}
	inst.stop("restart requested")
	return nil
}

// Status is one installed plugin's state for the admin API.
type Status struct {
	Manifest    Manifest
	State       string // stopped, starting, running, backoff, refused
	PID         int    // 0 unless running
	Restarts    int    // restarts after crashes, hangs and breaker trips
	LastError   string // why it last stopped or was refused
	BreakerOpen bool
}

// Plugins lists the installed plugins, by name.
func (h *Host) Plugins() []Status {
	h.mu.Lock()
	insts := make([]*instance, 0, len(h.insts))
	for _, inst := range h.insts {
		insts = append(insts, inst)
	}
	h.mu.Unlock()
	out := make([]Status, 0, len(insts))
	for _, inst := range insts {
		out = append(out, inst.status())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Manifest.Name < out[j].Manifest.Name })
	return out
}

// Plugin returns one plugin's status.
func (h *Host) Plugin(name string) (Status, error) {
	inst, err := h.lookup(name)
	if err != nil {
		return Status{}, err
	}
	return inst.status(), nil
}

// Broken lists the plugin folders whose manifest was refused, with why.
func (h *Host) Broken() map[string]error {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make(map[string]error, len(h.broken))
	for k, v := range h.broken {
		out[k] = v
	}
	return out
}

// Enabled returns the names of the plugins serving kind that are enabled
// now, sorted; the daemon fans live calls out to them.
func (h *Host) Enabled(ctx context.Context, kind sdk.Kind) []string {
	var names []string
	for _, st := range h.Plugins() {
		if !slices.Contains(st.Manifest.Kinds, kind) {
			continue
		}
		ps, err := h.settings.PluginSettings(ctx, st.Manifest.Name)
		if err == nil && ps.approved(st.Manifest) {
			names = append(names, st.Manifest.Name)
		}
	}
	return names
}

func (h *Host) lookup(name string) (*instance, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, ErrClosed
	}
	inst, ok := h.insts[name]
	if !ok {
		return nil, fmt.Errorf("plugins/%s: %w", name, ErrUnknownPlugin)
	}
	return inst, nil
}

// Run starts the enabled plugins and supervises them until ctx is done:
// it restarts crashed plugins when their backoff has passed, starts
// plugins that were enabled and stops those that were disabled. On return
// every plugin process has been killed. Cancellation is not an error.
func (h *Host) Run(ctx context.Context) error {
	t := time.NewTicker(h.cfg.SuperviseInterval)
	defer t.Stop()
	defer h.Close()
	for {
		h.supervise(ctx)
		h.ticks.Add(1)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (h *Host) supervise(ctx context.Context) {
	h.mu.Lock()
	insts := make([]*instance, 0, len(h.insts))
	for _, inst := range h.insts {
		insts = append(insts, inst)
	}
	h.mu.Unlock()
	for _, inst := range insts {
		ps, err := h.settings.PluginSettings(ctx, inst.name)
		if err != nil {
			h.log.Warn("plugin settings unavailable", "plugin", inst.name, "err", err)
			continue
		}
		inst.supervise(ps.approved(inst.getManifest()))
	}
}

// Close kills every plugin process and waits for them. Calls after Close
// fail with ErrClosed.
func (h *Host) Close() error {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		h.bg.Wait()
		return nil
	}
	h.closed = true
	h.shutdown.Store(true)
	insts := h.insts
	h.mu.Unlock()
	for _, inst := range insts {
		inst.stop("host closed")
	}
	h.bg.Wait()
	h.sandbox.close()
	return nil
}

func (h *Host) backoff(n int) time.Duration {
	d := h.cfg.RestartBackoffMin
	for i := 1; i < n && d < h.cfg.RestartBackoffMax; i++ {
		d *= 2
	}
	return min(d, h.cfg.RestartBackoffMax)
}
