package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"go.etcd.io/bbolt"
	bberrors "go.etcd.io/bbolt/errors"
	"golang.org/x/sys/unix"

	"github.com/earshot/earshot/store/internal/dbfile"
	"github.com/earshot/earshot/store/keys"
)

// Upgrades. Open migrates older files in place (schema.go); before it
// touches a file whose schema is older than this build's, it copies both
// databases into BackupsDir/pre-upgrade-<time>-schema<N>, so that an
// upgrade that goes wrong can be undone with `earshot restore` and the
// earlier package. The KEK is not copied: an upgrade does not change it,
// and a backup never holds it. Only the newest PreUpgradeBackups are kept.

// SchemaVersion is the content database's schema version this build
// writes; KeysSchemaVersion is keys.db's.
const (
	SchemaVersion     = schemaVersion
	KeysSchemaVersion = keys.SchemaVersion
)

// BackupsDir is the folder of the data directory holding the pre-upgrade
// backups.
const BackupsDir = "backups"

// PreUpgradeBackups is how many pre-upgrade backups are kept.
const PreUpgradeBackups = 3

// preUpgradePrefix starts the name of each pre-upgrade backup folder.
const preUpgradePrefix = "pre-upgrade-"

// ErrNewerSchema is returned when a data directory was written by a newer
// Earshot than this build: downgrades are refused.
var ErrNewerSchema = errors.New("store: data written by a newer earshot")

// SchemaInfo says which schema versions a data directory's databases
// carry, next to the versions this build writes.
type SchemaInfo struct {
	Dir string
	// Content and Keys are the versions of earshot.db and keys.db; 0 for
	// a file that does not exist yet. keys.db exists from content schema 2.
	Content, Keys uint64
	// BackupDirs are the pre-upgrade backups in the directory, oldest
	// first (paths).
	BackupDirs []string
}

// State is "empty" (no database yet), "current" (this build's schema),
// "upgrade" (older: this build migrates it after a pre-upgrade backup) or
// "newer" (written by a newer earshot: this build refuses it).
func (i SchemaInfo) State() string {
	switch {
	case i.Content == 0 && i.Keys == 0:
		return "empty"
	case i.Content > SchemaVersion || i.Keys > KeysSchemaVersion:
		return "newer"
	case (i.Content != 0 && i.Content < SchemaVersion) || (i.Keys != 0 && i.Keys < KeysSchemaVersion):
		return "upgrade"
	}
	return "current"
}

// String describes the directory in one line, for `earshot version
// --check-data` and the logs.
func (i SchemaInfo) String() string {
	keysV := "none"
	if i.Keys != 0 {
		keysV = fmt.Sprint(i.Keys)
	}
	s := fmt.Sprintf("%s: content schema %d, keys schema %s; this build writes content %d, keys %d", i.Dir, i.Content, keysV, SchemaVersion, KeysSchemaVersion)
	switch i.State() {
	case "empty":
		return s + ": no database yet (a first start creates it)"
	case "newer":
		return s + ": written by a newer earshot; this build refuses to open it"
	case "upgrade":
		return s + ": older; the next start migrates it after a pre-upgrade backup"
	}
	return s + ": current"
}

// InspectSchema reads, without writing, the schema versions of the
// databases in dir. It fails with ErrInUse when a running daemon holds
// them.
func InspectSchema(dir string) (SchemaInfo, error) {
	info := SchemaInfo{Dir: dir}
	path := filepath.Join(dir, DBFile)
	if _, err := os.Stat(path); err == nil {
		db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true, Timeout: time.Second})
		if errors.Is(err, bberrors.ErrTimeout) {
			return info, fmt.Errorf("store: %s: %w", path, ErrInUse)
		}
		if err != nil {
			return info, fmt.Errorf("store: open %s: %w", path, err)
		}
		db.View(func(tx *bbolt.Tx) error {
			if tx.Bucket(bucketMeta) != nil {
				info.Content = unsafeSchemaVersion(tx)
			}
			return nil
		})
		db.Close()
	} else if !errors.Is(err, os.ErrNotExist) {
		return info, fmt.Errorf("store: %w", err)
	}
	v, err := keys.FileSchemaVersion(filepath.Join(dir, KeysFile), time.Second)
	if errors.Is(err, keys.ErrInUse) {
		return info, fmt.Errorf("store: %s: %w", filepath.Join(dir, KeysFile), ErrInUse)
	}
	if err != nil {
		return info, fmt.Errorf("store: %w", err)
	}
	info.Keys = v
	info.BackupDirs, err = preUpgradeBackups(dir)
	return info, err
}

// preUpgradeBackups lists the pre-upgrade backup folders of dir, oldest
// first (their names start with the time they were taken).
func preUpgradeBackups(dir string) ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(dir, BackupsDir))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() && strings.HasPrefix(e.Name(), preUpgradePrefix) && !strings.HasSuffix(e.Name(), ".partial") {
			out = append(out, filepath.Join(dir, BackupsDir, e.Name()))
		}
	}
	slices.Sort(out)
	return out, nil
}

