package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/earshot/earshot/daemon/api"
	"github.com/earshot/earshot/inference"
	"github.com/earshot/earshot/plugins"
	"github.com/earshot/earshot/plugins/sdk"
	"github.com/earshot/earshot/store"
	storekeys "github.com/earshot/earshot/store/keys"
)

// Event type of information-retrieval cards from info plugins.
const EventInfoCards = "info.cards"

const settingPlugins = "plugins"

// pluginSettings keeps the administrators' plugin settings in memory and in
// the store; it implements plugins.Settings.
type pluginSettings struct {
	st       *store.Store
	controls *Controls

	mu sync.RWMutex
	// +checklocks:mu
	cur map[string]plugins.PluginSettings
}

func newPluginSettings(st *store.Store, c *Controls) (*pluginSettings, error) {
	ps := &pluginSettings{st: st, controls: c, cur: map[string]plugins.PluginSettings{}}
	if err := st.Setting(settingPlugins, &ps.cur); err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("daemon: load plugin settings: %w", err)
	}
	return ps, nil
}

func (ps *pluginSettings) PluginSettings(ctx context.Context, name string) (plugins.PluginSettings, error) {
	ps.mu.RLock()
	defer ps.mu.RUnlock()
	return ps.cur[name], nil
}

func (ps *pluginSettings) LocalModelsOnly(ctx context.Context) (bool, error) {
	return ps.controls.LocalModelsOnly(), nil
}

func (ps *pluginSettings) all() map[string]plugins.PluginSettings {
	ps.mu.RLock()
	defer ps.mu.RUnlock()
	out := make(map[string]plugins.PluginSettings, len(ps.cur))
	for k, v := range ps.cur {
		out[k] = v
	}
	return out
}

func (ps *pluginSettings) set(ctx context.Context, name string, v plugins.PluginSettings, audit store.AuditEntry) error {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	next := make(map[string]plugins.PluginSettings, len(ps.cur)+1)
	for k, x := range ps.cur {
		next[k] = x
	}
	next[name] = v
	if err := ps.st.PutSetting(ctx, settingPlugins, next, audit); err != nil {
		return err
	}
	ps.cur = next
	return nil
}

// storeAuditor records every hand-over of customer content to a plugin in
// the audit log; it implements plugins.Auditor.
type storeAuditor struct{ st *store.Store }

func (a storeAuditor) RecordHandover(ctx context.Context, plugin, kind, engagementID string, fields []string) error {
	return a.st.AppendAudit(ctx, store.AuditEntry{Actor: "plugin:" + plugin, Action: "plugin.handover", Engagement: engagementID,
		Feature: kind, Detail: map[string]string{"fields": strings.Join(fields, ",")}})
}

// pluginHostConfig is the plugin host's configuration with its directory
// resolved. The sandbox works on absolute paths: a relative data
// directory (the embedded default, ./earshot-data) is taken from the
// working directory.
func pluginHostConfig(c Config) plugins.Config {
	cfg := c.Plugins
	dataDir := absPath(c.DataDir)
	if cfg.Dir == "" {
		cfg.Dir = filepath.Join(dataDir, "plugins")
	}
	cfg.Dir = absPath(cfg.Dir)
	// No plugin may be granted a path in the data directory.
	cfg.Sandbox.Protect = append(slices.Clone(cfg.Sandbox.Protect), dataDir)
	return cfg
}

// absPath returns p made absolute against the working directory, or p
// when that cannot be known.
func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

// openStoreKeys starts the keys plugin named in store.keys.plugin, when it
// is the store's key provider, before the store opens. It returns nil for
// the other providers.
func openStoreKeys(c Config, logger *slog.Logger, reg prometheus.Registerer) (*plugins.StoreKeys, error) {
	if c.Store.Keys.Provider != storekeys.ProviderPlugin {
		return nil, nil
	}
	kc := c.Store.Keys.Plugin
	k, err := plugins.NewStoreKeys(pluginHostConfig(c), plugins.KeysPluginConfig{
		Name: kc.Name, SHA256: kc.SHA256, KeyPrefix: kc.KeyPrefix, Config: kc.Config,
		ReadPaths: kc.ReadPaths, WritePaths: kc.WritePaths,
	}, logger, reg)
	if err != nil {
		return nil, fmt.Errorf("daemon: store.keys.plugin: %w", err)
	}
	return k, nil
}

