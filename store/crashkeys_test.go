package store

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/earshot/earshot/store/keys"
)

// The tests below kill a store process with SIGKILL while it rotates the
// KEK or purges, with writers appending all along, and check after each
// restart that nothing acknowledged was lost, that the interrupted work
// resumes or was completed, and that the audit log and the integrity seal
// verify. The process is this test binary re-executed as a helper
// (TestCrashKeysHelper); it reports each acknowledged write on stdout, as
// the API would answer it.

const crashKeysEnv = "EARSHOT_STORE_CRASH_KEYS"

// pausingProvider is the real file provider, paused for good at its
// pauseAt'th wrap, so that a rotation is caught in the middle of a batch
// when the process is killed, whatever the speed of the machine.
type pausingProvider struct {
	*keys.FileProvider
	wraps   atomic.Int64
	pauseAt int64
	paused  func()
}

func (p *pausingProvider) Wrap(ctx context.Context, v uint32, dek, aad []byte) ([]byte, error) {
	if p.wraps.Add(1) == p.pauseAt {
		p.paused()
		<-ctx.Done() // the rotation's context never ends: the kill does
		return nil, ctx.Err()
	}
	return p.FileProvider.Wrap(ctx, v, dek, aad)
}

// TestCrashKeysHelper is the store process of the tests below; it does
// nothing unless started by them.
func TestCrashKeysHelper(t *testing.T) {
	spec := os.Getenv(crashKeysEnv)
	if spec == "" {
		t.Skip("helper process for TestCrashDuringRotation and TestCrashDuringPurge")
	}
	mode, dir, _ := strings.Cut(spec, ":")
	var mu sync.Mutex
	out := bufio.NewWriter(os.Stdout)
	say := func(format string, a ...any) {
		mu.Lock()
		fmt.Fprintf(out, format+"\n", a...)
		out.Flush()
		mu.Unlock()
	}
	fail := func(err error) { say("ERR %v", err); os.Exit(2) }
	ctx := context.Background()
	opts := Options{Dir: dir}
	if mode == "rotate" {
		fp, err := keys.NewFileProvider(filepath.Join(dir, "kek"))
		if err != nil {
			fail(err)
		}
		opts.Provider = &pausingProvider{FileProvider: fp, pauseAt: 550, paused: func() { say("PAUSED") }}
	}
	s, err := Open(ctx, opts)
	if err != nil {
		fail(err)
	}
	kept, err := s.Engagements(ctx, EngagementFilter{Queue: "kept"})
	if err != nil {
		fail(err)
	}
	// Writers append to the kept engagements throughout, from where the
	// previous round left off.
	for _, e := range kept {
		segs, err := s.Segments(ctx, e.ID)
		if err != nil {
			fail(err)
		}
		go func() {
			for seq := uint32(len(segs)); ; seq++ {
				if err := s.Append(ctx, seg(e, seq, crashText(e.ID, seq))); err != nil {
					fail(err)
				}
				say("ACK %s %d", e.ID, seq)
			}
		}()
	}
	switch mode {
	case "rotate":
		if _, err := s.RotateKEK(ctx, "root", false); err != nil {
			fail(err)
		}
		fail(errors.New("the rotation finished: it was to be killed midway"))
	case "purge":
		// A point to stop at for the kill ("purge.shredded:3": after the
		// third purge destroyed its data key), if any.
		point, nth, _ := strings.Cut(os.Getenv(crashKeysEnv+"_AT"), ":")
		stopAt, _ := strconv.Atoi(nth)
		seen := 0
		s.crashPoint = func(p string) {
			if p == point {
				if seen++; seen == stopAt {
					say("AT %s", p)
					select {} // until the kill
				}
			}
		}
		doomed, err := s.Engagements(ctx, EngagementFilter{Queue: "doomed"})
		if err != nil {
			fail(err)
		}
		for _, e := range doomed {
			say("BEGIN %s", e.ID)
			if _, err := s.PurgeEngagement(ctx, e.ID, PurgeRequest{Actor: "root", Reason: "erasure request"}); err != nil {
				fail(err)
			}
			say("PURGED %s", e.ID)
		}
		fail(errors.New("nothing left to purge"))
	}
}

