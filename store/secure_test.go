package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.etcd.io/bbolt"

	"github.com/earshot/earshot/store/keys"
)

const (
	secretText     = "my card number is four one one one and my mother's maiden name is Featherstonehaugh"
	secretCustomer = "CUST-PHONE+44-7700-900123"
	secretSummary  = "Customer Featherstonehaugh disputes a charge"
)

func fileContains(t *testing.T, path string, needles ...string) []string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, n := range needles {
		if bytes.Contains(raw, []byte(n)) {
			found = append(found, n)
		}
	}
	return found
}

// fill stores known customer content and returns the engagement.
func fill(t *testing.T, s *Store) Engagement {
	t.Helper()
	ctx := context.Background()
	e := newEngagement(t, s, "billing", secretCustomer, t0)
	for i := range 20 {
		if err := s.Append(ctx, seg(e, uint32(i), secretText)); err != nil {
			t.Fatal(err)
		}
	}
	payload, _ := json.Marshal(map[string]string{"summary": secretSummary})
	if err := s.PutResult(ctx, Result{Engagement: e.ID, Feature: "summary", Version: "1", Payload: payload}); err != nil {
		t.Fatal(err)
	}
	if err := s.flushJournal(); err != nil {
		t.Fatal(err)
	}
	return e
}

func TestJournalTamperDetected(t *testing.T) {
	defer func(d time.Duration) { moveInterval = d }(moveInterval)
	moveInterval = time.Hour // keep the segments in the journal
	tests := []struct {
		name   string
		mutate func(j *bbolt.Bucket, a, b []byte)
	}{
		{"flipped byte", func(j *bbolt.Bucket, a, _ []byte) {
			v := bytes.Clone(j.Get(a))
			v[len(v)-5] ^= 0x80
			j.Put(a, v)
		}},
		{"sealed values swapped", func(j *bbolt.Bucket, a, b []byte) {
			va, vb := bytes.Clone(j.Get(a)), bytes.Clone(j.Get(b))
			// Keep each entry's header (engagement, seq), swap the sealed parts.
			j.Put(a, append(va[:20:20], vb[20:]...))
			j.Put(b, append(vb[:20:20], va[20:]...))
		}},
		{"entry relabelled to another sequence number", func(j *bbolt.Bucket, a, _ []byte) {
			v := bytes.Clone(j.Get(a))
			v[19] ^= 0x07
			j.Put(a, v)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openTest(t, t.TempDir())
			defer s.Close()
			e := newEngagement(t, s, "q", "", t0)
			appendN(t, s, e, 3, "journal secret %d")
			id, _ := parseID(e.ID)
			s.jmu.Lock()
			refs := s.journal[id]
			if len(refs) != 3 {
				s.jmu.Unlock()
				t.Fatalf("journal holds %d entries, want 3", len(refs))
			}
			a := binary.BigEndian.AppendUint64(nil, refs[0].gseq)
			b := binary.BigEndian.AppendUint64(nil, refs[1].gseq)
			s.db.Update(func(tx *bbolt.Tx) error { tt.mutate(tx.Bucket(bucketJournal), a, b); return nil })
			s.jmu.Unlock()
			if _, err := s.Segments(context.Background(), e.ID); !errors.Is(err, ErrTampered) {
				t.Fatalf("Segments after tampering with the journal = %v, want ErrTampered", err)
			}
			// Moved into the per-engagement layout, it still fails.
			if err := s.flushJournal(); err != nil {
				t.Fatal(err)
			}
			if _, err := s.Segments(context.Background(), e.ID); !errors.Is(err, ErrTampered) {
				t.Fatalf("Segments after moving tampered entries = %v, want ErrTampered", err)
			}
		})
	}
}

func TestNoPlaintextOnDiskOrInBackups(t *testing.T) {
	for _, plain := range []bool{false, true} {
		name := "sealed"
		if plain {
			name = "control-unsealed"
		}
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			s := openTest(t, dir)
			s.plaintextForBench = plain
			e := fill(t, s)
			got, err := s.Segments(context.Background(), e.ID)
			if err != nil || len(got) != 20 || got[3].Text != secretText {
				t.Fatalf("Segments = %d segments, %v; want 20 readable", len(got), err)
			}
			var content, keys bytes.Buffer
			if _, err := s.Backup(context.Background(), &content); err != nil {
				t.Fatal(err)
			}
			if _, err := s.BackupKeys(context.Background(), &keys); err != nil {
				t.Fatal(err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			bk := filepath.Join(t.TempDir(), "content.bak")
			os.WriteFile(bk, content.Bytes(), 0o600)
			kb := filepath.Join(t.TempDir(), "keys.bak")
			os.WriteFile(kb, keys.Bytes(), 0o600)
			needles := []string{secretText, "Featherstonehaugh", secretCustomer, "7700-900123", secretSummary}
			var found []string
			for _, p := range []string{filepath.Join(dir, DBFile), filepath.Join(dir, KeysFile), bk, kb} {
				found = append(found, fileContains(t, p, needles...)...)
			}
			if plain {
				// The same scan must find the text when sealing is off:
				// otherwise the sealed case proves nothing.
				if len(found) == 0 {
					t.Fatal("unsealed control: plain text not found in the files; the scan is broken")
				}
				return
			}
			if len(found) > 0 {
				t.Fatalf("customer content found in plain text on disk: %q", found)
			}
			// Metadata is plain and must be visible, proving the file was read.
			if len(fileContains(t, filepath.Join(dir, DBFile), "billing")) == 0 {
				t.Fatal("queue name not found in the database file: the scan proves nothing")
			}
		})
	}
}