var _ storekeys.Provider = (*plugins.StoreKeys)(nil)

// isStoreKeys reports whether plugin name is the store's key provider.
func (d *Daemon) isStoreKeys(name string) bool {
	return d.storeKeys != nil && name == d.cfg.Store.Keys.Plugin.Name
}

// keysPluginReserved refuses admin changes to the plugin that serves as
// the store's key provider: it is configured in the configuration file,
// and disabling, reconfiguring or replacing it through the API would lock
// the store.
func (d *Daemon) keysPluginReserved(w http.ResponseWriter, r *http.Request, name string) bool {
	if !d.isStoreKeys(name) {
		return false
	}
	writeProblem(w, r, http.StatusConflict, "plugin-reserved",
		fmt.Sprintf("plugin %q is the store's key provider; it is managed in store.keys.plugin of the configuration file", name))
	return true
}

func newPluginHost(d *Daemon, logger *slog.Logger) (*plugins.Host, *pluginSettings, error) {
	cfg := pluginHostConfig(d.cfg)
	ps, err := newPluginSettings(d.store, d.controls)
	if err != nil {
		return nil, nil, err
	}
	h, err := plugins.New(cfg, logger, d.reg, ps, storeAuditor{d.store})
	if err != nil {
		return nil, nil, err
	}
	if err := ps.approveInstalled(h.Plugins(), logger); err != nil {
		return nil, nil, err
	}
	return h, ps, nil
}

// approveInstalled carries plugins enabled before binaries needed an
// approved checksum over an upgrade: such a plugin was installed by an
// administrator, who then enabled it, and every start since has verified
// its binary against the checksum recorded at install. That checksum
// becomes the approved one, once, audited; a binary replaced later still
// waits for a new approval.
func (ps *pluginSettings) approveInstalled(installed []plugins.Status, logger *slog.Logger) error {
	for _, st := range installed {
		cur, _ := ps.PluginSettings(context.Background(), st.Manifest.Name)
		if !cur.Enabled || cur.ApprovedSHA256 != "" || st.Manifest.SHA256 == "" {
			continue
		}
		cur.ApprovedSHA256 = st.Manifest.SHA256
		a := store.AuditEntry{Actor: "system", Action: "plugin.approve.upgrade", Target: st.Manifest.Name,
			Detail: map[string]string{"approved_sha256": cur.ApprovedSHA256}}
		if err := ps.set(context.Background(), st.Manifest.Name, cur, a); err != nil {
			return fmt.Errorf("daemon: approve installed plugin %s: %w", st.Manifest.Name, err)
		}
		logger.Info("enabled plugin's installed checksum approved on upgrade", "plugin", st.Manifest.Name, "sha256", cur.ApprovedSHA256)
	}
	return nil
}

// infoRetrieval asks the enabled info plugins for customer cards when an
// engagement's customer reference or detected intents change. Calls run
// off the engagement's goroutine, bounded by the host's deadline, so a
// slow plugin never delays the transcript.
type infoRetrieval struct {
	d   *Daemon
	sem chan struct{} // bounds concurrent lookups across engagements
}

// The cards' event names the intents only when showIntents (next best
// actions, which show detected intents, are on for the engagement).
func (ir *infoRetrieval) lookup(e *store.Engagement, intents []inference.Intent, showIntents bool, emit func(string, any)) {
	select {
	case ir.sem <- struct{}{}:
	default:
		return // saturated: skip this lookup rather than queue behind it
	}
	names := make([]string, len(intents))
	for i, it := range intents {
		names[i] = it.Name
	}
	eng := sdk.Engagement{EngagementID: e.ID, Channel: e.Channel, CustomerRef: e.CustomerRef, Intents: names}
	go func() {
		defer func() { <-ir.sem }()
		ctx, cancel := context.WithTimeout(ir.d.hub.Context(), 2*time.Second)
		defer cancel()
		for _, pc := range ir.d.plugins.CardsAll(ctx, eng) {
			if pc.Err != nil || len(pc.Cards) == 0 {
				continue
			}
			data := map[string]any{"plugin": pc.Plugin, "cards": pc.Cards}
			if showIntents {
				data["intents"] = names
			}
			emit(EventInfoCards, data)
		}
	}()
}

