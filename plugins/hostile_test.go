package plugins

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/earshot/earshot/plugins/sdk"
)

// The hostile-plugin suite: plugins/testdata/hostile, a real plugin
// process, reads secrets, spawns children, floods and lies in its
// manifest; each behaviour must be contained and counted, and the host
// must stay healthy.

// dataDir lays out what a daemon keeps in its data directory, readable by
// every user, so that only the sandbox stands between a plugin and them.
type dataDir struct {
	root    string
	secrets []string
}

func newDataDir(t *testing.T) dataDir {
	t.Helper()
	d := dataDir{root: sharedDir(t)}
	for _, name := range []string{"admin.token", "kek", "earshot.db", "keys.db"} {
		p := filepath.Join(d.root, name)
		if err := os.WriteFile(p, []byte("secret "+name), 0o644); err != nil {
			t.Fatal(err)
		}
		d.secrets = append(d.secrets, p)
	}
	return d
}

func (d dataDir) config(t *testing.T) Config {
	cfg := testConfig(t)
	cfg.Dir = filepath.Join(d.root, "plugins")
	cfg.Sandbox.Protect = []string{d.root}
	return cfg
}

// installHostile installs the hostile plugin as name with cfg, enabled.
func (th *testHost) installHostile(t *testing.T, name string, kinds []sdk.Kind, ps PluginSettings) {
	t.Helper()
	th.install(t, "hostile", Manifest{Name: name, Executable: name, Kinds: kinds})
	ps.Enabled = true
	th.set(t, name, ps)
}

// probe asks the hostile plugin to attack and returns what it reported.
func probe(t *testing.T, th *testHost, name string) map[string]string {
	t.Helper()
	cards, err := th.Cards(context.Background(), name, sdk.Engagement{EngagementID: "probe"})
	if err != nil {
		t.Fatalf("probe: %v", err)
	}
	out := map[string]string{}
	for _, c := range cards {
		for _, f := range c.Fields {
			out[f.Key] = f.Value
		}
	}
	return out
}

// attack configures the hostile plugin's probe: every secret of d, the
// other plugin's folder and files, /proc/<this process>/environ, writes
// into the data directory, the other plugin's folder and folders outside
// both (open to all users), plus a
// granted folder (read and written) that must work.
func attack(t *testing.T, d dataDir, granted string) (PluginSettings, []string, []string) {
	other := filepath.Join(d.root, "plugins", "crm-csv")
	reads := append(append([]string(nil), d.secrets...), d.root, other, filepath.Join(other, "crm-csv"), filepath.Join(other, ManifestFile))
	writes := []string{d.root, other, filepath.Dir(d.root), sharedDir(t)}
	ps := PluginSettings{
		ReadPaths: []string{granted}, WritePaths: []string{granted},
		Config: map[string]string{
			"read":       strings.Join(append(reads, filepath.Join(granted, "granted.txt")), "\n"),
			"write":      strings.Join(append(writes, granted), "\n"),
			"daemon_pid": strconv.Itoa(os.Getpid()),
		},
	}
	return ps, reads, writes
}

func grantedDir(t *testing.T) string {
	g := sharedDir(t)
	if err := os.WriteFile(filepath.Join(g, "granted.txt"), []byte("public"), 0o644); err != nil {
		t.Fatal(err)
	}
	return g
}

