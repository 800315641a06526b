package plugins

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/earshot/earshot/plugins/sdk"
)

// CreateKey asks key plugin name to create key keyID (SDK API 1.1). A
// plugin that does not manage keys gives an error wrapping
// sdk.ErrUnsupported.
func (h *Host) CreateKey(ctx context.Context, name, keyID string) error {
	return h.call(ctx, name, sdk.KindKeys, nil, nil, func(ctx context.Context, r *sdk.Remote, _ sdk.Engagement) error {
		return r.CreateKey(ctx, keyID)
	})
}

// DestroyKey asks key plugin name to destroy key keyID, like CreateKey.
func (h *Host) DestroyKey(ctx context.Context, name, keyID string) error {
	return h.call(ctx, name, sdk.KindKeys, nil, nil, func(ctx context.Context, r *sdk.Remote, _ sdk.Engagement) error {
		return r.DestroyKey(ctx, keyID)
	})
}

// KeysPluginConfig is the configuration-file setting of a keys plugin that
// serves as the store's key provider. It is fixed in the file, not in the
// store, because the store cannot be read before the plugin runs.
type KeysPluginConfig struct {
	// Name is the plugin's folder in the plugin directory.
	Name string
	// SHA256 pins the plugin's binary: the installed manifest must record
	// exactly this checksum, so that replacing the plugin through the API
	// cannot swap the store's key provider.
	SHA256 string
	// KeyPrefix names the keys: KEK version v is key "<KeyPrefix>-<v>".
	KeyPrefix string
	// Config is handed to the plugin's Configure hook.
	Config map[string]string
	// ReadPaths and WritePaths are granted to the plugin's sandbox (key
	// files, a PKCS#11 token's folder), as PluginSettings' are.
	ReadPaths, WritePaths []string
}

// StoreKeys adapts a keys plugin to the store's key provider interface
// (store.KeyProvider; this package does not import the store). It binds
// each wrapped key to the store's associated data itself: the plaintext it
// hands the plugin is the data key behind a SHA-256 of the associated
// data, which Unwrap checks; the SDK requires plugins to wrap with
// authenticated encryption, so the binding cannot be forged. The ID of the
// key the plugin used is kept with the ciphertext.
type StoreKeys struct {
	h      *Host
	name   string
	prefix string
	log    *slog.Logger
	stop   context.CancelFunc // stops the host's supervisor
	done   chan struct{}      // closed when the supervisor has returned
}

