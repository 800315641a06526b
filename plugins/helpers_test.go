package plugins

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/earshot/earshot/plugins/pluginstest"
	"github.com/earshot/earshot/plugins/sdk"
)

// binDir holds the plugin binaries that TestMain builds once per test
// binary: the three examples, the faulty and hostile test plugins,
// faulty-b (faulty built differently: another checksum) and faulty-v2 (the
// same plugin claiming SDK API 2.0.0).
var binDir string

func TestMain(m *testing.M) {
	if cfg := os.Getenv(testHostEnv); cfg != "" {
		runTestHostProcess(cfg) // a daemon for TestHostilePluginChildrenEndWithTheDaemon
		return
	}
	dir, err := os.MkdirTemp("", "earshot-plugins-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	if err := buildPlugins(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// goTool is the go command: the one running the tests when it is not on
// PATH (go test puts its own GOROOT/bin first, so this is the fallback).
func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	if root := os.Getenv("GOROOT"); root != "" {
		return filepath.Join(root, "bin", "go")
	}
	return "go"
}

func buildPlugins(dir string) error {
	root, err := filepath.Abs("..") // the module root: this package is plugins/
	if err != nil {
		return err
	}
	run := func(args ...string) error {
		cmd := exec.Command(goTool(), args...)
		cmd.Dir = root
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, out)
		}
		return nil
	}
	if err := run("build", "-ldflags", "-s -w", "-o", dir+string(os.PathSeparator),
		"./plugins/examples/crm-csv", "./plugins/examples/kb-dir", "./plugins/examples/webhook", "./plugins/testdata/faulty",
		"./plugins/testdata/hostile"); err != nil {
		return err
	}
	// The same plugin as another binary (other checksum): a new version.
	if err := run("build", "-o", filepath.Join(dir, "faulty-b"), "./plugins/testdata/faulty"); err != nil {
		return err
	}
	return run("build", "-ldflags", "-s -w -X github.com/earshot/earshot/plugins/sdk.apiVersion=2.0.0",
		"-o", filepath.Join(dir, "faulty-v2"), "./plugins/testdata/faulty")
}

// handover is one audit record.
type handover struct {
	Plugin, Kind, Engagement string
	Fields                   []string
}

// recordingAuditor is a real Auditor that keeps its records in memory (the
// daemon connects the store's audit log instead).
type recordingAuditor struct {
	mu      sync.Mutex
	records []handover
	fail    error
}

func (a *recordingAuditor) RecordHandover(_ context.Context, plugin, kind, engagementID string, fields []string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.fail != nil {
		return a.fail
	}
	a.records = append(a.records, handover{plugin, kind, engagementID, append([]string(nil), fields...)})
	return nil
}

func (a *recordingAuditor) all() []handover {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]handover(nil), a.records...)
}

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type testHost struct {
	*Host
	settings *MemSettings
	audit    *recordingAuditor
	logs     *syncBuffer
	reg      *prometheus.Registry
}

func testConfig(t testing.TB) Config {
	cfg := DefaultConfig()
	cfg.Dir = filepath.Join(t.TempDir(), "plugins")
	cfg.InfoTimeout = 5 * time.Second // generous: a busy CI machine; tests that need less set it
	cfg.CallTimeout = 5 * time.Second
	cfg.RestartBackoffMin = 50 * time.Millisecond
	cfg.RestartBackoffMax = time.Second
	cfg.BreakerFailures = 3
	cfg.BreakerCooldown = 300 * time.Millisecond
	cfg.SuperviseInterval = 25 * time.Millisecond
	return cfg
}

// newTestHost starts a Host with cfg and runs its supervisor until the
// test ends.
func newTestHost(t testing.TB, cfg Config) *testHost {
	t.Helper()
	th := &testHost{settings: NewMemSettings(false), audit: &recordingAuditor{}, logs: &syncBuffer{}, reg: prometheus.NewRegistry()}
	logger := slog.New(slog.NewJSONHandler(th.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	h, err := New(cfg, logger, th.reg, th.settings, th.audit)
	if err != nil {
		t.Fatal(err)
	}
	th.Host = h
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v", err)
		}
	})
	return th
}

// install puts binary bin (a name in binDir) with manifest m into a vendor
// folder and installs it.
func (th *testHost) install(t testing.TB, bin string, m Manifest) Manifest {
	t.Helper()
	src := t.TempDir()
	if m.Executable == "" {
		m.Executable = bin
	}
	if m.Version == "" {
		m.Version = "1.0.0"
	}
	if err := copyFile(filepath.Join(binDir, bin), filepath.Join(src, m.Executable), 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, ManifestFile), b, 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := th.Install(src)
	if err != nil {
		t.Fatalf("Install(%s): %v", m.Name, err)
	}
	return got
}

// faultyPlugin installs the faulty plugin as name with the given kinds
// and scopes, enabled with the approved scopes, and returns the paths of
// its record file, mode file and pid file.
type faultyFiles struct{ dir, record, mode, pid string }

func (th *testHost) faulty(t testing.TB, name string, kinds []sdk.Kind, scopes, approved []sdk.Scope) faultyFiles {
	t.Helper()
	dir := sharedDir(t)
	f := faultyFiles{dir: dir, record: filepath.Join(dir, "record.jsonl"), mode: filepath.Join(dir, "mode"), pid: filepath.Join(dir, "pid")}
	th.install(t, "faulty", Manifest{Name: name, Executable: name, Kinds: kinds, Scopes: scopes})
	th.set(t, name, PluginSettings{Enabled: true, ApprovedScopes: approved, WritePaths: []string{dir},
		Config: map[string]string{"record": f.record, "mode_file": f.mode, "pidfile": f.pid}})
	return f
}

// set stores a plugin's settings; enabling it approves the installed
// binary, as the daemon's settings route does.
func (th *testHost) set(t testing.TB, name string, ps PluginSettings) {
	t.Helper()
	if ps.Enabled && ps.ApprovedSHA256 == "" {
		ps.ApprovedSHA256 = th.status(t, name).Manifest.SHA256
	}
	th.settings.Set(name, ps)
}

// sharedDir is a folder for files the tests hand to plugins.
func sharedDir(t testing.TB) string { return pluginstest.SharedDir(t) }

func (f faultyFiles) setMode(t testing.TB, mode string) {
	t.Helper()
	if err := os.WriteFile(f.mode, []byte(mode), 0o644); err != nil {
		t.Fatal(err)
	}
}

type recorded struct {
	Method string
	Got    json.RawMessage
}

func (f faultyFiles) calls(t testing.TB) []recorded {
	t.Helper()
	b, err := os.ReadFile(f.record)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []recorded
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if line == "" {
			continue
		}
		var r recorded
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("record line %q: %v", line, err)
		}
		out = append(out, r)
	}
	return out
}

// waitFor polls cond until it holds or 20 s pass (a generous bound for a
// busy machine; the condition normally holds in milliseconds).
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (th *testHost) status(t testing.TB, name string) Status {
	t.Helper()
	st, err := th.Plugin(name)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// processAlive reports whether pid is a live process (not gone, not a
// zombie).
func processAlive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] != 'Z'
}

// waitTicks waits until the supervisor has run n more rounds.
func (th *testHost) waitTicks(t testing.TB, n uint64) {
	t.Helper()
	target := th.ticks.Load() + n
	waitFor(t, fmt.Sprintf("%d supervision rounds", n), func() bool { return th.ticks.Load() >= target })
}
