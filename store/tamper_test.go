package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"
)

// tamperSite is a stopped data directory as a site has it, built once and
// copied for each offline edit.
type tamperSite struct {
	dir string
	// revoked is a revoked token's ID.
	revoked string
	// oldSeal is the integrity seal as it was when the audit log ended at
	// entry oldHead: what an editor could dig out of the file's free pages.
	oldSeal []byte
	oldHead uint64
	// samAdmin is sam's record and MAC from when sam was an administrator.
	samAdmin, samAdminMAC []byte
	entries               uint64
}

func seqKey(seq uint64) []byte { return binary.BigEndian.AppendUint64(nil, seq) }

func buildTamperSite(t *testing.T) tamperSite {
	t.Helper()
	ctx := t.Context()
	site := tamperSite{dir: t.TempDir()}
	s := openTest(t, site.dir)
	a := func(action, target string) AuditEntry {
		return AuditEntry{Actor: "root", Action: action, Target: target}
	}
	addAdmin(t, s)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.CreateQueue(ctx, Queue{ID: "billing", Name: "Billing"}, a("queue.create", "billing")))
	must(s.CreateUser(ctx, User{ID: "sam", Role: RoleAdmin, Queues: []string{"billing"}}, a("user.create", "sam")))
	s.db.View(func(tx *bbolt.Tx) error {
		site.samAdmin = bytes.Clone(tx.Bucket(bucketUsers).Get([]byte("sam")))
		site.samAdminMAC = bytes.Clone(tx.Bucket(bucketIntegrity).Get(integrityKey(bucketUsers, []byte("sam"))))
		return nil
	})
	must(s.UpdateUser(ctx, User{ID: "sam", Role: "agent", Queues: []string{"billing"}}, a("user.update", "sam")))
	for _, id := range []string{"tok-live", "tok-revoked"} {
		must(s.CreateToken(ctx, Token{ID: id, UserID: "sam", Hash: HashSecret("secret-" + id), CreatedAt: t0}, a("token.create", id)))
	}
	must(s.RevokeToken(ctx, "tok-revoked", t0.Add(time.Hour), a("token.revoke", "tok-revoked")))
	site.revoked = "tok-revoked"
	must(s.PutSetting(ctx, "features", map[string]any{"sentiment": map[string]bool{"billing": false}}, a("settings.features", "")))
	must(s.PutSetting(ctx, "plugins", map[string]any{"crm": map[string]any{"enabled": true, "approved_scopes": []string{"engagement.metadata"}}}, a("plugin.settings", "crm")))
	fill(t, s)
	for len := uint64(0); ; {
		s.db.View(func(tx *bbolt.Tx) error {
			k, _ := tx.Bucket(bucketAudit).Cursor().Last()
			len = binary.BigEndian.Uint64(k)
			return nil
		})
		if len >= 70 && site.oldSeal == nil {
			site.oldHead = len
			s.db.View(func(tx *bbolt.Tx) error {
				site.oldSeal = bytes.Clone(tx.Bucket(bucketMeta).Get(keyIntegritySeal))
				return nil
			})
		}
		if len >= 120 {
			site.entries = len
			break
		}
		must(s.AppendAudit(ctx, AuditEntry{Actor: "sam", Action: "content.read", Engagement: fmt.Sprintf("e%d", len)}))
	}
	must(s.Close())
	return site
}

// copyTo copies the data directory (both files and the KEK) to a new one.
func (site tamperSite) copyTo(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(site.dir)); err != nil {
		t.Fatal(err)
	}
	return dir
}

func editDB(t *testing.T, path string, fn func(tx *bbolt.Tx) error) {
	t.Helper()
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(fn); err != nil {
		t.Fatal(err)
	}
}

// editJSON rewrites a JSON record in place.
func editJSON(tx *bbolt.Tx, b, key []byte, fn func(m map[string]any)) error {
	var m map[string]any
	if err := json.Unmarshal(tx.Bucket(b).Get(key), &m); err != nil {
		return err
	}
	fn(m)
	raw, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return tx.Bucket(b).Put(key, raw)
}