func TestHostilePluginCannotReadSecrets(t *testing.T) {
	if landlockABI() == 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("this kernel has no Landlock: plugins cannot be confined")
		}
		t.Skip("this kernel has no Landlock (Linux 5.13 or later with landlock in the lsm= list is needed)")
	}
	for _, tc := range []struct {
		name     string
		sameUser bool
	}{
		// Landlock alone: the plugin runs as the daemon's own user (root
		// here), which may read every file by permissions.
		{"as the daemon's user", true},
		// The daemon runs as root: plugins run as the sandbox's user too.
		{"as the sandbox user", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !tc.sameUser && os.Geteuid() != 0 {
				t.Skip("plugins run as their own user only when the daemon runs as root")
			}
			d := newDataDir(t)
			th := newTestHost(t, d.config(t))
			if tc.sameUser {
				th.sandbox.uid, th.sandbox.gid = -1, -1
			}
			th.crm(t, nil) // another plugin's folder, to be left alone
			g := grantedDir(t)
			ps, reads, writes := attack(t, d, g)
			th.installHostile(t, "hostile", []sdk.Kind{sdk.KindInfo}, ps)
			got := probe(t, th, "hostile")

			for _, p := range reads {
				if v := got["read "+p]; !strings.HasPrefix(v, "denied") {
					t.Errorf("read %s: %q, want denied", p, v)
				}
			}
			for _, p := range writes {
				if v := got["write "+p]; !strings.HasPrefix(v, "denied") {
					t.Errorf("write into %s: %q, want denied", p, v)
				}
				if _, err := os.Stat(filepath.Join(p, "hostile-was-here")); err == nil {
					t.Errorf("the plugin wrote into %s", p)
				}
			}
			for _, k := range []string{"environ", "signal"} {
				if v := got[k]; !strings.HasPrefix(v, "denied") {
					t.Errorf("%s of the daemon's process: %q, want denied", k, v)
				}
			}
			// What it is given still works: the probe can see.
			for _, k := range []string{"read " + filepath.Join(g, "granted.txt"), "write " + g, "write workdir"} {
				if v := got[k]; !strings.HasPrefix(v, "ok") {
					t.Errorf("%s: %q, want ok", k, v)
				}
			}
			if v := testutil.ToFloat64(th.m.landlockABI.WithLabelValues()); v < 1 {
				t.Errorf("sandbox_landlock_abi = %v", v)
			}
		})
	}
}

// TestUnconfinedOnlyWhenAllowed stands in for a kernel without Landlock:
// plugins are refused, unless the operator allows them unconfined, which
// is logged and counted; the probe then reads every secret, which shows
// that the probe above can fail.
func TestUnconfinedOnlyWhenAllowed(t *testing.T) {
	saved := landlockABI
	landlockABI = func() int { return 0 }
	t.Cleanup(func() { landlockABI = saved })

	d := newDataDir(t)
	cfg := d.config(t)
	th := newTestHost(t, cfg)
	th.sandbox.uid, th.sandbox.gid = -1, -1 // as the daemon's user, as in production
	ps, reads, _ := attack(t, d, grantedDir(t))
	th.installHostile(t, "hostile", []sdk.Kind{sdk.KindInfo}, ps)
	_, err := th.Cards(context.Background(), "hostile", sdk.Engagement{EngagementID: "probe"})
	if !errors.Is(err, ErrUnconfined) || !strings.Contains(err.Error(), "allow_unconfined") {
		t.Fatalf("Cards without Landlock: error = %v, want ErrUnconfined naming allow_unconfined", err)
	}
	if got := testutil.ToFloat64(th.m.unconfined.WithLabelValues("hostile", "refused")); got != 1 {
		t.Errorf("unconfined_starts_total{refused} = %v, want 1", got)
	}
	if !strings.Contains(th.logs.String(), "no Landlock: plugins will not start") {
		t.Error("no warning at start that plugins will not start")
	}

	cfg.Sandbox.AllowUnconfined = true
	cfg.Dir = filepath.Join(t.TempDir(), "plugins2")
	th2 := newTestHost(t, cfg)
	th2.sandbox.uid, th2.sandbox.gid = -1, -1
	th2.installHostile(t, "hostile", []sdk.Kind{sdk.KindInfo}, ps)
	got := probe(t, th2, "hostile")
	if os.Geteuid() == 0 {
		for _, p := range reads[:len(d.secrets)] {
			if v := got["read "+p]; !strings.HasPrefix(v, "ok") {
				t.Errorf("unconfined read %s: %q, want ok (the probe must be able to see)", p, v)
			}
		}
	}
	if got := testutil.ToFloat64(th2.m.unconfined.WithLabelValues("hostile", "started")); got != 1 {
		t.Errorf("unconfined_starts_total{started} = %v, want 1", got)
	}
	if v := testutil.ToFloat64(th2.m.landlockABI.WithLabelValues()); v != 0 {
		t.Errorf("sandbox_landlock_abi = %v, want 0", v)
	}
	if !strings.Contains(th2.logs.String(), "plugin runs unconfined") {
		t.Error("an unconfined start was not logged")
	}
}