// viewPluginSettings is a plugin's settings as the API shows them.
func viewPluginSettings(ps plugins.PluginSettings) api.PluginSettings {
	v := api.PluginSettings{Enabled: ps.Enabled, ApprovedScopes: []string{}, LocalConfirmed: ps.LocalConfirmed, Config: ps.Config,
		ApprovedSHA256: ps.ApprovedSHA256, ReadPaths: ps.ReadPaths, WritePaths: ps.WritePaths, KnowledgeQueue: ps.KnowledgeQueue}
	for _, sc := range ps.ApprovedScopes {
		v.ApprovedScopes = append(v.ApprovedScopes, string(sc))
	}
	if v.Config == nil {
		v.Config = map[string]string{}
	}
	if v.ReadPaths == nil {
		v.ReadPaths = []string{}
	}
	if v.WritePaths == nil {
		v.WritePaths = []string{}
	}
	return v
}

// viewPluginStatus is a plugin's state as the API shows it.
func viewPluginStatus(st plugins.Status) api.PluginStatus {
	m := st.Manifest
	v := api.PluginStatus{State: st.State, PID: st.PID, Restarts: st.Restarts, LastError: st.LastError, BreakerOpen: st.BreakerOpen,
		Manifest: api.PluginManifest{Name: m.Name, Version: m.Version, Description: m.Description, Executable: m.Executable,
			RunsLocally: m.RunsLocally, SHA256: m.SHA256, Kinds: []string{}}}
	for _, k := range m.Kinds {
		v.Manifest.Kinds = append(v.Manifest.Kinds, string(k))
	}
	for _, sc := range m.Scopes {
		v.Manifest.Scopes = append(v.Manifest.Scopes, string(sc))
	}
	return v
}

func (d *Daemon) pluginRoutes() []route {
	return []route{
		{"GET", "/api/v1/plugins", adminOnly, "Installed plugins with their state and settings", d.listPlugins},
		{"POST", "/api/v1/plugins", adminOnly, "Install a plugin from a folder on this machine (binary + manifest.json); it stays disabled", d.installPlugin},
		{"PUT", "/api/v1/plugins/{name}/settings", adminOnly, "Replace a plugin's settings: enabled, approved scopes, local model confirmation, configuration (every member required)", d.replacePluginSettings},
		{"PATCH", "/api/v1/plugins/{name}/settings", adminOnly, "Change the plugin settings given (enable, approve scopes, ...), keep the others", d.patchPluginSettings},
		{"POST", "/api/v1/plugins/{name}/restart", adminOnly, "Restart a plugin (applies a new configuration, retries a refused one)", d.restartPlugin},
		{"DELETE", "/api/v1/plugins/{name}", adminOnly, "Uninstall a plugin", d.uninstallPlugin},
	}
}

func (d *Daemon) pluginError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, plugins.ErrUnknownPlugin):
		writeProblem(w, r, http.StatusNotFound, "not-found", err.Error())
	case errors.Is(err, plugins.ErrManifest), errors.Is(err, plugins.ErrChecksum), errors.Is(err, plugins.ErrIncompatible),
		errors.Is(err, plugins.ErrTooLarge):
		d.badRequest(w, r, 400, err.Error(), "source_dir")
	case errors.Is(err, plugins.ErrExists):
		writeProblem(w, r, http.StatusConflict, "plugin-exists", err.Error())
	default:
		writeProblem(w, r, http.StatusConflict, "plugin", err.Error())
	}
}

func (d *Daemon) listPlugins(w http.ResponseWriter, r *http.Request, p *Principal) {
	settings := d.pluginSettings.all()
	out := []api.Plugin{}
	for _, st := range d.plugins.Plugins() {
		out = append(out, api.Plugin{PluginStatus: viewPluginStatus(st), Settings: viewPluginSettings(settings[st.Manifest.Name])})
	}
	resp := api.PluginList{Plugins: out, Broken: map[string]string{}}
	for dir, err := range d.plugins.Broken() {
		resp.Broken[dir] = err.Error()
	}
	if d.storeKeys != nil {
		if st, err := d.storeKeys.Host().Plugin(d.cfg.Store.Keys.Plugin.Name); err == nil {
			v := viewPluginStatus(st)
			resp.StoreKeys = &v
		}
	}
	writeJSON(w, 200, resp)
}