// TestOfflineTamperDetected edits the stopped database directly, as
// someone with the data directory but not the KEK could, and checks that
// the edit is detected when earshot starts (Open refuses, naming the
// record) and by offline verification, or at least by verification where
// the start cannot see it. Each edit is a row.
func TestOfflineTamperDetected(t *testing.T) {
	site := buildTamperSite(t)
	type edit func(t *testing.T, site tamperSite, tx *bbolt.Tx) error
	tests := []struct {
		name string
		// content edits earshot.db, keys edits keys.db (either may be nil).
		content, keys edit
		// wantStart is in Open's error ("" : it starts); wantVerify in
		// VerifyAuditOffline's.
		wantStart, wantVerify string
	}{
		{name: "untouched"},
		{
			name: "last 50 audit entries deleted",
			content: func(t *testing.T, site tamperSite, tx *bbolt.Tx) error {
				for seq := site.entries - 49; seq <= site.entries; seq++ {
					if err := tx.Bucket(bucketAudit).Delete(seqKey(seq)); err != nil {
						return err
					}
				}
				return nil
			},
			wantStart: "audit head", wantVerify: "audit head",
		},
		{
			name: "first 20 audit entries deleted",
			content: func(t *testing.T, site tamperSite, tx *bbolt.Tx) error {
				for seq := uint64(1); seq <= 20; seq++ {
					if err := tx.Bucket(bucketAudit).Delete(seqKey(seq)); err != nil {
						return err
					}
				}
				return nil
			},
			wantStart: "audit anchor", wantVerify: "audit entry 21: expected entry 1",
		},
		{
			name: "first 20 audit entries deleted and the anchor moved after them",
			content: func(t *testing.T, site tamperSite, tx *bbolt.Tx) error {
				var e21 AuditEntry
				json.Unmarshal(tx.Bucket(bucketAudit).Get(seqKey(21)), &e21)
				for seq := uint64(1); seq <= 20; seq++ {
					if err := tx.Bucket(bucketAudit).Delete(seqKey(seq)); err != nil {
						return err
					}
				}
				// The hash of entry 20 is in entry 21; any time old enough.
				anchor := append(seqKey(20), e21.Prev...)
				anchor = binary.BigEndian.AppendUint64(anchor, uint64(t0.AddDate(-1, 0, 0).UnixNano()))
				return tx.Bucket(bucketMeta).Put(keyAuditAnchor, anchor)
			},
			wantStart: "audit anchor", wantVerify: "audit anchor",
		},
		{
			name: "tail deleted and an earlier seal of the same run put back",
			content: func(t *testing.T, site tamperSite, tx *bbolt.Tx) error {
				for seq := site.oldHead + 1; seq <= site.entries; seq++ {
					if err := tx.Bucket(bucketAudit).Delete(seqKey(seq)); err != nil {
						return err
					}
				}
				return tx.Bucket(bucketMeta).Put(keyIntegritySeal, site.oldSeal)
			},
			wantStart: "earshot stopped at entry", wantVerify: "earshot stopped at entry",
		},
		{
			name: "an entry in the middle edited",
			content: func(t *testing.T, site tamperSite, tx *bbolt.Tx) error {
				b := tx.Bucket(bucketAudit)
				return b.Put(seqKey(60), bytes.Replace(b.Get(seqKey(60)), []byte(`"actor":"sam"`), []byte(`"actor":"ana"`), 1))
			},
			// The start checks the ends of the chain, not each entry.
			wantStart: "", wantVerify: "audit entry 60: content does not match its hash",
		},
		{
			name: "role flipped from agent to admin",
			content: func(t *testing.T, site tamperSite, tx *bbolt.Tx) error {
				b := tx.Bucket(bucketUsers)
				v := b.Get([]byte("sam"))
				if !bytes.Contains(v, []byte(`"role":"agent"`)) {
					t.Fatalf("sam's record %s has no agent role to flip", v)
				}
				return b.Put([]byte("sam"), bytes.Replace(v, []byte(`"role":"agent"`), []byte(`"role":"admin"`), 1))
			},
			wantStart: `user "sam": changed outside earshot`, wantVerify: `user "sam": changed outside earshot`,
		},
		{
			name: "user record rolled back to an earlier admin version with its MAC",
			content: func(t *testing.T, site tamperSite, tx *bbolt.Tx) error {
				if err := tx.Bucket(bucketUsers).Put([]byte("sam"), site.samAdmin); err != nil {
					return err
				}
				return tx.Bucket(bucketIntegrity).Put(integrityKey(bucketUsers, []byte("sam")), site.samAdminMAC)
			},
			wantStart: "protected records: do not match their seal", wantVerify: "protected records: do not match their seal",
		},
		{
			name: "administrator added",
			content: func(t *testing.T, site tamperSite, tx *bbolt.Tx) error {
				return tx.Bucket(bucketUsers).Put([]byte("mallory"), []byte(`{"id":"mallory","role":"admin","licensed":false}`))
			},
			wantStart: `user "mallory": added outside earshot`, wantVerify: `user "mallory": added outside earshot`,
		},
		{
			name: "user deleted with its MAC",
			content: func(t *testing.T, site tamperSite, tx *bbolt.Tx) error {
				return unsafeDeleteRecord(tx, bucketUsers, []byte("root"))
			},
			wantStart: "protected records: do not match their seal", wantVerify: "protected records: do not match their seal",
		},
		{
			name: "revoked token revived",
			content: func(t *testing.T, site tamperSite, tx *bbolt.Tx) error {
				return editJSON(tx, bucketTokens, []byte(site.revoked), func(m map[string]any) { delete(m, "revoked_at") })
			},
			wantStart: `token "tok-revoked": changed outside earshot`, wantVerify: `token "tok-revoked": changed outside earshot`,
		},
		{
			name: "feature setting edited",
			content: func(t *testing.T, site tamperSite, tx *bbolt.Tx) error {
				return tx.Bucket(bucketSettings).Put([]byte("features"), []byte(`{"sentiment":{"billing":true}}`))
			},
			wantStart: `setting "features": changed outside earshot`, wantVerify: `setting "features": changed outside earshot`,
		},
		{
			name: "plugin given a scope offline",
			content: func(t *testing.T, site tamperSite, tx *bbolt.Tx) error {
				return editJSON(tx, bucketSettings, []byte("plugins"), func(m map[string]any) {
					m["crm"].(map[string]any)["approved_scopes"] = []string{"engagement.metadata", "transcript.read"}
				})
			},
			wantStart: `setting "plugins": changed outside earshot`, wantVerify: `setting "plugins": changed outside earshot`,
		},
		{
			name: "integrity seal removed",
			content: func(t *testing.T, site tamperSite, tx *bbolt.Tx) error {
				return tx.Bucket(bucketMeta).Delete(keyIntegritySeal)
			},
			wantStart: "integrity seal: missing", wantVerify: "integrity seal: missing",
		},
		{
			name: "schema downgraded so that the role flip is sealed again",
			content: func(t *testing.T, site tamperSite, tx *bbolt.Tx) error {
				b := tx.Bucket(bucketUsers)
				b.Put([]byte("sam"), bytes.Replace(b.Get([]byte("sam")), []byte(`"role":"agent"`), []byte(`"role":"admin"`), 1))
				tx.Bucket(bucketMeta).Delete(keyIntegritySeal)
				tx.DeleteBucket(bucketIntegrity)
				return tx.Bucket(bucketMeta).Put(keySchemaVersion, binary.BigEndian.AppendUint64(nil, 5))
			},
			wantStart: "integrity seal: counter", wantVerify: "integrity seal: missing",
		},
		{
			name: "checkpoint removed from keys.db",
			keys: func(t *testing.T, site tamperSite, tx *bbolt.Tx) error {
				return tx.Bucket([]byte("meta")).Delete([]byte("checkpoint"))
			},
			wantStart: "checkpoint", wantVerify: "checkpoint",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := site.copyTo(t)
			if tt.content != nil {
				editDB(t, filepath.Join(dir, DBFile), func(tx *bbolt.Tx) error { return tt.content(t, site, tx) })
			}
			if tt.keys != nil {
				editDB(t, filepath.Join(dir, KeysFile), func(tx *bbolt.Tx) error { return tt.keys(t, site, tx) })
			}
			// Verify first: a start that passes moves the counter on.
			_, verr := VerifyAuditOffline(t.Context(), OfflineOptions{Dir: dir})
			s, serr := Open(t.Context(), Options{Dir: dir})
			if serr == nil {
				s.Close()
			}
			for _, c := range []struct {
				what string
				err  error
				want string
			}{{"start", serr, tt.wantStart}, {"offline verify", verr, tt.wantVerify}} {
				switch {
				case c.want == "" && c.err != nil:
					t.Errorf("%s = %v, want success", c.what, c.err)
				case c.want != "" && (!errors.Is(c.err, ErrTampered) || !strings.Contains(c.err.Error(), c.want)):
					t.Errorf("%s = %v, want ErrTampered naming %q", c.what, c.err, c.want)
				}
			}
		})
	}
}

