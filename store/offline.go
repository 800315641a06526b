package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.etcd.io/bbolt"
	bberrors "go.etcd.io/bbolt/errors"

	"github.com/earshot/earshot/store/keys"
)

// OfflineOptions locates what VerifyAuditOffline reads: a stopped data
// directory, or a backup pair.
type OfflineOptions struct {
	// Dir is the data directory. Its earshot.db and keys.db are read unless
	// ContentFile and KeysFile name a backup pair; it also holds the file
	// provider's kek/ directory unless Config.Keys.File.Dir says otherwise.
	Dir string
	// ContentFile and KeysFile name a content backup and the key backup
	// taken with it (both, or neither).
	ContentFile, KeysFile string
	// Config is the store's configuration: the key provider comes from
	// Config.Keys. The zero value means DefaultConfig().
	Config Config
	// Provider, when set, replaces the provider named in Config.Keys (a
	// keys plugin the caller started). It is closed with the files.
	Provider keys.Provider
	// LockTimeout bounds the wait for a process holding the files (default
	// 1s): a running daemon holds them, and verification then fails with
	// ErrInUse instead of waiting.
	LockTimeout time.Duration
	// Logger receives the logs; nil discards them.
	Logger *slog.Logger
}

// VerifyAuditOffline runs VerifyAudit on a stopped data directory or a
// backup pair, with the KEK from the configured provider. Both files are
// opened read-only with a shared lock, so nothing is written (no KEK is
// created either), and a data directory a running daemon holds is refused
// with ErrInUse: verify that one through the daemon. The error names the
// first broken audit entry or record, as VerifyAudit's does.
func VerifyAuditOffline(ctx context.Context, o OfflineOptions) (VerifyReport, error) {
	s, err := openReadOnly(ctx, o)
	if err != nil {
		return VerifyReport{}, err
	}
	defer s.Close()
	return s.VerifyAudit(ctx)
}

func (o *OfflineOptions) paths() (content, keysPath string, err error) {
	switch {
	case o.ContentFile != "" && o.KeysFile != "":
		return o.ContentFile, o.KeysFile, nil
	case o.ContentFile != "" || o.KeysFile != "":
		return "", "", errors.New("store: verify: a backup pair needs both the content backup and the key backup")
	case o.Dir == "":
		return "", "", errors.New("store: verify: no data directory or backup pair given")
	}
	return filepath.Join(o.Dir, DBFile), filepath.Join(o.Dir, KeysFile), nil
}

// openReadOnly opens both files read-only: nothing runs, every write is
// refused.
func openReadOnly(ctx context.Context, o OfflineOptions) (*Store, error) {
	contentPath, keysPath, err := o.paths()
	if err != nil {
		return nil, err
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.LockTimeout == 0 {
		o.LockTimeout = time.Second
	}
	if reflect.ValueOf(o.Config).IsZero() {
		o.Config = DefaultConfig()
	}
	if err := o.Config.Validate(); err != nil {
		return nil, err
	}
	for _, p := range []string{contentPath, keysPath} {
		if _, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("store: verify: %w", err)
		}
	}
	p := o.Provider
	if p == nil {
		if o.Config.Keys.Provider == keys.ProviderFile {
			// Read-only: do not create a missing KEK directory.
			dir := o.Config.Keys.FileDir(o.Dir)
			if _, err := os.Stat(dir); err != nil {
				return nil, fmt.Errorf("store: verify: the file provider's KEK directory: %w (set store.keys.file.dir to where the KEK is kept)", err)
			}
		}
		if p, err = keys.NewProvider(o.Config.Keys, o.Dir); err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
	}
	ring, err := keys.Open(ctx, keysPath, p, keys.Options{ReadOnly: true, LockTimeout: o.LockTimeout, Logger: o.Logger})
	if errors.Is(err, keys.ErrInUse) {
		return nil, fmt.Errorf("store: %s: %w: verify through it (`earshot audit verify`) or stop it first", keysPath, ErrInUse)
	}
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	db, err := bbolt.Open(contentPath, 0o600, &bbolt.Options{ReadOnly: true, Timeout: o.LockTimeout})
	if err != nil {
		ring.Close()
		if errors.Is(err, bberrors.ErrTimeout) {
			return nil, fmt.Errorf("store: %s: %w: verify through it (`earshot audit verify`) or stop it first", contentPath, ErrInUse)
		}
		return nil, fmt.Errorf("store: open %s: %w", contentPath, err)
	}
	err = db.View(func(tx *bbolt.Tx) error {
		for _, b := range [][]byte{bucketMeta, bucketAudit} {
			if tx.Bucket(b) == nil {
				return fmt.Errorf("no bucket %q: not a content database", b)
			}
		}
		if v := unsafeSchemaVersion(tx); v > schemaVersion {
			return fmt.Errorf("database schema version %d is newer than this build's %d: upgrade earshot", v, schemaVersion)
		}
		return nil
	})
	if err != nil {
		db.Close()
		ring.Close()
		return nil, fmt.Errorf("store: %s: %w", contentPath, err)
	}
	m, _ := newMetrics(prometheus.NewRegistry(), o.Dir)
	s, err := newStore(db, ring, Options{Dir: o.Dir, Logger: o.Logger, Config: o.Config}, m)
	if err != nil {
		db.Close()
		ring.Close()
		return nil, err
	}
	s.readOnly = true
	return s, nil
}