func TestReopenRoundTrip(t *testing.T) {
	dir := t.TempDir()
	s := openTest(t, dir)
	e := fill(t, s)
	s.Close()
	s = openTest(t, dir)
	defer s.Close()
	ctx := context.Background()
	got, err := s.Engagement(ctx, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(e, got); diff != "" {
		t.Errorf("Engagement after reopen (-want +got):\n%s", diff)
	}
	segs, err := s.Segments(ctx, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(seg(e, 7, secretText), segs[7]); diff != "" {
		t.Errorf("segment 7 (-want +got):\n%s", diff)
	}
	r, err := s.Result(ctx, e.ID, "summary")
	if err != nil || !strings.Contains(string(r.Payload), secretSummary) {
		t.Fatalf("Result = %s, %v", r.Payload, err)
	}
	list, err := s.Engagements(ctx, EngagementFilter{CustomerRef: secretCustomer})
	if err != nil || len(list) != 1 || list[0].ID != e.ID || list[0].CustomerRef != secretCustomer {
		t.Fatalf("Engagements by customer = %+v, %v", list, err)
	}
}

func TestTamperDetected(t *testing.T) {
	type mutate func(t *testing.T, tx *bbolt.Tx, e Engagement)
	segKey := func(e Engagement, seq uint32) []byte { id, _ := parseID(e.ID); return segmentKey(id, seq) }
	tests := []struct {
		name   string
		mutate mutate
		read   func(s *Store, e Engagement) error
	}{
		{
			name: "flipped byte in a segment",
			mutate: func(t *testing.T, tx *bbolt.Tx, e Engagement) {
				b := tx.Bucket(bucketSegments)
				v := bytes.Clone(b.Get(segKey(e, 3)))
				v[len(v)/2] ^= 0x01
				b.Put(segKey(e, 3), v)
			},
			read: func(s *Store, e Engagement) error { _, err := s.Segments(context.Background(), e.ID); return err },
		},
		{
			name: "two segments swapped",
			mutate: func(t *testing.T, tx *bbolt.Tx, e Engagement) {
				b := tx.Bucket(bucketSegments)
				a, c := bytes.Clone(b.Get(segKey(e, 1))), bytes.Clone(b.Get(segKey(e, 2)))
				b.Put(segKey(e, 1), c)
				b.Put(segKey(e, 2), a)
			},
			read: func(s *Store, e Engagement) error { _, err := s.Segments(context.Background(), e.ID); return err },
		},
		{
			name: "result moved to another feature",
			mutate: func(t *testing.T, tx *bbolt.Tx, e Engagement) {
				id, _ := parseID(e.ID)
				b := tx.Bucket(bucketResults)
				b.Put(resultKey(id, "notes"), bytes.Clone(b.Get(resultKey(id, "summary"))))
			},
			read: func(s *Store, e Engagement) error {
				_, err := s.Result(context.Background(), e.ID, "notes")
				return err
			},
		},
		{
			name: "customer reference swapped with another engagement's",
			mutate: func(t *testing.T, tx *bbolt.Tx, e Engagement) {
				id, _ := parseID(e.ID)
				var other engID
				tx.Bucket(bucketEngagements).ForEach(func(k, _ []byte) error {
					if !bytes.Equal(k, id[:]) {
						copy(other[:], k)
					}
					return nil
				})
				a, _ := unsafeGetEngagement(tx, id)
				b, _ := unsafeGetEngagement(tx, other)
				a.SealedCustomerRef, b.SealedCustomerRef = b.SealedCustomerRef, a.SealedCustomerRef
				ra, _ := json.Marshal(a)
				rb, _ := json.Marshal(b)
				tx.Bucket(bucketEngagements).Put(id[:], ra)
				tx.Bucket(bucketEngagements).Put(other[:], rb)
			},
			read: func(s *Store, e Engagement) error { _, err := s.Engagement(context.Background(), e.ID); return err },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openTest(t, t.TempDir())
			defer s.Close()
			e := fill(t, s)
			newEngagement(t, s, "billing", "CUST-OTHER", t0)
			if err := tt.read(s, e); err != nil && !errors.Is(err, ErrNotFound) {
				t.Fatalf("read before tampering: %v", err)
			}
			if err := s.db.Update(func(tx *bbolt.Tx) error { tt.mutate(t, tx, e); return nil }); err != nil {
				t.Fatal(err)
			}
			err := tt.read(s, e)
			if !errors.Is(err, ErrTampered) {
				t.Fatalf("read after tampering = %v, want ErrTampered", err)
			}
		})
	}
}

func TestAuditChainTamper(t *testing.T) {
	entryKey := func(seq uint64) []byte { return []byte{0, 0, 0, 0, 0, 0, 0, byte(seq)} }
	tests := []struct {
		name      string
		mutate    func(t *testing.T, s *Store, tx *bbolt.Tx)
		wantBreak string
	}{
		{"actor edited", func(t *testing.T, s *Store, tx *bbolt.Tx) {
			b := tx.Bucket(bucketAudit)
			v := bytes.Replace(b.Get(entryKey(3)), []byte(`"actor":"user3"`), []byte(`"actor":"mallory"`), 1)
			b.Put(entryKey(3), v)
		}, "audit entry 3: content does not match its hash"},
		{"entry deleted", func(t *testing.T, s *Store, tx *bbolt.Tx) {
			tx.Bucket(bucketAudit).Delete(entryKey(4))
		}, "audit entry 5: expected entry 4"},
		{"tail rewritten with a recomputed hash", func(t *testing.T, s *Store, tx *bbolt.Tx) {
			b := tx.Bucket(bucketAudit)
			var e AuditEntry
			json.Unmarshal(b.Get(entryKey(6)), &e)
			e.Actor = "mallory"
			e.Hash = e.digest() // a forger without the site audit key cannot fix the MAC
			raw, _ := json.Marshal(e)
			b.Put(entryKey(6), raw)
		}, "audit entry 6: MAC does not match"},
		{"entries swapped", func(t *testing.T, s *Store, tx *bbolt.Tx) {
			b := tx.Bucket(bucketAudit)
			a, c := bytes.Clone(b.Get(entryKey(2))), bytes.Clone(b.Get(entryKey(3)))
			b.Put(entryKey(2), c)
			b.Put(entryKey(3), a)
		}, "audit entry 2: sequence field does not match its key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openTest(t, t.TempDir())
			defer s.Close()
			for i := 1; i <= 6; i++ {
				if err := s.AppendAudit(context.Background(), AuditEntry{Actor: "user" + string(rune('0'+i)), Action: "content.read"}); err != nil {
					t.Fatal(err)
				}
			}
			if r, err := s.VerifyAudit(context.Background()); err != nil || r.Entries != 6 {
				t.Fatalf("VerifyAudit before = %+v, %v", r, err)
			}
			s.db.Update(func(tx *bbolt.Tx) error { tt.mutate(t, s, tx); return nil })
			_, err := s.VerifyAudit(context.Background())
			if !errors.Is(err, ErrTampered) || !strings.Contains(err.Error(), tt.wantBreak) {
				t.Fatalf("VerifyAudit = %v, want ErrTampered mentioning %q", err, tt.wantBreak)
			}
		})
	}
}