func (d *Daemon) installPlugin(w http.ResponseWriter, r *http.Request, p *Principal) {
	var req struct {
		SourceDir string `json:"source_dir"`
		// Replace an installed plugin of the same name; its new binary
		// then waits, stopped, for approval.
		Replace bool `json:"replace"`
	}
	if !d.decodeJSON(w, r, &req) {
		return
	}
	if !filepath.IsAbs(req.SourceDir) {
		d.badRequest(w, r, 400, "source_dir must be an absolute path on this machine", "source_dir")
		return
	}
	if m, err := plugins.ReadManifest(req.SourceDir); err == nil && d.keysPluginReserved(w, r, m.Name) {
		return
	}
	install, action := d.plugins.Install, "plugin.install"
	if req.Replace {
		install, action = d.plugins.Replace, "plugin.replace"
	}
	m, err := install(req.SourceDir)
	if err != nil {
		d.pluginError(w, r, err)
		return
	}
	d.audit(r, p, action, m.Name+"@"+m.Version+" sha256:"+m.SHA256)
	writeJSON(w, http.StatusCreated, m)
}

func (d *Daemon) replacePluginSettings(w http.ResponseWriter, r *http.Request, p *Principal) {
	var req api.PluginSettings
	st, ok := d.pluginSettingsTarget(w, r)
	if !ok || !d.decodeReplace(w, r, &req, "enabled", "approved_scopes", "local_confirmed", "config", "read_paths", "write_paths") {
		return
	}
	// approved_sha256 may be left out: enabling approves the installed
	// binary.
	d.updatePluginSettings(w, r, p, st, api.PluginSettingsPatch{Enabled: &req.Enabled, ApprovedScopes: &req.ApprovedScopes,
		LocalConfirmed: &req.LocalConfirmed, Config: &req.Config, ApprovedSHA256: &req.ApprovedSHA256,
		ReadPaths: &req.ReadPaths, WritePaths: &req.WritePaths, KnowledgeQueue: &req.KnowledgeQueue})
}

func (d *Daemon) patchPluginSettings(w http.ResponseWriter, r *http.Request, p *Principal) {
	var req api.PluginSettingsPatch
	st, ok := d.pluginSettingsTarget(w, r)
	if !ok || !d.decodePatch(w, r, &req) {
		return
	}
	d.updatePluginSettings(w, r, p, st, req)
}

// pluginSettingsTarget returns the installed plugin named in the path, if
// it is the administrators' to configure.
func (d *Daemon) pluginSettingsTarget(w http.ResponseWriter, r *http.Request) (plugins.Status, bool) {
	name := r.PathValue("name")
	if d.keysPluginReserved(w, r, name) {
		return plugins.Status{}, false
	}
	st, err := d.plugins.Plugin(name)
	if err != nil {
		writeProblem(w, r, http.StatusNotFound, "not-found", "no such plugin")
		return plugins.Status{}, false
	}
	return st, true
}