// spawnChildren asks the hostile plugin to start a plain child, a setsid'd
// one and an orphan in a session of its own, and returns their PIDs.
func spawnChildren(t *testing.T, h *Host, name string) []int {
	t.Helper()
	cards, err := h.Cards(context.Background(), name, sdk.Engagement{EngagementID: "spawn"})
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, f := range cards[0].Fields {
		pid, err := strconv.Atoi(f.Value)
		if err != nil {
			t.Fatalf("spawn %s: %s", f.Key, f.Value)
		}
		pids = append(pids, pid)
	}
	if len(pids) != 3 {
		t.Fatalf("spawned %v, want 3 children", pids)
	}
	waitFor(t, "the children to run", func() bool {
		for _, p := range pids {
			if !processAlive(p) {
				return false
			}
		}
		return true
	})
	return pids
}

func waitGone(t *testing.T, what string, pids []int) {
	t.Helper()
	waitFor(t, what, func() bool {
		for _, p := range pids {
			if processAlive(p) {
				return false
			}
		}
		return true
	})
}

func TestHostilePluginChildrenEnded(t *testing.T) {
	th := newTestHost(t, testConfig(t))
	th.installHostile(t, "hostile", []sdk.Kind{sdk.KindInfo}, PluginSettings{})

	pids := spawnChildren(t, th.Host, "hostile")
	if err := th.Restart("hostile"); err != nil {
		t.Fatal(err)
	}
	waitGone(t, "the children to end at restart", pids)
	waitFor(t, "the leftovers to be counted", func() bool {
		return testutil.ToFloat64(th.m.leftovers.WithLabelValues("hostile")) == 3
	})

	// A crash: the plugin is killed; its children go with it.
	pids = spawnChildren(t, th.Host, "hostile")
	st := th.status(t, "hostile")
	var plugin []int // the sandbox's children: the plugin and the orphan
	for _, p := range childrenOf(st.PID) {
		if !slices.Contains(pids, p) {
			plugin = append(plugin, p)
		}
	}
	if len(plugin) != 1 {
		t.Fatalf("the sandbox %d has children %v besides %v, want the plugin only", st.PID, plugin, pids)
	}
	if err := syscall.Kill(plugin[0], syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitGone(t, "the children to end when the plugin crashes", pids)

	waitFor(t, "the plugin to restart", func() bool {
		_, err := th.Cards(context.Background(), "hostile", sdk.Engagement{EngagementID: "none"})
		return errors.Is(err, sdk.ErrNotFound)
	})
	pids = spawnChildren(t, th.Host, "hostile")
	if err := th.Uninstall("hostile"); err != nil {
		t.Fatal(err)
	}
	waitGone(t, "the children to end at uninstall", pids)

	th.installHostile(t, "hostile", []sdk.Kind{sdk.KindInfo}, PluginSettings{})
	pids = spawnChildren(t, th.Host, "hostile")
	if err := th.Close(); err != nil {
		t.Fatal(err)
	}
	for _, p := range pids {
		if processAlive(p) {
			t.Errorf("child %d outlived the host's Close", p)
		}
	}
}

// The daemon killed outright (kill -9): its plugins' sandboxes notice and
// end every process the plugins started. The daemon is this test binary
// run again as a small host (see runTestHostProcess).
func TestHostilePluginChildrenEndWithTheDaemon(t *testing.T) {
	cfg := testConfig(t)
	b, _ := json.Marshal(cfg)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), testHostEnv+"="+string(b), testBinDirEnv+"="+binDir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("the host process said nothing: %v", err)
	}
	var pids []int
	if err := json.Unmarshal([]byte(line), &pids); err != nil || len(pids) != 3 {
		t.Fatalf("host process: %q", line)
	}
	for _, p := range pids {
		if !processAlive(p) {
			t.Fatalf("child %d is not running", p)
		}
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	waitGone(t, "the children to end with the daemon", pids)
}

const (
	testHostEnv   = "EARSHOT_PLUGINS_TEST_HOST"
	testBinDirEnv = "EARSHOT_PLUGINS_TEST_BINDIR"
)

