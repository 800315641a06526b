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
// resolved.
func pluginHostConfig(c Config) plugins.Config {
	cfg := c.Plugins
	if cfg.Dir == "" {
		cfg.Dir = filepath.Join(c.DataDir, "plugins")
	}
	// No plugin may be granted a path in the data directory.
	cfg.Sandbox.Protect = append(slices.Clone(cfg.Sandbox.Protect), c.DataDir)
	return cfg
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

// pluginView is a plugin as the admin API shows it.
type pluginView struct {
	plugins.Status
	Settings plugins.PluginSettings `json:"settings"`
}

func (d *Daemon) pluginRoutes() []route {
	return []route{
		{"GET", "/api/v1/plugins", adminOnly, "Installed plugins with their state and settings", d.listPlugins},
		{"POST", "/api/v1/plugins", adminOnly, "Install a plugin from a folder on this machine (binary + manifest.json); it stays disabled", d.installPlugin},
		{"PUT", "/api/v1/plugins/{name}/settings", adminOnly, "Enable or disable a plugin, approve scopes, confirm a local model, set its configuration", d.putPluginSettings},
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
	out := []pluginView{}
	for _, st := range d.plugins.Plugins() {
		out = append(out, pluginView{Status: st, Settings: settings[st.Manifest.Name]})
	}
	resp := map[string]any{"plugins": out, "broken": d.plugins.Broken()}
	if d.storeKeys != nil {
		if st, err := d.storeKeys.Host().Plugin(d.cfg.Store.Keys.Plugin.Name); err == nil {
			resp["store_keys"] = st
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

func (d *Daemon) putPluginSettings(w http.ResponseWriter, r *http.Request, p *Principal) {
	name := r.PathValue("name")
	if d.keysPluginReserved(w, r, name) {
		return
	}
	st, err := d.plugins.Plugin(name)
	if err != nil {
		writeProblem(w, r, http.StatusNotFound, "not-found", "no such plugin")
		return
	}
	var req plugins.PluginSettings
	if !d.decodeJSON(w, r, &req) {
		return
	}
	for _, sc := range req.ApprovedScopes {
		if !slices.Contains(st.Manifest.Scopes, sc) {
			d.badRequest(w, r, 400, fmt.Sprintf("scope %q is not one the plugin's manifest requests %v", sc, st.Manifest.Scopes), "approved_scopes")
			return
		}
	}
	// Enabling approves the installed binary; an approval naming another
	// checksum is stale (the plugin was replaced since it was reviewed).
	switch {
	case req.ApprovedSHA256 == "" && req.Enabled:
		req.ApprovedSHA256 = st.Manifest.SHA256
	case req.ApprovedSHA256 != "" && req.ApprovedSHA256 != st.Manifest.SHA256:
		writeProblem(w, r, http.StatusConflict, "plugin-changed",
			fmt.Sprintf("plugin %q is installed with sha256 %s, not the approved %s: review the installed plugin", name, st.Manifest.SHA256, req.ApprovedSHA256))
		return
	}
	if field, err := d.plugins.CheckGrants(req); err != nil {
		d.badRequest(w, r, 400, err.Error(), field)
		return
	}
	old, _ := d.pluginSettings.PluginSettings(r.Context(), name)
	scopes := make([]string, len(req.ApprovedScopes))
	for i, sc := range req.ApprovedScopes {
		scopes[i] = string(sc)
	}
	a := auditEntry(r, p, "plugin.settings", name)
	a.Detail["enabled"] = fmt.Sprint(req.Enabled)
	a.Detail["scopes"] = strings.Join(scopes, ",")
	a.Detail["local_confirmed"] = fmt.Sprint(req.LocalConfirmed)
	a.Detail["approved_sha256"] = req.ApprovedSHA256
	a.Detail["read_paths"] = strings.Join(req.ReadPaths, ",")
	a.Detail["write_paths"] = strings.Join(req.WritePaths, ",")
	if err := d.pluginSettings.set(r.Context(), name, req, a); err != nil {
		d.storeError(w, r, err)
		return
	}
	if fmt.Sprint(old.Config, old.ReadPaths, old.WritePaths) != fmt.Sprint(req.Config, req.ReadPaths, req.WritePaths) {
		d.plugins.Restart(name)
	}
	writeJSON(w, 200, req)
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