// updatePluginSettings applies the members of c that are set to the
// settings of the installed plugin st, keeps the others, and restarts the
// plugin when its configuration or path grants changed.
func (d *Daemon) updatePluginSettings(w http.ResponseWriter, r *http.Request, p *Principal, st plugins.Status, c api.PluginSettingsPatch) {
	name := st.Manifest.Name
	old, _ := d.pluginSettings.PluginSettings(r.Context(), name)
	next := old
	if c.Enabled != nil {
		next.Enabled = *c.Enabled
	}
	if c.ApprovedScopes != nil {
		next.ApprovedScopes = []sdk.Scope{}
		for _, sc := range *c.ApprovedScopes {
			if !slices.Contains(st.Manifest.Scopes, sdk.Scope(sc)) {
				d.badRequest(w, r, 400, fmt.Sprintf("scope %q is not one the plugin's manifest requests %v", sc, st.Manifest.Scopes), "approved_scopes")
				return
			}
			next.ApprovedScopes = append(next.ApprovedScopes, sdk.Scope(sc))
		}
	}
	if c.LocalConfirmed != nil {
		next.LocalConfirmed = *c.LocalConfirmed
	}
	if c.Config != nil {
		next.Config = *c.Config
	}
	if c.ReadPaths != nil {
		next.ReadPaths = *c.ReadPaths
	}
	if c.WritePaths != nil {
		next.WritePaths = *c.WritePaths
	}
	if c.KnowledgeQueue != nil {
		q := *c.KnowledgeQueue
		if q != "" && !slices.Contains(st.Manifest.Kinds, sdk.KindKnowledge) {
			d.badRequest(w, r, 400, fmt.Sprintf("plugin %q is not a knowledge source", name), "knowledge_queue")
			return
		}
		if _, err := d.store.Queue(q); q != "" && err != nil {
			d.badRequest(w, r, 400, fmt.Sprintf("no queue %q", q), "knowledge_queue")
			return
		}
		next.KnowledgeQueue = q
	}
	// Enabling approves the installed binary; an approval naming another
	// checksum is stale (the plugin was replaced since it was reviewed).
	approval := ""
	if c.ApprovedSHA256 != nil {
		approval = *c.ApprovedSHA256
		next.ApprovedSHA256 = approval
	}
	switch {
	case approval != "" && approval != st.Manifest.SHA256:
		writeProblem(w, r, http.StatusConflict, "plugin-changed",
			fmt.Sprintf("plugin %q is installed with sha256 %s, not the approved %s: review the installed plugin", name, st.Manifest.SHA256, approval))
		return
	case approval == "" && c.Enabled != nil && *c.Enabled:
		next.ApprovedSHA256 = st.Manifest.SHA256
	}
	if field, err := d.plugins.CheckGrants(next); err != nil {
		d.badRequest(w, r, 400, err.Error(), field)
		return
	}
	view := viewPluginSettings(next)
	a := auditEntry(r, p, "plugin.settings", name)
	a.Detail["enabled"] = fmt.Sprint(view.Enabled)
	a.Detail["scopes"] = strings.Join(view.ApprovedScopes, ",")
	a.Detail["local_confirmed"] = fmt.Sprint(view.LocalConfirmed)
	a.Detail["approved_sha256"] = view.ApprovedSHA256
	a.Detail["read_paths"] = strings.Join(view.ReadPaths, ",")
	a.Detail["write_paths"] = strings.Join(view.WritePaths, ",")
	a.Detail["knowledge_queue"] = view.KnowledgeQueue
	if err := d.pluginSettings.set(r.Context(), name, next, a); err != nil {
		d.storeError(w, r, err)
		return
	}
	if fmt.Sprint(old.Config, old.ReadPaths, old.WritePaths) != fmt.Sprint(next.Config, next.ReadPaths, next.WritePaths) {
		d.plugins.Restart(name)
	}
	if old.KnowledgeQueue != next.KnowledgeQueue {
		// Articles already synced move to the new scope now, not at the
		// next change of each.
		if err := d.rescopeKnowledge(r.Context(), name, next.KnowledgeQueue); err != nil {
			d.storeError(w, r, err)
			return
		}
	}
	writeJSON(w, 200, view)
}

func (d *Daemon) restartPlugin(w http.ResponseWriter, r *http.Request, p *Principal) {
	name := r.PathValue("name")
	h := d.plugins
	if d.isStoreKeys(name) {
		h = d.storeKeys.Host() // the store's key provider restarts in its own host
	}
	if err := h.Restart(name); err != nil {
		d.pluginError(w, r, err)
		return
	}
	d.audit(r, p, "plugin.restart", name)
	writeJSON(w, http.StatusAccepted, map[string]string{"plugin": name, "status": "restarting"})
}

func (d *Daemon) uninstallPlugin(w http.ResponseWriter, r *http.Request, p *Principal) {
	name := r.PathValue("name")
	if d.keysPluginReserved(w, r, name) {
		return
	}
	if err := d.plugins.Uninstall(name); err != nil {
		d.pluginError(w, r, err)
		return
	}
	d.audit(r, p, "plugin.uninstall", name)
	w.WriteHeader(http.StatusNoContent)
}