// runTestHostProcess is the small daemon of
// TestHostilePluginChildrenEndWithTheDaemon: it runs a host with the
// hostile plugin, has it spawn children, prints their PIDs and waits to be
// killed.
func runTestHostProcess(cfgJSON string) {
	var cfg Config
	if err := json.Unmarshal([]byte(cfgJSON), &cfg); err != nil {
		panic(err)
	}
	settings := NewMemSettings(false)
	h, err := New(cfg, nil, nil, settings, &recordingAuditor{})
	if err != nil {
		panic(err)
	}
	src, err := os.MkdirTemp("", "hostile-src-")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(src)
	if err := copyFile(filepath.Join(os.Getenv(testBinDirEnv), "hostile"), filepath.Join(src, "hostile"), 0o755); err != nil {
		panic(err)
	}
	mb, _ := json.Marshal(Manifest{Name: "hostile", Version: "1.0.0", Executable: "hostile", Kinds: []sdk.Kind{sdk.KindInfo}})
	if err := os.WriteFile(filepath.Join(src, ManifestFile), mb, 0o644); err != nil {
		panic(err)
	}
	m, err := h.Install(src)
	if err != nil {
		panic(err)
	}
	settings.Set("hostile", PluginSettings{Enabled: true, ApprovedSHA256: m.SHA256})
	cards, err := h.Cards(context.Background(), "hostile", sdk.Engagement{EngagementID: "spawn"})
	if err != nil {
		panic(err)
	}
	var pids []int
	for _, f := range cards[0].Fields {
		p, err := strconv.Atoi(f.Value)
		if err != nil {
			panic(f.Key + ": " + f.Value)
		}
		pids = append(pids, p)
	}
	b, _ := json.Marshal(pids)
	fmt.Println(string(b))
	select {} // until killed
}