// crashRound runs the helper in mode on dir, feeds every line it prints to
// onLine, and kills it with SIGKILL as soon as onLine says so. Lines read
// after the kill count too: they were written before it.
func crashRound(t *testing.T, mode, dir, at string, onLine func(f []string) (kill bool)) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashKeysHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashKeysEnv+"="+mode+":"+dir, crashKeysEnv+"_AT="+at)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) > 0 && f[0] == "ERR" {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("helper: %s", sc.Text())
		}
		if len(f) > 0 && onLine(f) && !killed {
			cmd.Process.Signal(syscall.SIGKILL)
			killed = true
		}
	}
	cmd.Wait()
	if !killed {
		t.Fatal("the helper stopped before it was killed")
	}
	if err := CheckFiles(dir); err != nil {
		t.Fatalf("consistency check after SIGKILL: %v", err)
	}
}

func crashText(id string, seq uint32) string { return fmt.Sprintf("%s segment %d", id[:8], seq) }

// acked collects the acknowledged segments: engagement -> seq -> text.
type acked map[string]map[uint32]string

func (a acked) add(f []string) {
	if len(f) != 3 || f[0] != "ACK" {
		return
	}
	seq, _ := strconv.ParseUint(f[2], 10, 32)
	if a[f[1]] == nil {
		a[f[1]] = map[uint32]string{}
	}
	a[f[1]][uint32(seq)] = crashText(f[1], uint32(seq))
}

// check reads every acknowledged segment back.
func (a acked) check(t *testing.T, s *Store) int {
	t.Helper()
	n := 0
	for id, want := range a {
		segs, err := s.Segments(t.Context(), id)
		if err != nil {
			t.Fatalf("Segments(%s): %v", id, err)
		}
		got := map[uint32]string{}
		for _, g := range segs {
			got[g.Seq] = g.Text
		}
		for seq, text := range want {
			if got[seq] != text {
				t.Fatalf("engagement %s segment %d = %q, want %q (acknowledged before the kill)", id, seq, got[seq], text)
			}
			n++
		}
	}
	return n
}

// crashSite creates the engagements of the crash tests: kept ones with one
// segment, which the writers append to, and n in queue other with segs
// segments each.
func crashSite(t *testing.T, dir string, kept int, other string, n, segs int) {
	t.Helper()
	s := openTest(t, dir)
	defer s.Close()
	addAdmin(t, s)
	var batch []Segment
	for i := range kept + n {
		q, k := "kept", 1
		if i >= kept {
			q, k = other, segs
		}
		e := newEngagement(t, s, q, "", t0)
		for seq := range uint32(k) {
			batch = append(batch, seg(e, seq, crashText(e.ID, seq)))
		}
	}
	if err := s.AppendBatch(t.Context(), batch); err != nil {
		t.Fatal(err)
	}
}

func verifyAfterCrash(t *testing.T, s *Store) VerifyReport {
	t.Helper()
	r, err := s.VerifyAudit(t.Context())
	if err != nil || !r.Sealed {
		t.Fatalf("VerifyAudit after SIGKILL = %+v, %v", r, err)
	}
	return r
}

// TestCrashDuringRotation kills the store while a KEK rotation over 600
// data keys is between its first batch (500, committed) and the end of the
// second, with segments being appended: after the restart the rotation is
// half done, every acknowledged segment is there, the audit verifies, and
// the rotation resumes to the same target and finishes.
func TestCrashDuringRotation(t *testing.T) {
	if os.Getenv(crashKeysEnv) != "" {
		t.Skip("inside the helper")
	}
	dir := t.TempDir()
	crashSite(t, dir, 4, "other", 596, 1)
	got := acked{}
	paused, after := false, 0
	crashRound(t, "rotate", dir, "", func(f []string) bool {
		got.add(f)
		if f[0] == "PAUSED" {
			paused = true
		}
		if paused && f[0] == "ACK" {
			after++
		}
		return after == 100 // writers went on while the rotation was stuck
	})
	s := openTest(t, dir)
	cur, target, err := s.KEKVersions()
	v, _ := s.keys.DEKsByVersion(t.Context())
	if err != nil || cur != 1 || target != 2 || v[2] < 500 || v[1] == 0 || v[1]+v[2] != 600 {
		t.Fatalf("after the kill: current %d target %d, data keys by version %v (%v); want the first batch of 500 under version 2", cur, target, v, err)
	}
	n := got.check(t, s)
	verifyAfterCrash(t, s)
	res, err := s.RotateKEK(t.Context(), "root", false)
	if err != nil || res.To != 2 || res.Rewrapped != v[1] {
		t.Fatalf("resumed RotateKEK = %+v, %v; want the %d keys left re-wrapped under version 2", res, err, v[1])
	}
	if v, _ := s.keys.DEKsByVersion(t.Context()); v[2] != 600 {
		t.Fatalf("data keys by version after the resumed rotation = %v", v)
	}
	s.Close()
	s = openTest(t, dir)
	defer s.Close()
	got.check(t, s)
	all, err := s.Engagements(t.Context(), EngagementFilter{})
	if err != nil || len(all) != 600 {
		t.Fatalf("Engagements = %d, %v", len(all), err)
	}
	for _, e := range all {
		if segs, err := s.Segments(t.Context(), e.ID); err != nil || len(segs) == 0 {
			t.Fatalf("Segments(%s) after the rotation = %d, %v", e.ID, len(segs), err)
		}
	}
	verifyAfterCrash(t, s)
	t.Logf("%d acknowledged segments survived; rotation resumed with %d keys left", n, res.Rewrapped)
}