// NewStoreKeys starts a host of its own over cfg.Dir that runs only the
// keys plugin kc.Name, with kc's fixed settings, and returns the store's
// key provider over it. The plugin must be installed (its manifest
// recording kc.SHA256) and serve kind keys. Closing the provider stops the
// plugin. Its calls are counted in the same metrics as the main host's.
func NewStoreKeys(cfg Config, kc KeysPluginConfig, logger *slog.Logger, reg prometheus.Registerer) (*StoreKeys, error) {
	if kc.Name == "" || kc.KeyPrefix == "" {
		return nil, errors.New("plugins: keys plugin: name and key prefix are required")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	h, err := New(cfg, logger, reg, FixedSettings{Name: kc.Name, Config: kc.Config, SHA256: kc.SHA256,
		ReadPaths: kc.ReadPaths, WritePaths: kc.WritePaths}, noHandovers{})
	if err != nil {
		return nil, err
	}
	st, err := h.Plugin(kc.Name)
	if err != nil {
		h.Close()
		if b, ok := h.Broken()[kc.Name]; ok {
			return nil, fmt.Errorf("plugins: keys plugin %q: %w", kc.Name, b)
		}
		return nil, fmt.Errorf("plugins: keys plugin %q is not installed in %s: %w", kc.Name, cfg.Dir, err)
	}
	switch {
	case !slices.Contains(st.Manifest.Kinds, sdk.KindKeys):
		h.Close()
		return nil, fmt.Errorf("plugins: keys plugin %q does not serve kind keys (kinds %v)", kc.Name, st.Manifest.Kinds)
	case st.Manifest.SHA256 != kc.SHA256:
		h.Close()
		return nil, fmt.Errorf("%w: keys plugin %q: installed binary has sha256 %s, the configuration pins %s", ErrChecksum, kc.Name, st.Manifest.SHA256, kc.SHA256)
	}
	ctx, stop := context.WithCancel(context.Background())
	k := &StoreKeys{h: h, name: kc.Name, prefix: kc.KeyPrefix, log: logger.With("component", "plugins", "plugin", kc.Name),
		stop: stop, done: make(chan struct{})}
	go func() {
		defer close(k.done)
		h.Run(ctx) // keeps the plugin running and restarts it after a crash
	}()
	return k, nil
}

// Name identifies the provider in logs and audit entries.
func (k *StoreKeys) Name() string { return "plugin:" + k.name }

func (k *StoreKeys) keyID(v uint32) string {
	return k.prefix + "-" + strconv.FormatUint(uint64(v), 10)
}

// CreateKEK makes KEK version v exist. A plugin that cannot create keys
// (SDK API 1.0, or a key service managed elsewhere) must already have it:
// a wrap and unwrap of a random value proves it, else the error names the
// key the operator has to create.
func (k *StoreKeys) CreateKEK(ctx context.Context, v uint32) error {
	id := k.keyID(v)
	err := k.h.CreateKey(ctx, k.name, id)
	if !errors.Is(err, sdk.ErrUnsupported) {
		return err
	}
	probe := make([]byte, 32)
	rand.Read(probe)
	aad := []byte("earshot probe " + id)
	w, err := k.Wrap(ctx, v, probe, aad)
	if err == nil {
		var got []byte
		if got, err = k.Unwrap(ctx, v, w, aad); err == nil && !bytes.Equal(got, probe) {
			err = errors.New("unwrap returned other bytes")
		}
	}
	if err != nil {
		return fmt.Errorf("plugins/%s: key %q is not usable and the plugin cannot create keys: create it in the key service: %w", k.name, id, err)
	}
	return nil
}

// Wrapped key format: version byte, uvarint length of the key ID the
// plugin used, that ID, the plugin's ciphertext.
const wrappedV1 = 1

// Wrap seals dek under KEK version v, bound to aad.
func (k *StoreKeys) Wrap(ctx context.Context, v uint32, dek, aad []byte) ([]byte, error) {
	sum := sha256.Sum256(aad)
	pt := make([]byte, 0, len(sum)+len(dek))
	pt = append(append(pt, sum[:]...), dek...)
	ct, used, err := k.h.Wrap(ctx, k.name, k.keyID(v), pt)
	clear(pt)
	if err != nil {
		return nil, err
	}
	if used == "" {
		used = k.keyID(v)
	}
	out := make([]byte, 0, 1+binary.MaxVarintLen64+len(used)+len(ct))
	out = append(out, wrappedV1)
	out = binary.AppendUvarint(out, uint64(len(used)))
	out = append(append(out, used...), ct...)
	return out, nil
}

// Unwrap reverses Wrap; a wrapped key bound to other associated data is
// refused.
func (k *StoreKeys) Unwrap(ctx context.Context, v uint32, wrapped, aad []byte) ([]byte, error) {
	if len(wrapped) < 2 || wrapped[0] != wrappedV1 {
		return nil, fmt.Errorf("plugins/%s: wrapped key: unknown format", k.name)
	}
	n, sz := binary.Uvarint(wrapped[1:])
	if sz <= 0 || n > uint64(len(wrapped)-1-sz) {
		return nil, fmt.Errorf("plugins/%s: wrapped key: truncated", k.name)
	}
	rest := wrapped[1+sz:]
	used, ct := string(rest[:n]), rest[n:]
	pt, err := k.h.Unwrap(ctx, k.name, used, ct)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(aad)
	if len(pt) < len(sum) || subtle.ConstantTimeCompare(pt[:len(sum)], sum[:]) != 1 {
		clear(pt)
		return nil, fmt.Errorf("plugins/%s: wrapped key belongs to another record", k.name)
	}
	dek := bytes.Clone(pt[len(sum):])
	clear(pt)
	return dek, nil
}

// DestroyKEK destroys KEK version v. A plugin that cannot destroy keys
// leaves it to the operator, which is logged with the key's ID.
func (k *StoreKeys) DestroyKEK(ctx context.Context, v uint32) error {
	id := k.keyID(v)
	err := k.h.DestroyKey(ctx, k.name, id)
	if errors.Is(err, sdk.ErrUnsupported) {
		k.log.Warn("retired key-encryption key was not destroyed: the plugin cannot destroy keys; destroy it in the key service", "key_id", id, "version", v)
		return nil
	}
	return err
}

// Close stops the plugin. It may be called more than once.
func (k *StoreKeys) Close() error {
	k.stop()
	<-k.done
	return k.h.Close()
}

// Host returns the host running the keys plugin (for its status).
func (k *StoreKeys) Host() *Host { return k.h }

// FixedSettings enables exactly one plugin, the binary with checksum
// SHA256, with a fixed configuration and path grants, and no scopes: the
// settings of the store's keys plugin.
type FixedSettings struct {
	Name                  string
	SHA256                string
	Config                map[string]string
	ReadPaths, WritePaths []string
}

// PluginSettings implements Settings.
func (f FixedSettings) PluginSettings(_ context.Context, name string) (PluginSettings, error) {
	if name != f.Name {
		return PluginSettings{}, nil
	}
	return PluginSettings{Enabled: true, ApprovedSHA256: f.SHA256, Config: f.Config,
		ReadPaths: f.ReadPaths, WritePaths: f.WritePaths}, nil
}

// LocalModelsOnly implements Settings; the keys host runs no model.
func (FixedSettings) LocalModelsOnly(context.Context) (bool, error) { return true, nil }

// noHandovers is the keys host's Auditor: key calls carry no customer
// content, and any attempt to hand some over is refused.
type noHandovers struct{}

func (noHandovers) RecordHandover(_ context.Context, plugin, kind, _ string, _ []string) error {
	return fmt.Errorf("plugins/%s: %s: the keys host hands over no engagement content", plugin, kind)
}

var _ io.Closer = (*StoreKeys)(nil)
