package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/earshot/earshot/daemon"
)

// testEnv reads configuration files with the daemon's own reader, as main
// does.
var testEnv = Env{ConfigPath: daemon.DefaultConfigPath, Version: "test", Offline: daemon.Offline{}, ConfigCheck: daemon.ConfigCommand,
	LoadSite: func(path string) (Site, error) {
		s, err := daemon.LoadSite(path)
		return Site(s), err
	}}

// runCommand runs one command of Commands(testEnv) and returns what it
// wrote to standard output and standard error.
func runCommand(t *testing.T, name string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errw bytes.Buffer
	for _, c := range Commands(testEnv) {
		if c.Name == name {
			err = c.Run(IO{In: strings.NewReader(""), Out: &out, Err: &errw}, args)
			return out.String(), errw.String(), err
		}
	}
	t.Fatalf("no command %q", name)
	return "", "", nil
}

// startDaemon runs a real daemon on a loopback port and returns the path of
// a configuration file that points the admin commands at it (its listen
// address and data directory, hence its bootstrap admin token). mods
// change the daemon's configuration first.
func startDaemon(t *testing.T, mods ...func(*daemon.Config)) string {
	t.Helper()
	dir := t.TempDir()
	cfg := daemon.DefaultConfig(false)
	cfg.DataDir = filepath.Join(dir, "data")
	cfg.Listen = "127.0.0.1:0"
	cfg.Analytics.DefaultIntents = "none" // no intent training: seconds of CPU this test does not need
	for _, m := range mods {
		m(&cfg)
	}
	d, err := daemon.New(cfg, nil)
	if err != nil {
		t.Fatalf("daemon.New: %v", err)
	}
	ln, err := d.Listen()
	if err != nil {
		d.Close()
		t.Fatalf("Listen: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	path := filepath.Join(dir, "earshot.yaml")
	yaml := fmt.Sprintf("data_dir: %s\nlisten: %s\nanalytics:\n  default_intents: none\n", cfg.DataDir, ln.Addr())
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// mustRun is runCommand that fails the test on an error.
func mustRun(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, errOut, err := runCommand(t, name, args...)
	if err != nil {
		t.Fatalf("earshot %s %s: %v\n%s", name, strings.Join(args, " "), err, errOut)
	}
	return out
}