// TestCrashDuringPurge kills the store in four rounds while it purges
// engagements of 300 segments one after another and writers append to
// others: once right after a purge destroyed the data key (before the
// records are deleted), once after the records were deleted (before
// keys.db is compacted), once between purges, once as a purge begins.
// After each restart: every acknowledged purge holds (no record, the data key
// destroyed), the purge in flight is either complete or not begun (a
// half-done one is finished by Open), every acknowledged segment is
// there, and the audit log and the seal verify.
func TestCrashDuringPurge(t *testing.T) {
	if os.Getenv(crashKeysEnv) != "" {
		t.Skip("inside the helper")
	}
	dir := t.TempDir()
	crashSite(t, dir, 4, "doomed", 45, 300)
	got := acked{}
	purged := map[string]bool{}
	for round, kill := range []struct {
		point string // where the helper stops for the kill
		line  string // the line the kill follows
		n     int
	}{
		{"purge.shredded:3", "AT", 1},
		{"purge.deleted:2", "AT", 1},
		{"", "PURGED", 3},
		{"", "BEGIN", 4},
	} {
		var inFlight string
		n := 0
		crashRound(t, "purge", dir, kill.point, func(f []string) bool {
			got.add(f)
			switch f[0] {
			case "BEGIN":
				inFlight = f[1]
			case "PURGED":
				purged[f[1]], inFlight = true, ""
			}
			if f[0] == kill.line {
				n++
			}
			return n == kill.n
		})
		s := openTest(t, dir)
		ctx := t.Context()
		for id := range purged {
			if _, err := s.Engagement(ctx, id); !errors.Is(err, ErrNotFound) {
				t.Fatalf("round %d: purged engagement %s = %v, want ErrNotFound", round, id, err)
			}
			kid, _ := parseID(id)
			if _, err := s.dek(ctx, kid); !errors.Is(err, ErrPurged) {
				t.Fatalf("round %d: data key of purged engagement %s = %v, want ErrPurged", round, id, err)
			}
		}
		if inFlight != "" {
			_, err := s.Segments(ctx, inFlight)
			if err != nil && !errors.Is(err, ErrNotFound) {
				t.Fatalf("round %d: the engagement whose purge was cut short: %v; want it whole or gone", round, err)
			}
			// Killed after the data key was destroyed: Open finished the
			// purge (and audited it); after the records went: the purge's
			// own entry is there.
			action := map[string]string{"purge.shredded:3": "purge.complete", "purge.deleted:2": "purge.engagement"}[kill.point]
			if a, _ := s.QueryAudit(ctx, AuditQuery{Action: action, Engagement: inFlight}); action != "" && (!errors.Is(err, ErrNotFound) || len(a) != 1) {
				t.Fatalf("round %d: engagement %s killed at %s: Segments = %v, %s entries %d; want it gone and audited once", round, inFlight, kill.point, err, action, len(a))
			}
			if errors.Is(err, ErrNotFound) {
				purged[inFlight] = true
			}
		}
		segs := got.check(t, s)
		r := verifyAfterCrash(t, s)
		completed, _ := s.QueryAudit(ctx, AuditQuery{Action: "purge.complete"})
		s.Close()
		t.Logf("round %d: %d purges acknowledged in all, %d finished by Open so far, %d acknowledged segments kept, %d audit entries verify",
			round, len(purged), len(completed), segs, r.Entries)
	}
}
