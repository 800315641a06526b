package daemon

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/earshot/earshot/store"
)

// VerifyAuditOffline verifies the audit log and the protected records of a
// stopped data directory (o.Dir, default the configuration's data_dir) or
// of a backup pair (o.ContentFile, o.KeysFile), with the KEK of the
// configured provider: a keys plugin is started for it. A data directory
// a running daemon holds is refused (store.ErrInUse).
func VerifyAuditOffline(ctx context.Context, cfg Config, o store.OfflineOptions) (store.VerifyReport, error) {
	if o.Dir == "" {
		o.Dir = cfg.DataDir
	}
	o.Config = cfg.Store
	k, err := openStoreKeys(cfg, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	if err != nil {
		return store.VerifyReport{}, err
	}
	if k != nil {
		o.Provider = k
		defer k.Close() // idempotent: the store closes it too
	}
	rep, err := store.VerifyAuditOffline(ctx, o)
	if err != nil {
		return rep, fmt.Errorf("daemon: verify %s: %w", o.Dir, err)
	}
	return rep, nil
}

// ResealOffline accepts the present state of a stopped data directory
// after a deliberate change made outside the daemon (store.Reseal), with
// the KEK of the configured provider. actor and reason are audited.
func ResealOffline(ctx context.Context, cfg Config, dataDir, actor, reason string) (store.ResealReport, error) {
	if dataDir == "" {
		dataDir = cfg.DataDir
	}
	opts := store.Options{Dir: dataDir, Config: cfg.Store}
	k, err := openStoreKeys(cfg, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	if err != nil {
		return store.ResealReport{}, err
	}
	if k != nil {
		opts.Provider = k
		defer k.Close() // idempotent: the store closes it too
	}
	return store.Reseal(ctx, opts, actor, reason)
}