func TestHostilePluginFloods(t *testing.T) {
	cfg := testConfig(t)
	cfg.MaxInFlight = 4
	th := newTestHost(t, cfg)
	ctx := context.Background()
	th.installHostile(t, "hostile", []sdk.Kind{sdk.KindInfo, sdk.KindKnowledge}, PluginSettings{
		Config: map[string]string{"flood_bytes": strconv.Itoa(2 * cfg.MaxResponseBytes), "articles": "200", "article_bytes": "16384", "ignore_limit": "yes"}})

	t.Run("huge answer", func(t *testing.T) {
		if _, err := th.Cards(ctx, "hostile", sdk.Engagement{EngagementID: "flood"}); err == nil {
			t.Fatal("an answer twice the size limit was accepted")
		}
		if got := testutil.ToFloat64(th.m.calls.WithLabelValues("hostile", "info", "too_large")); got != 1 {
			t.Errorf("calls_total{too_large} = %v, want 1", got)
		}
		// The host, and the plugin, still answer.
		if _, err := th.Cards(ctx, "hostile", sdk.Engagement{EngagementID: "none"}); !errors.Is(err, sdk.ErrNotFound) {
			t.Errorf("next call: %v, want the plugin's not found", err)
		}
	})

	t.Run("many calls", func(t *testing.T) {
		const n = 400
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for range n {
			wg.Go(func() {
				_, err := th.Cards(ctx, "hostile", sdk.Engagement{EngagementID: "none"})
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		var answered, busy int
		for err := range errs {
			switch {
			case errors.Is(err, sdk.ErrNotFound):
				answered++
			case errors.Is(err, ErrBusy):
				busy++
			default:
				t.Errorf("call: %v", err)
			}
		}
		if answered+busy != n || answered == 0 {
			t.Errorf("%d answered, %d refused busy, of %d", answered, busy, n)
		}
		if got := testutil.ToFloat64(th.m.rejected.WithLabelValues("hostile", "busy")); int(got) != busy {
			t.Errorf("calls_rejected_total{busy} = %v, want %d", got, busy)
		}
	})

	t.Run("knowledge pages larger than asked", func(t *testing.T) {
		applied := 0
		res, err := th.SyncKnowledge(ctx, "hostile", "", func(context.Context, sdk.Changes) error { applied++; return nil })
		if !errors.Is(err, ErrTooLarge) || applied != 0 || res.Articles != 0 {
			t.Fatalf("sync of 200-article pages: %+v, %v, %d applied; want ErrTooLarge and nothing written", res, err, applied)
		}
		if got := testutil.ToFloat64(th.m.knowledge.WithLabelValues("hostile", "page_size")); got != 1 {
			t.Errorf("knowledge_refused_total{page_size} = %v, want 1", got)
		}
		if !logged(th.logs.String(), "knowledge page refused", `"plugin":"hostile"`) {
			t.Error("the refusal was not logged with the plugin's name")
		}
	})
}

func TestKnowledgeSyncLimits(t *testing.T) {
	tests := []struct {
		name       string
		lim        KnowledgeLimits
		bytes      int
		want       SyncResult
		wantMetric string
	}{
		{name: "endless pages stop at the page limit",
			lim:   KnowledgeLimits{PageSize: 10, MaxPages: 5, MaxArticles: 1000, MaxBytes: 100 << 20, MaxArticleBytes: 32 << 10},
			bytes: 16 << 10, want: SyncResult{Pages: 5, Articles: 50, Cursor: "5", Limit: "pages"}, wantMetric: "pages"},
		{name: "articles stop at the article limit",
			lim:   KnowledgeLimits{PageSize: 10, MaxPages: 100, MaxArticles: 35, MaxBytes: 100 << 20, MaxArticleBytes: 32 << 10},
			bytes: 100, want: SyncResult{Pages: 3, Articles: 30, Cursor: "3", Limit: "articles"}, wantMetric: "articles"},
		{name: "bytes stop at the byte limit",
			lim:   KnowledgeLimits{PageSize: 10, MaxPages: 100, MaxArticles: 1000, MaxBytes: 400 << 10, MaxArticleBytes: 32 << 10},
			bytes: 16 << 10, want: SyncResult{Pages: 2, Articles: 20, Cursor: "2", Limit: "bytes"}, wantMetric: "bytes"},
		{name: "oversized articles are skipped",
			lim:   KnowledgeLimits{PageSize: 10, MaxPages: 2, MaxArticles: 1000, MaxBytes: 100 << 20, MaxArticleBytes: 8 << 10},
			bytes: 16 << 10, want: SyncResult{Pages: 2, Skipped: 20, Cursor: "2", Limit: "pages"}, wantMetric: "article_bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(t)
			cfg.Knowledge = tt.lim
			if err := cfg.Validate(); err != nil {
				t.Fatal(err)
			}
			th := newTestHost(t, cfg)
			th.installHostile(t, "kb", []sdk.Kind{sdk.KindKnowledge}, PluginSettings{
				Config: map[string]string{"articles": "200", "article_bytes": strconv.Itoa(tt.bytes)}})
			var stored int
			res, err := th.SyncKnowledge(context.Background(), "kb", "", func(_ context.Context, ch sdk.Changes) error {
				stored += len(ch.Articles)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			res.Bytes = 0
			if diff := cmp.Diff(tt.want, res); diff != "" {
				t.Errorf("SyncResult (-want +got):\n%s", diff)
			}
			if stored != tt.want.Articles {
				t.Errorf("apply saw %d articles, want %d", stored, tt.want.Articles)
			}
			if got := testutil.ToFloat64(th.m.knowledge.WithLabelValues("kb", tt.wantMetric)); got < 1 {
				t.Errorf("knowledge_refused_total{%s} = %v", tt.wantMetric, got)
			}
		})
	}
	if err := (KnowledgeLimits{PageSize: 100, MaxPages: 1, MaxArticles: 100, MaxBytes: 1 << 20, MaxArticleBytes: 64 << 10}).Validate(); err == nil ||
		!strings.Contains(err.Error(), "max_bytes") {
		t.Errorf("limits that cannot hold one page: %v, want an error naming max_bytes", err)
	}
}

func TestHostilePluginLiesInItsManifest(t *testing.T) {
	th := newTestHost(t, testConfig(t))
	ctx := context.Background()

	// It claims a kind it does not serve: refused at start, before any call.
	th.installHostile(t, "liar", []sdk.Kind{sdk.KindInfo, sdk.KindModel}, PluginSettings{})
	if _, err := th.Cards(ctx, "liar", sdk.Engagement{EngagementID: "none"}); !errors.Is(err, ErrManifest) || !errors.Is(err, ErrRefused) {
		t.Errorf("a plugin claiming kind model: error = %v, want ErrManifest and ErrRefused", err)
	}

	// It claims another name than its binary's.
	th.install(t, "hostile", Manifest{Name: "trusted", Executable: "hostile", Kinds: []sdk.Kind{sdk.KindInfo}})
	th.set(t, "trusted", PluginSettings{Enabled: true})
	if _, err := th.Cards(ctx, "trusted", sdk.Engagement{EngagementID: "none"}); !errors.Is(err, ErrManifest) || !strings.Contains(err.Error(), `calls itself "hostile"`) {
		t.Errorf("a plugin under another name: error = %v, want ErrManifest", err)
	}
	if got := testutil.ToFloat64(th.m.rejected.WithLabelValues("liar", "manifest_lies")) + testutil.ToFloat64(th.m.rejected.WithLabelValues("trusted", "manifest_lies")); got != 2 {
		t.Errorf("calls_rejected_total{manifest_lies} = %v, want 2", got)
	}

	// It serves a kind its manifest does not list: never called for it.
	th.installHostile(t, "quiet", []sdk.Kind{sdk.KindInfo}, PluginSettings{Config: map[string]string{"articles": "1", "article_bytes": "10"}})
	if _, err := th.Changes(ctx, "quiet", "", 10); !errors.Is(err, ErrKindNotServed) {
		t.Errorf("Changes on a plugin whose manifest lists info only: error = %v, want ErrKindNotServed", err)
	}
	if _, err := th.Cards(ctx, "quiet", sdk.Engagement{EngagementID: "none"}); !errors.Is(err, sdk.ErrNotFound) {
		t.Errorf("the host is not healthy after the liars: %v", err)
	}
}

func TestInstallRefusesNonRegularFiles(t *testing.T) {
	cfg := testConfig(t)
	cfg.MaxBinaryBytes = 1 << 20
	th := newTestHost(t, cfg)
	mk := func(t *testing.T, exe func(path string)) string {
		src := t.TempDir()
		exe(filepath.Join(src, "p"))
		b, _ := json.Marshal(Manifest{Name: "p", Version: "1.0.0", Executable: "p", Kinds: []sdk.Kind{sdk.KindInfo}})
		if err := os.WriteFile(filepath.Join(src, ManifestFile), b, 0o644); err != nil {
			t.Fatal(err)
		}
		return src
	}
	tests := []struct {
		name string
		exe  func(path string)
		want error
		text string
	}{
		{"symlink to /dev/zero", func(p string) { os.Symlink("/dev/zero", p) }, ErrManifest, "not a regular file"},
		{"FIFO", func(p string) { syscall.Mkfifo(p, 0o755) }, ErrManifest, "not a regular file"},
		{"over the size limit", func(p string) {
			f, _ := os.Create(p)
			f.Truncate(2 << 20)
			f.Close()
		}, ErrTooLarge, "over the limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			done := make(chan error, 1)
			go func() { _, err := th.Install(mk(t, tt.exe)); done <- err }()
			select {
			case err := <-done:
				if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.text) {
					t.Errorf("Install: error = %v, want %v saying %q", err, tt.want, tt.text)
				}
			case <-time.After(20 * time.Second):
				t.Fatal("Install hangs")
			}
		})
	}
	// A manifest that is a device is refused too, and the lock is free.
	src := t.TempDir()
	os.Symlink("/dev/zero", filepath.Join(src, ManifestFile))
	if _, err := th.Install(src); !errors.Is(err, ErrManifest) {
		t.Errorf("Install with manifest.json -> /dev/zero: %v, want ErrManifest", err)
	}
	if _, err := th.Install(mk(t, func(p string) { os.WriteFile(p, []byte("#!/bin/false\n"), 0o755) })); err != nil {
		t.Errorf("Install after the refusals: %v", err)
	}
}

// logged reports whether one line of logs holds every part.
func logged(logs string, parts ...string) bool {
	for _, line := range strings.Split(logs, "\n") {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(line, p)
		}
		if all {
			return true
		}
	}
	return false
}
