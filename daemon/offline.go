package daemon

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/earshot/earshot/store"
	storekeys "github.com/earshot/earshot/store/keys"
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
	var rep store.VerifyReport
	err := withOfflineKeys(cfg, func(p storekeys.Provider) (err error) {
		o.Provider = p
		rep, err = store.VerifyAuditOffline(ctx, o)
		return err
	})
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
	var rep store.ResealReport
	err := withOfflineKeys(cfg, func(p storekeys.Provider) (err error) {
		rep, err = store.Reseal(ctx, store.Options{Dir: dataDir, Config: cfg.Store, Provider: p}, actor, reason)
		return err
	})
	return rep, err
}

// withOfflineKeys runs fn with the keys plugin started when it is the
// configured provider (nil for the file and PKCS#11 providers, which the
// store makes itself), and stops it afterwards.
func withOfflineKeys(cfg Config, fn func(storekeys.Provider) error) error {
	k, err := openStoreKeys(cfg, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	if err != nil {
		return err
	}
	if k == nil {
		return fn(nil)
	}
	defer k.Close() // idempotent: the store closes it too
	return fn(k)
}

// Offline works on a stopped data directory or on backup files with the
// key provider of a configuration file: the admin commands' offline
// audit verification and reseal (cli.OfflineStore).
type Offline struct{}

// VerifyAudit reads the configuration at configPath and calls
// VerifyAuditOffline.
func (Offline) VerifyAudit(ctx context.Context, configPath string, o store.OfflineOptions) (store.VerifyReport, error) {
	cfg, err := LoadConfig(configPath, false)
	if err != nil {
		return store.VerifyReport{}, err
	}
	return VerifyAuditOffline(ctx, cfg, o)
}

// Reseal reads the configuration at configPath and calls ResealOffline.
func (Offline) Reseal(ctx context.Context, configPath, dataDir, actor, reason string) (store.ResealReport, error) {
	cfg, err := LoadConfig(configPath, false)
	if err != nil {
		return store.ResealReport{}, err
	}
	return ResealOffline(ctx, cfg, dataDir, actor, reason)
}