// prepareUpgrade runs before Open touches the files: it refuses data of a
// newer schema (before anything is migrated or written), and backs up
// data of an older one.
func prepareUpgrade(dir string, logger *slog.Logger, now time.Time) error {
	info, err := InspectSchema(dir)
	if err != nil {
		return err
	}
	switch info.State() {
	case "newer":
		return downgradeError(info)
	case "upgrade":
		path, err := backupForUpgrade(info, now)
		if err != nil {
			return err
		}
		logger.Warn("schema upgrade: backed up the databases first", "from_content", info.Content, "from_keys", info.Keys,
			"to_content", SchemaVersion, "to_keys", KeysSchemaVersion, "backup", path)
	}
	return nil
}

func downgradeError(info SchemaInfo) error {
	file, have, want := DBFile, info.Content, uint64(SchemaVersion)
	if info.Content <= SchemaVersion {
		file, have, want = KeysFile, info.Keys, KeysSchemaVersion
	}
	undo := "reinstall the newer earshot"
	if n := len(info.BackupDirs); n > 0 {
		last := info.BackupDirs[n-1]
		undo += fmt.Sprintf(", or go back to the data as it was before the upgrade: with the daemon stopped, "+
			"`earshot restore %s --keys %s` (changes made since then are lost)",
			filepath.Join(last, DBFile), filepath.Join(last, KeysFile))
	}
	return fmt.Errorf("%w: %s has schema version %d and this build reads up to %d; downgrading is not supported: %s",
		ErrNewerSchema, filepath.Join(info.Dir, file), have, want, undo)
}

// backupForUpgrade copies both databases into a new pre-upgrade folder
// (each through a read transaction, as a consistent file), then removes
// the oldest folders beyond PreUpgradeBackups. It refuses to start the
// copy without room for it.
func backupForUpgrade(info SchemaInfo, now time.Time) (string, error) {
	var need int64
	var files []string
	for _, f := range []string{DBFile, KeysFile} {
		if st, err := os.Stat(filepath.Join(info.Dir, f)); err == nil {
			need += st.Size()
			files = append(files, f)
		}
	}
	root := filepath.Join(info.Dir, BackupsDir)
	if err := os.MkdirAll(root, 0o700); err != nil {
		return "", fmt.Errorf("store: pre-upgrade backup: %w", err)
	}
	var fs unix.Statfs_t
	if err := unix.Statfs(root, &fs); err == nil {
		if free := int64(fs.Bavail) * int64(fs.Bsize); free < need+need/10 {
			return "", fmt.Errorf("store: pre-upgrade backup: it needs %d MiB in %s and %d MiB are free: free some space (older backups there may go) and start again",
				(need+need/10)>>20+1, root, free>>20)
		}
	}
	name := fmt.Sprintf("%s%s-schema%d", preUpgradePrefix, now.UTC().Format("20060102T150405.000Z"), info.Content)
	path := filepath.Join(root, name)
	for n := 2; ; n++ { // upgrades within one second
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			break
		}
		path = filepath.Join(root, fmt.Sprintf("%s-%d", name, n))
	}
	tmp := path + ".partial"
	if err := os.RemoveAll(tmp); err != nil {
		return "", fmt.Errorf("store: pre-upgrade backup: %w", err)
	}
	if err := os.Mkdir(tmp, 0o700); err != nil {
		return "", fmt.Errorf("store: pre-upgrade backup: %w", err)
	}
	for _, f := range files {
		if err := copyDB(filepath.Join(info.Dir, f), filepath.Join(tmp, f)); err != nil {
			os.RemoveAll(tmp)
			return "", fmt.Errorf("store: pre-upgrade backup of %s: %w", f, err)
		}
	}
	if err := dbfile.SyncDir(tmp); err != nil {
		os.RemoveAll(tmp)
		return "", fmt.Errorf("store: pre-upgrade backup: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.RemoveAll(tmp)
		return "", fmt.Errorf("store: pre-upgrade backup: %w", err)
	}
	if err := dbfile.SyncDir(root); err != nil {
		return "", fmt.Errorf("store: pre-upgrade backup: %w", err)
	}
	all, err := preUpgradeBackups(info.Dir)
	if err != nil {
		return "", err
	}
	for len(all) > PreUpgradeBackups {
		if err := os.RemoveAll(all[0]); err != nil {
			return "", fmt.Errorf("store: remove old pre-upgrade backup: %w", err)
		}
		all = all[1:]
	}
	return path, nil
}

// copyDB writes a consistent copy of the bbolt file src to dst (mode
// 0600), read-only, so that src is left exactly as it was.
func copyDB(src, dst string) error {
	db, err := bbolt.Open(src, 0o600, &bbolt.Options{ReadOnly: true, Timeout: time.Second})
	if errors.Is(err, bberrors.ErrTimeout) {
		return ErrInUse
	}
	if err != nil {
		return err
	}
	defer db.Close()
	f, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	err = db.View(func(tx *bbolt.Tx) error {
		_, err := dbfile.WriteTo(context.Background(), tx, f)
		return err
	})
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
