package plugins

import (
	"context"
	"maps"
	"slices"
	"sync"

	"github.com/earshot/earshot/plugins/sdk"
)

// Settings is the host's source of administrator decisions. The daemon
// implements it over the store's settings; the host reads it on every call,
// so an implementation must be cheap (cache in memory) and changes take
// effect at the next call. A plugin with no settings yet is disabled.
type Settings interface {
	// PluginSettings returns the administrator's settings for one plugin.
	PluginSettings(ctx context.Context, name string) (PluginSettings, error)
	// LocalModelsOnly reports whether local-models-only mode is on.
	LocalModelsOnly(ctx context.Context) (bool, error)
}

// PluginSettings is what an administrator decided about one plugin.
type PluginSettings struct {
	// Enabled: plugins are disabled by default.
	Enabled bool
	// ApprovedScopes: the plugin receives a field only if its manifest
	// requests the scope and it is listed here.
	ApprovedScopes []sdk.Scope
	// LocalConfirmed: the administrator confirmed that a model plugin whose
	// manifest declares runs_locally really runs on this site. Without it
	// every model plugin counts as a third-party model.
	LocalConfirmed bool
	// Config is handed to the plugin's Configure hook after every start
	// (paths, URLs, secrets). Changing it takes effect at Host.Restart.
	Config map[string]string
	// ApprovedSHA256 is the checksum of the binary an administrator
	// approved. A plugin runs only while its installed binary has this
	// checksum: a replaced binary waits, stopped, for a new approval.
	ApprovedSHA256 string
	// ReadPaths and WritePaths are the files and folders outside its own
	// the plugin may read, and read and write (its sandbox denies every
	// other path). They must exist and stay clear of the data directory
	// and the plugin directory. Changing them takes effect at Host.Restart.
	ReadPaths  []string
	WritePaths []string
	// KnowledgeQueue scopes the articles a knowledge plugin syncs to one
	// queue: only readers of that queue see them. Empty: every reader of
	// the knowledge base sees them (a site-wide source). The administrator
	// chooses it; the plugin cannot.
	KnowledgeQueue string
}

// approved reports whether the settings enable the plugin whose installed
// manifest is m.
func (ps PluginSettings) approved(m Manifest) bool {
	return ps.Enabled && ps.ApprovedSHA256 != "" && ps.ApprovedSHA256 == m.SHA256
}

// Auditor records every hand-over of customer content to a plugin. The
// daemon implements it over the store's audit log. The host calls it before
// the plugin call and refuses the call if it fails.
type Auditor interface {
	// RecordHandover records that plugin is about to receive, in a call of
	// the given kind ("info", "skill", "model", "sink"), the named fields
	// (scope names, plus "skill_input" for skill arguments) of engagement
	// engagementID. The arguments are IDs and names, never content.
	RecordHandover(ctx context.Context, plugin, kind, engagementID string, fields []string) error
}

// MemSettings is an in-memory Settings, safe for concurrent use: for tests
// and for wiring the host before the store-backed source exists.
type MemSettings struct {
	mu        sync.Mutex
	localOnly bool
	plugins   map[string]PluginSettings
}

var _ Settings = (*MemSettings)(nil)

// NewMemSettings returns settings with every plugin disabled.
func NewMemSettings(localModelsOnly bool) *MemSettings {
	return &MemSettings{localOnly: localModelsOnly, plugins: map[string]PluginSettings{}}
}

// Set replaces one plugin's settings.
func (m *MemSettings) Set(name string, s PluginSettings) {
	s = s.clone()
	m.mu.Lock()
	m.plugins[name] = s
	m.mu.Unlock()
}

// SetLocalModelsOnly switches local-models-only mode.
func (m *MemSettings) SetLocalModelsOnly(on bool) {
	m.mu.Lock()
	m.localOnly = on
	m.mu.Unlock()
}

// PluginSettings implements Settings.
func (m *MemSettings) PluginSettings(_ context.Context, name string) (PluginSettings, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.plugins[name].clone(), nil
}

// LocalModelsOnly implements Settings.
func (m *MemSettings) LocalModelsOnly(context.Context) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.localOnly, nil
}

func (ps PluginSettings) clone() PluginSettings {
	ps.ApprovedScopes = slices.Clone(ps.ApprovedScopes)
	ps.Config = maps.Clone(ps.Config)
	ps.ReadPaths = slices.Clone(ps.ReadPaths)
	ps.WritePaths = slices.Clone(ps.WritePaths)
	return ps
}
