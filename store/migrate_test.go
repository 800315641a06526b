package store

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.etcd.io/bbolt"

	"github.com/earshot/earshot/store/keys"
)

// The fixtures in testdata/schema/vN are data directories written by the
// last commit of the repository that wrote content schema N (see
// testdata/schema/generate.sh, which rebuilds them from those commits):
// a queue "cards", a user "ana" with a token, and from v2 on a chat
// engagement of customer CUST-1 with two messages and its results, from v3
// on a knowledge-base article. They are committed rather than built in the
// test: building five old trees takes minutes, and the fixtures must stay
// what the old code wrote even when that code no longer builds.

// fixture describes what each earlier version's directory holds.
type fixture struct {
	version    uint64
	keys       uint64 // keys.db schema; 0: no keys.db yet
	engagement bool   // a chat engagement with two messages
	article    bool   // knowledge-base article kb-1
}

var fixtures = []fixture{
	{version: 1},
	{version: 2, keys: 1, engagement: true},
	{version: 3, keys: 1, engagement: true, article: true},
	{version: 4, keys: 1, engagement: true, article: true},
	{version: 5, keys: 1, engagement: true, article: true},
	{version: 6, keys: 2, engagement: true, article: true},
}

// TestFixturesCoverEverySchema fails when the schema moves on without a
// fixture for the version it leaves behind.
func TestFixturesCoverEverySchema(t *testing.T) {
	if got := fixtures[len(fixtures)-1].version; got != SchemaVersion-1 {
		t.Errorf("the newest fixture is schema %d, this build writes %d: add testdata/schema/v%d (generate.sh) and a row",
			got, SchemaVersion, SchemaVersion-1)
	}
	for i, f := range fixtures {
		if f.version != uint64(i+1) {
			t.Errorf("fixture %d is schema %d: every version from 1 needs one", i, f.version)
		}
	}
}

// copyFixture copies testdata/schema/vN into a new data directory.
func copyFixture(t *testing.T, v uint64) string {
	t.Helper()
	src := filepath.Join("testdata", "schema", "v"+string(rune('0'+v)))
	dst := filepath.Join(t.TempDir(), "data")
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatalf("copy fixture: %v", err)
	}
	// Git does not keep modes: the file KEK provider wants its keys 0600.
	filepath.WalkDir(dst, func(p string, d fs.DirEntry, err error) error {
		if err == nil {
			if d.IsDir() {
				os.Chmod(p, 0o700)
			} else {
				os.Chmod(p, 0o600)
			}
		}
		return err
	})
	return dst
}