// TestTokenIndexCannotLendAToken points the (unsealed) token hash index at
// another user's token: the token is not handed out for a secret that
// does not hash to its own record's hash.
func TestTokenIndexCannotLendAToken(t *testing.T) {
	site := buildTamperSite(t)
	dir := site.copyTo(t)
	forged := HashSecret("mallory's own secret")
	editDB(t, filepath.Join(dir, DBFile), func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketTokenHashes).Put(forged, []byte("tok-live"))
	})
	s := openTest(t, dir)
	defer s.Close()
	if tok, err := s.TokenByHash(forged); !errors.Is(err, ErrNotFound) {
		t.Fatalf("TokenByHash(forged index entry) = %+v, %v; want ErrNotFound", tok, err)
	}
	if tok, err := s.TokenByHash(HashSecret("secret-tok-live")); err != nil || tok.ID != "tok-live" {
		t.Fatalf("TokenByHash(real secret) = %+v, %v", tok, err)
	}
}

// TestAnchorYoungerThanMinimumRefused lets retention run with the clock a
// year and a half ahead, as a wrong clock or a tampered one would: the
// anchor it writes is MAC'd, but removes entries younger than the 90-day
// minimum, and is refused once the clock is right.
func TestAnchorYoungerThanMinimumRefused(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir)
	for i := range 5 {
		if err := s.AppendAudit(t.Context(), AuditEntry{Actor: "sam", Action: "content.read", Target: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	s.now = func() time.Time { return time.Now().AddDate(0, 18, 0) }
	if res, err := s.SweepNow(t.Context()); err != nil || res.AuditEntries != 5 {
		t.Fatalf("SweepNow with the clock ahead = %+v, %v", res, err)
	}
	s.Close()
	_, err := Open(t.Context(), Options{Dir: dir})
	if !errors.Is(err, ErrTampered) || !strings.Contains(err.Error(), "younger than the 90-day minimum") {
		t.Fatalf("Open after retention removed young entries = %v, want the anchor refused", err)
	}
	if _, err := VerifyAuditOffline(t.Context(), OfflineOptions{Dir: dir}); !errors.Is(err, ErrTampered) {
		t.Fatalf("VerifyAuditOffline = %v, want ErrTampered", err)
	}
}

// TestBackupPairRestoreStarts takes a content and a key backup while the
// store runs and keeps writing, then restores the pair into a new data
// directory with the KEK: it opens and verifies, online and offline; the
// pair verifies offline as backup files too.
func TestBackupPairRestoreStarts(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	s := openTest(t, dir)
	addAdmin(t, s)
	e := fill(t, s)
	if err := s.CreateUser(ctx, User{ID: "sam", Role: "agent"}, AuditEntry{Actor: "root", Action: "user.create"}); err != nil {
		t.Fatal(err)
	}
	backups := t.TempDir()
	content, keysBackup := filepath.Join(backups, "content.db"), filepath.Join(backups, "keys.db")
	for _, b := range []struct {
		path string
		fn   func(context.Context, *os.File) error
	}{
		{content, func(ctx context.Context, f *os.File) error { _, err := s.Backup(ctx, f); return err }},
		{keysBackup, func(ctx context.Context, f *os.File) error { _, err := s.BackupKeys(ctx, f); return err }},
	} {
		f, err := os.Create(b.path)
		if err != nil {
			t.Fatal(err)
		}
		if err := b.fn(ctx, f); err != nil {
			t.Fatal(err)
		}
		f.Close()
		// The site goes on working between and after the two backups.
		if _, err := s.Segments(ctx, e.ID, AuditEntry{Actor: "sam", Action: "content.read"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.UpdateUser(ctx, User{ID: "sam", Role: "supervisor"}, AuditEntry{Actor: "root", Action: "user.update"}); err != nil {
		t.Fatal(err)
	}
	s.Close()

	if r, err := VerifyAuditOffline(ctx, OfflineOptions{Dir: dir, ContentFile: content, KeysFile: keysBackup}); err != nil || !r.Sealed || r.Checkpoint != "run" {
		t.Fatalf("VerifyAuditOffline(backup pair) = %+v, %v", r, err)
	}
	restored := t.TempDir()
	for path, fn := range map[string]func(string, *os.File) error{
		content:    func(d string, f *os.File) error { return RestoreContent(d, f) },
		keysBackup: func(d string, f *os.File) error { return RestoreKeys(d, f) },
	} {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := fn(restored, f); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	if err := os.CopyFS(filepath.Join(restored, "kek"), os.DirFS(filepath.Join(dir, "kek"))); err != nil {
		t.Fatal(err)
	}
	r := openTest(t, restored)
	if segs, err := r.Segments(ctx, e.ID); err != nil || len(segs) != 20 {
		t.Fatalf("Segments after restoring the pair = %d, %v", len(segs), err)
	}
	if u, err := r.User("sam"); err != nil || u.Role != "agent" {
		t.Fatalf("sam after restoring the pair = %+v, %v; want the state of the backup", u, err)
	}
	if rep, err := r.VerifyAudit(ctx); err != nil || rep.Records == 0 {
		t.Fatalf("VerifyAudit after restoring the pair = %+v, %v", rep, err)
	}
	if _, err := VerifyAuditOffline(ctx, OfflineOptions{Dir: restored}); !errors.Is(err, ErrInUse) {
		t.Fatalf("VerifyAuditOffline of a directory in use = %v, want ErrInUse", err)
	}
	r.Close()
	if rep, err := VerifyAuditOffline(ctx, OfflineOptions{Dir: restored}); err != nil || rep.Checkpoint != "clean stop" {
		t.Fatalf("VerifyAuditOffline after a clean stop = %+v, %v", rep, err)
	}
}

// TestResealAcceptsADeliberateChange edits a record offline, as an
// operator repairing a site might: earshot refuses to start until the
// change is resealed, and the reseal is audited with what it accepted. A
// broken chain cannot be resealed.
func TestResealAcceptsADeliberateChange(t *testing.T) {
	site := buildTamperSite(t)
	dir := site.copyTo(t)
	editDB(t, filepath.Join(dir, DBFile), func(tx *bbolt.Tx) error {
		return editJSON(tx, bucketUsers, []byte("sam"), func(m map[string]any) { m["disabled"] = true })
	})
	ctx := t.Context()
	if _, err := Open(ctx, Options{Dir: dir}); !errors.Is(err, ErrTampered) {
		t.Fatalf("Open before the reseal = %v, want ErrTampered", err)
	}
	if _, err := Reseal(ctx, Options{Dir: dir}, "ops:alice", ""); err == nil {
		t.Fatal("Reseal without a reason succeeded")
	}
	rep, err := Reseal(ctx, Options{Dir: dir}, "ops:alice", "disabled sam while the API was down (ticket 4711)")
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Accepted) != 1 || !strings.Contains(rep.Accepted[0], `user "sam"`) || rep.Entries != int(site.entries) {
		t.Fatalf("Reseal = %+v, want sam's record accepted", rep)
	}
	s := openTest(t, dir)
	if u, _ := s.User("sam"); !u.Disabled {
		t.Errorf("sam after the reseal = %+v, want the offline change kept", u)
	}
	a, _ := s.QueryAudit(ctx, AuditQuery{Action: "integrity.reseal"})
	if len(a) != 1 || a[0].Actor != "ops:alice" || !strings.Contains(a[0].Detail["accepted"], `user "sam"`) {
		t.Errorf("reseal audit = %+v", a)
	}
	if _, err := s.VerifyAudit(ctx); err != nil {
		t.Errorf("VerifyAudit after the reseal: %v", err)
	}
	s.Close()

	editDB(t, filepath.Join(dir, DBFile), func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketAudit)
		return b.Put(seqKey(3), bytes.Replace(b.Get(seqKey(3)), []byte(`"actor":"root"`), []byte(`"actor":"ana"`), 1))
	})
	if _, err := Reseal(ctx, Options{Dir: dir}, "ops:alice", "try to hide an edit"); !errors.Is(err, ErrTampered) || !strings.Contains(err.Error(), "audit entry 3") {
		t.Fatalf("Reseal of an edited entry = %v, want it refused naming the entry", err)
	}
}