func TestAuditedChangesAndQuery(t *testing.T) {
	s := openTest(t, t.TempDir())
	defer s.Close()
	ctx := context.Background()
	addAdmin(t, s)
	if err := s.CreateUser(context.Background(), User{ID: "ana", Role: "agent"}, AuditEntry{Actor: "root", Action: "user.create", Target: "ana"}); err != nil {
		t.Fatal(err)
	}
	// A failed change leaves no audit entry behind.
	if err := s.CreateUser(context.Background(), User{ID: "ana", Role: "agent"}, AuditEntry{Actor: "root", Action: "user.create", Target: "ana"}); !errors.Is(err, ErrExists) {
		t.Fatal(err)
	}
	if err := s.PutSetting(context.Background(), "features", map[string]bool{"summary": true}, AuditEntry{Actor: "root", Action: "setting.put", Target: "features"}); err != nil {
		t.Fatal(err)
	}
	e := fill(t, s)
	if _, err := s.Segments(ctx, e.ID, AuditEntry{Actor: "ana", Feature: "transcript"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Result(ctx, e.ID, "summary", AuditEntry{Actor: "ana", Feature: "summary"}); err != nil {
		t.Fatal(err)
	}
	all, err := s.QueryAudit(context.Background(), AuditQuery{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range all {
		got = append(got, a.Actor+" "+a.Action+" "+a.Target+a.Feature)
	}
	want := []string{"root user.create ana", "root setting.put features", "ana content.read transcript", "ana content.read summary"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("audit log (-want +got):\n%s", diff)
	}
	reads, _ := s.QueryAudit(context.Background(), AuditQuery{Actor: "ana", Engagement: e.ID})
	if len(reads) != 2 {
		t.Errorf("QueryAudit(actor ana, engagement) = %d entries, want 2", len(reads))
	}
	var buf bytes.Buffer
	n, err := s.ExportAudit(context.Background(), &buf, AuditQuery{Action: "content.read"})
	if err != nil || n != 2 || strings.Count(buf.String(), "\n") != 2 {
		t.Fatalf("ExportAudit = %d, %v:\n%s", n, err, buf.String())
	}
	if _, err := s.VerifyAudit(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestGroupCommitConcurrent(t *testing.T) {
	s := openTest(t, t.TempDir())
	defer s.Close()
	ctx := context.Background()
	const writers, per = 40, 25
	engs := make([]Engagement, writers)
	for i := range engs {
		engs[i] = newEngagement(t, s, "q", "", t0)
	}
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for i := range writers {
		wg.Go(func() {
			for j := range per {
				if err := s.Append(ctx, seg(engs[i], uint32(j), "hello")); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for _, e := range engs {
		segs, err := s.Segments(ctx, e.ID)
		if err != nil || len(segs) != per {
			t.Fatalf("Segments(%s) = %d, %v; want %d", e.ID, len(segs), err, per)
		}
	}
	// A segment of an unknown engagement fails alone.
	bogus := Engagement{ID: strings.Repeat("ab", 16)}
	if err := s.Append(ctx, seg(bogus, 0, "x")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Append to unknown engagement = %v, want ErrNotFound", err)
	}
	if err := s.Append(ctx, Segment{Engagement: engs[0].ID, Speaker: "", Text: "x"}); err == nil || !strings.Contains(err.Error(), "speaker") {
		t.Fatalf("Append without speaker = %v, want an error naming speaker", err)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		mod     func(*Config)
		wantErr string
	}{
		{"default", func(*Config) {}, ""},
		{"audit below minimum", func(c *Config) { c.Retention.AuditDays = 89 }, "audit_days must be at least 90"},
		{"negative transcripts", func(c *Config) { c.Retention.TranscriptDays = -1 }, "transcript_days"},
		{"unknown provider", func(c *Config) { c.Keys.Provider = "vault" }, `keys: provider "vault" unknown`},
		{"pkcs11 without module", func(c *Config) { c.Keys.Provider = keys.ProviderPKCS11 }, "keys: pkcs11.module"},
		{"pkcs11 without pin", func(c *Config) {
			c.Keys.Provider, c.Keys.PKCS11.Module, c.Keys.PKCS11.TokenLabel = keys.ProviderPKCS11, "/x.so", "t"
		}, "pin"},
		{"plugin without name", func(c *Config) { c.Keys.Provider = keys.ProviderPlugin }, "keys: plugin.name"},
		{"plugin with a bad checksum", func(c *Config) {
			c.Keys.Provider, c.Keys.Plugin.Name, c.Keys.Plugin.SHA256 = keys.ProviderPlugin, "kms", "abc"
		}, "keys: plugin.sha256"},
		{"plugin", func(c *Config) {
			c.Keys.Provider, c.Keys.Plugin.Name, c.Keys.Plugin.SHA256 = keys.ProviderPlugin, "kms", strings.Repeat("0f", 32)
		}, ""},
		{"zero batch", func(c *Config) { c.GroupCommit.MaxBatch = 0 }, "max_batch"},
		{"sweep too often", func(c *Config) { c.SweepInterval = time.Second }, "sweep_interval"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			tt.mod(&c)
			err := c.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Validate = %v, want error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestMoverMovesAgedJournal(t *testing.T) {
	defer func(i, a time.Duration) { moveInterval, moveAge = i, a }(moveInterval, moveAge)
	moveInterval, moveAge = 10*time.Millisecond, 50*time.Millisecond
	s := openTest(t, t.TempDir())
	defer s.Close()
	e := newEngagement(t, s, "q", "", t0)
	appendN(t, s, e, 30, "moved %d")
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.jmu.RLock()
		n := s.journalLen
		s.jmu.RUnlock()
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d journal entries still unmoved after 10s", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	var inSegments, inJournal int
	s.db.View(func(tx *bbolt.Tx) error {
		inSegments, inJournal = tx.Bucket(bucketSegments).Stats().KeyN, tx.Bucket(bucketJournal).Stats().KeyN
		return nil
	})
	if inSegments != 30 || inJournal != 0 {
		t.Fatalf("after moving: %d in segments, %d in journal; want 30, 0", inSegments, inJournal)
	}
	segs, err := s.Segments(context.Background(), e.ID)
	if err != nil || len(segs) != 30 || segs[29].Text != "moved 29" {
		t.Fatalf("Segments after moving = %d, %v", len(segs), err)
	}
}