// ResealReport says what Reseal accepted.
type ResealReport struct {
	// Accepted lists what differed from the seal, the checkpoint or the
	// record MACs before the reseal (empty if nothing did).
	Accepted []string `json:"accepted"`
	// Entries is the length of the audit chain, verified entry by entry.
	Entries int `json:"entries"`
	// Records counts the protected records sealed.
	Records int `json:"records"`
	// Counter is the new integrity counter.
	Counter uint64 `json:"counter"`
}

// Reseal accepts the present state of a stopped data directory after a
// deliberate change outside Earshot: a record edited offline, a content
// database restored without the key backup taken with it, or a key
// backup restored beside a newer content database. It opens the directory
// for writing (refusing one in use with ErrInUse), needs the KEK, and
// checks the audit chain entry by entry first: an edited, forged or
// missing entry inside the chain cannot be resealed. Then every protected
// record gets a fresh MAC, the seal and the checkpoint a new counter, and
// an "integrity.reseal" audit entry records actor, reason and what was
// accepted. Run it again if it was interrupted.
func Reseal(ctx context.Context, opts Options, actor, reason string) (ResealReport, error) {
	if actor == "" || strings.TrimSpace(reason) == "" {
		return ResealReport{}, errors.New("store: reseal: an actor and a reason are required (both are audited)")
	}
	if opts.LockTimeout == 0 {
		opts.LockTimeout = time.Second
	}
	s, err := openFiles(ctx, opts)
	if errors.Is(err, ErrInUse) || errors.Is(err, keys.ErrInUse) {
		return ResealReport{}, fmt.Errorf("store: reseal %s: %w: stop it first", opts.Dir, ErrInUse)
	}
	if err != nil {
		return ResealReport{}, err
	}
	defer s.Close()
	var rep ResealReport
	var next uint64
	err = s.db.View(func(tx *bbolt.Tx) error {
		var vr VerifyReport
		if err := s.unsafeVerifyChain(ctx, tx, &vr); err != nil {
			return fmt.Errorf("%w: an audit chain broken inside cannot be resealed (restore a backup)", err)
		}
		rep.Entries = vr.Entries
		x, _, _ := s.unsafeReadSeal(tx)
		for _, f := range s.unsafeIntegrityFindings(tx, s.now()) {
			rep.Accepted = append(rep.Accepted, f.Record+": "+f.Problem)
		}
		m, _, err := s.readMark()
		if err != nil {
			rep.Accepted = append(rep.Accepted, err.Error())
		} else if m.Counter > 0 {
			if err := unsafeCheckMark(tx, x, m); err != nil {
				rep.Accepted = append(rep.Accepted, strings.TrimPrefix(err.Error(), "store: integrity: "))
			}
		}
		next = max(x.Counter, m.Counter) + 1
		return nil
	})
	if err != nil {
		return rep, err
	}
	s.counter = next
	accepted := strings.Join(rep.Accepted, "; ")
	if len(accepted) > 2000 {
		accepted = accepted[:2000] + "…"
	}
	err = s.update(ctx, func(tx *bbolt.Tx) error {
		if err := s.unsafeSealAll(tx); err != nil {
			return err
		}
		rep.Records = 0
		for _, b := range protectedBuckets {
			rep.Records += tx.Bucket(b).Stats().KeyN
		}
		return s.unsafeAudit(tx, AuditEntry{Actor: actor, Action: "integrity.reseal", Reason: reason,
			Detail: map[string]string{"counter": strconv.FormatUint(next, 10), "accepted": accepted}})
	})
	if err != nil {
		return rep, fmt.Errorf("store: reseal: %w", err)
	}
	rep.Counter = next
	// Close records the checkpoint of the resealed state.
	if err := s.Close(); err != nil {
		return rep, err
	}
	s.logger.Warn("integrity resealed", "actor", actor, "counter", next, "accepted", len(rep.Accepted))
	return rep, nil
}