func fileSum(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

// TestMigrateEarlierSchemas opens each earlier version's directory with
// this build: the schemas move to the current versions, a pre-upgrade
// backup of the files as they were appears, every record and sealed
// message reads back, the audit chain and the integrity seal verify, and a
// second start takes no new backup. The backup then restores into a
// directory of its own that reads as the old version, and opens again.
func TestMigrateEarlierSchemas(t *testing.T) {
	ctx := context.Background()
	for _, f := range fixtures {
		t.Run("v"+string(rune('0'+f.version)), func(t *testing.T) {
			dir := copyFixture(t, f.version)
			before, err := InspectSchema(dir)
			if err != nil {
				t.Fatal(err)
			}
			if before.Content != f.version || before.Keys != f.keys || before.State() != "upgrade" {
				t.Fatalf("fixture reads as %v (state %s), want content %d, keys %d, upgrade", before, before.State(), f.version, f.keys)
			}
			oldContent := fileSum(t, filepath.Join(dir, DBFile))

			s := openTest(t, dir)
			checkFixture(t, s, f)
			rep, err := s.VerifyAudit(ctx)
			if err != nil || !rep.Sealed {
				t.Errorf("VerifyAudit after migration = %+v, %v; want a sealed, intact chain", rep, err)
			}
			s.Close()

			after, err := InspectSchema(dir)
			if err != nil {
				t.Fatal(err)
			}
			if after.Content != SchemaVersion || after.Keys != KeysSchemaVersion || after.State() != "current" {
				t.Errorf("after Open: %v, want the current schemas", after)
			}
			if len(after.BackupDirs) != 1 {
				t.Fatalf("pre-upgrade backups = %v, want one", after.BackupDirs)
			}
			backup := after.BackupDirs[0]
			if !strings.Contains(filepath.Base(backup), "-schema"+string(rune('0'+f.version))) {
				t.Errorf("backup folder %s does not name schema %d", backup, f.version)
			}
			if got := fileSum(t, filepath.Join(backup, DBFile)); got == oldContent {
				// WriteTo rewrites the file page by page; equal bytes are
				// fine too, but then the next check must hold anyway.
				t.Logf("backup of %s is byte-identical", DBFile)
			}
			for _, name := range []string{DBFile, KeysFile} {
				st, err := os.Stat(filepath.Join(backup, name))
				if name == KeysFile && f.keys == 0 {
					if !errors.Is(err, os.ErrNotExist) {
						t.Errorf("backup of a directory without %s holds one: %v", name, err)
					}
					continue
				}
				if err != nil {
					t.Fatalf("backup lacks %s: %v", name, err)
				}
				if st.Mode().Perm() != 0o600 {
					t.Errorf("backup %s has mode %v, want 0600", name, st.Mode().Perm())
				}
			}
			if st, err := os.Stat(filepath.Join(dir, BackupsDir)); err != nil || st.Mode().Perm() != 0o700 {
				t.Errorf("backups folder: %v, %v; want mode 0700", st, err)
			}

			// A second start is not an upgrade: no new backup.
			s = openTest(t, dir)
			checkFixture(t, s, f)
			s.Close()
			if again, _ := InspectSchema(dir); len(again.BackupDirs) != 1 {
				t.Errorf("a start on the current schema took a backup: %v", again.BackupDirs)
			}

			// The backup restores (earshot restore) next to the same KEK.
			restored := filepath.Join(t.TempDir(), "restored")
			restoreFrom(t, backup, restored, f.keys != 0)
			if err := os.CopyFS(filepath.Join(restored, "kek"), os.DirFS(filepath.Join(dir, "kek"))); err != nil && f.keys != 0 {
				t.Fatal(err)
			}
			r, err := InspectSchema(restored)
			if err != nil || r.Content != f.version || r.Keys != f.keys {
				t.Fatalf("restored backup reads as %v, %v; want content %d, keys %d", r, err, f.version, f.keys)
			}
			s = openTest(t, restored)
			checkFixture(t, s, f)
			s.Close()
		})
	}
}

func restoreFrom(t *testing.T, backup, dir string, withKeys bool) {
	t.Helper()
	restore := func(name string, fn func(string, io.Reader) error) {
		fh, err := os.Open(filepath.Join(backup, name))
		if err != nil {
			t.Fatal(err)
		}
		defer fh.Close()
		if err := fn(dir, fh); err != nil {
			t.Fatalf("restore %s: %v", name, err)
		}
	}
	restore(DBFile, RestoreContent)
	if withKeys {
		restore(KeysFile, RestoreKeys)
	}
}

// checkFixture reads back what generate.sh wrote.
func checkFixture(t *testing.T, s *Store, f fixture) {
	t.Helper()
	ctx := context.Background()
	q, err := s.Queue("cards")
	if err != nil || q.Name != "Cards" {
		t.Errorf("queue cards = %+v, %v", q, err)
	}
	u, err := s.User("ana")
	if err != nil || u.Role != "agent" || !cmp.Equal(u.Queues, []string{"cards"}) {
		t.Errorf("user ana = %+v, %v", u, err)
	}
	toks, err := s.Tokens(ctx)
	found := false
	for _, tok := range toks {
		found = found || tok.UserID == "ana"
	}
	if err != nil || !found {
		t.Errorf("tokens = %+v, %v; want ana's", toks, err)
	}
	if f.engagement {
		engs, err := s.Engagements(ctx, EngagementFilter{CustomerRef: "CUST-1"})
		if err != nil || len(engs) != 1 {
			t.Fatalf("engagements of CUST-1 = %+v, %v; want one", engs, err)
		}
		e := engs[0]
		if e.Queue != "cards" || e.Agent != "ana" || e.End.IsZero() {
			t.Errorf("engagement = %+v", e)
		}
		segs, err := s.Segments(ctx, e.ID)
		if err != nil {
			t.Fatal(err)
		}
		var texts []string
		for _, sg := range segs {
			texts = append(texts, sg.Speaker+": "+sg.Text)
		}
		want := []string{"customer: my card was stolen yesterday", "agent: I have blocked the card and ordered a new one"}
		if diff := cmp.Diff(want, texts); diff != "" {
			t.Errorf("segments (-want +got):\n%s", diff)
		}
		if res, err := s.Results(ctx, e.ID); err != nil || len(res) == 0 {
			t.Errorf("results = %d, %v; want the stored analysis", len(res), err)
		}
	}
	if f.article {
		a, err := s.Article("kb-1")
		if err != nil || a.Title != "Blocking a card" || !strings.Contains(a.Body, "stolen card") {
			t.Errorf("article kb-1 = %+v, %v", a, err)
		}
	}
}

// setSchema writes a schema version into a stopped database file.
func setSchema(t *testing.T, path string, v uint64) {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(func(tx *bbolt.Tx) error {
		return tx.Bucket([]byte("meta")).Put([]byte("schema_version"), binary.BigEndian.AppendUint64(nil, v))
	}); err != nil {
		t.Fatal(err)
	}
}

// TestDowngradeRefused: data written by a newer build (either file) is
// refused before anything is written, with a message that says so and how
// to go back.
func TestDowngradeRefused(t *testing.T) {
	for _, file := range []string{DBFile, KeysFile} {
		t.Run(file, func(t *testing.T) {
			// An upgrade first, so that a pre-upgrade backup exists to
			// point at.
			dir := copyFixture(t, SchemaVersion-1)
			openTest(t, dir).Close()
			newer := uint64(SchemaVersion + 1)
			if file == KeysFile {
				newer = keys.SchemaVersion + 1
			}
			setSchema(t, filepath.Join(dir, file), newer)
			sums := map[string][32]byte{DBFile: fileSum(t, filepath.Join(dir, DBFile)), KeysFile: fileSum(t, filepath.Join(dir, KeysFile))}

			_, err := Open(context.Background(), Options{Dir: dir, LockTimeout: time.Second})
			if !errors.Is(err, ErrNewerSchema) {
				t.Fatalf("Open = %v, want ErrNewerSchema", err)
			}
			for _, want := range []string{filepath.Join(dir, file), "downgrading is not supported", "reinstall the newer earshot", "earshot restore", "pre-upgrade-"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
			for name, sum := range sums {
				if fileSum(t, filepath.Join(dir, name)) != sum {
					t.Errorf("the refused start changed %s", name)
				}
			}
			info, err := InspectSchema(dir)
			if err != nil || info.State() != "newer" || !strings.Contains(info.String(), "newer earshot") {
				t.Errorf("InspectSchema = %v (%s), %v", info, info.State(), err)
			}
		})
	}
}

// TestPreUpgradeBackupsBounded upgrades the same old directory more times
// than backups are kept: only the newest PreUpgradeBackups remain.
func TestPreUpgradeBackupsBounded(t *testing.T) {
	dir := copyFixture(t, SchemaVersion-1)
	src := filepath.Join("testdata", "schema", "v"+string(rune('0'+SchemaVersion-1)))
	for i := 0; i < PreUpgradeBackups+2; i++ {
		if i > 0 { // put the old files back: another upgrade
			for _, name := range []string{DBFile, KeysFile} {
				b, err := os.ReadFile(filepath.Join(src, name))
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
					t.Fatal(err)
				}
			}
		}
		openTest(t, dir).Close()
	}
	info, err := InspectSchema(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(info.BackupDirs) != PreUpgradeBackups {
		t.Errorf("backups = %v, want the newest %d", info.BackupDirs, PreUpgradeBackups)
	}
}
