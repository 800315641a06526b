package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/earshot/earshot/daemon/api"
	"github.com/earshot/earshot/inference/ollama"
	"github.com/earshot/earshot/inference/ollama/ollamatest"
	"github.com/earshot/earshot/internal/testdep"
)

// doctorConfig writes a configuration file for a data directory under dir
// and returns its path; edit changes the configuration first.
func doctorConfig(t *testing.T, dataDir string, extra string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "earshot.yaml")
	yaml := fmt.Sprintf("data_dir: %s\nlisten: 127.0.0.1:%d\nanalytics:\n  default_intents: none\n%s", dataDir, testdep.FreePort(t), extra)
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// initDataDir runs the daemon's store once on dir, as a first start does.
func initDataDir(t *testing.T, dir string) {
	t.Helper()
	cfg := DefaultConfig(false)
	cfg.DataDir = dir
	cfg.Analytics.DefaultIntents = "none"
	d, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	d.Close()
}

func checkOf(t *testing.T, rep api.DoctorReport, name string) api.DoctorCheck {
	t.Helper()
	for _, c := range rep.Checks {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no check %q in %+v", name, rep.Checks)
	return api.DoctorCheck{}
}

// wantCheck fails unless check name has status and its message (and fix)
// contain the substrings.
func wantCheck(t *testing.T, rep api.DoctorReport, name, status string, substrings ...string) {
	t.Helper()
	c := checkOf(t, rep, name)
	text := c.Message + " | fix: " + c.Fix
	if c.Status != status {
		t.Errorf("%s: %s %q, want %s", name, c.Status, text, status)
	}
	for _, s := range substrings {
		if !strings.Contains(text, s) {
			t.Errorf("%s: %q does not say %q", name, text, s)
		}
	}
	if status != "ok" && c.Fix == "" {
		t.Errorf("%s: %s without a fix", name, status)
	}
}

// TestDoctorOfflineHealthy: on a data directory a start made, every check
// that the machine can pass passes, and the overall status is not fail.
func TestDoctorOfflineHealthy(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	initDataDir(t, dir)
	rep := RunDoctor(context.Background(), doctorConfig(t, dir, ""))
	if rep.Mode != "offline" {
		t.Errorf("mode %q", rep.Mode)
	}
	for _, name := range []string{"config", "data_dir", "listen", "intents", "disk"} {
		wantCheck(t, rep, name, "ok")
	}
	wantCheck(t, rep, "keys", "ok", "unwraps the site secrets", "KEK version 1")
	if rep.Status == "fail" {
		t.Errorf("a fresh installation fails: %+v", rep.Checks)
	}
}

// TestDoctorBreaks breaks one thing at a time and reads the fail line.
func TestDoctorBreaks(t *testing.T) {
	ctx := context.Background()
	t.Run("key permissions", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "data")
		initDataDir(t, dir)
		kek := filepath.Join(dir, "kek", "kek-1.key")
		if err := os.Chmod(kek, 0o644); err != nil {
			t.Fatal(err)
		}
		rep := RunDoctor(ctx, doctorConfig(t, dir, ""))
		wantCheck(t, rep, "keys", "fail", kek+" has mode 0644", "chmod")
		wantCheck(t, rep, "data_dir", "fail", "kek-1.key has mode 0644")
		if rep.Status != "fail" {
			t.Errorf("overall %s, want fail", rep.Status)
		}
	})
	t.Run("data directory open to others", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "data")
		initDataDir(t, dir)
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		wantCheck(t, RunDoctor(ctx, doctorConfig(t, dir, "")), "data_dir", "fail", dir+" has mode 0755", "chmod -R go-rwx")
	})
	t.Run("wrong KEK", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "data")
		initDataDir(t, dir)
		if err := os.WriteFile(filepath.Join(dir, "kek", "kek-1.key"), make([]byte, 32), 0o600); err != nil {
			t.Fatal(err)
		}
		wantCheck(t, RunDoctor(ctx, doctorConfig(t, dir, "")), "keys", "fail", "unwrap site secrets", "restore the KEK")
	})
	t.Run("port in use", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "data")
		initDataDir(t, dir)
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		path := doctorConfig(t, dir, "")
		b, _ := os.ReadFile(path)
		conf := strings.Replace(string(b), "listen: 127.0.0.1:", "listen: "+l.Addr().String()+"\n#", 1)
		os.WriteFile(path, []byte(conf), 0o600)
		wantCheck(t, RunDoctor(ctx, path), "listen", "fail", l.Addr().String()+"/tcp is in use", "ss -lnp")
	})
	t.Run("SIP port in use", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "data")
		initDataDir(t, dir)
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		sip := fmt.Sprintf("media:\n  sip:\n    enabled: true\n    udp: %s\n    media_ip: 127.0.0.1\n    default_queue: cards\n", c.LocalAddr())
		wantCheck(t, RunDoctor(ctx, doctorConfig(t, dir, sip)), "sip", "fail", c.LocalAddr().String()+"/udp is in use")
	})
	t.Run("invalid configuration", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "bad.yaml")
		os.WriteFile(path, []byte("listen: nowhere\n"), 0o600)
		rep := RunDoctor(ctx, path)
		wantCheck(t, rep, "config", "fail", "listen", "earshot config check")
		if len(rep.Checks) != 1 {
			t.Errorf("checks on an invalid configuration: %+v", rep.Checks)
		}
	})
	t.Run("speech model missing", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "data")
		initDataDir(t, dir)
		empty := t.TempDir()
		extra := fmt.Sprintf("media:\n  pocketsphinx:\n    model_dir: %s\n", empty)
		wantCheck(t, RunDoctor(ctx, doctorConfig(t, dir, extra)), "speech_model", "fail", filepath.Join(empty, "mdef"), "pocketsphinx-en-us")
	})
	t.Run("full disk", func(t *testing.T) {
		// A data directory on a small tmpfs, then filled up.
		mnt := t.TempDir()
		if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=160m,mode=0700", "tmpfs", mnt).CombinedOutput(); err != nil {
			testdep.Missing(t, "mounting a tmpfs (root, or CAP_SYS_ADMIN)", fmt.Sprintf("run the test as root: %v %s", err, out))
		}
		t.Cleanup(func() { exec.Command("umount", mnt).Run() })
		dir := filepath.Join(mnt, "data")
		initDataDir(t, dir)
		path := doctorConfig(t, dir, "")
		wantCheck(t, RunDoctor(ctx, path), "disk", "ok", "free of 160.0 MiB")
		fill, err := os.Create(filepath.Join(mnt, "fill"))
		if err != nil {
			t.Fatal(err)
		}
		defer fill.Close()
		// Leave a few hundred KiB: less than 1% of the file system.
		var st syscall.Statfs_t
		syscall.Statfs(mnt, &st)
		if err := syscall.Fallocate(int(fill.Fd()), 0, 0, int64(st.Bavail)*st.Bsize-300<<10); err != nil {
			t.Fatal(err)
		}
		wantCheck(t, RunDoctor(ctx, path), "disk", "fail", "disk nearly full", mnt, "free space")
	})
	t.Run("stopped Ollama", func(t *testing.T) {
		srv := ollamatest.Start(t, ollamatest.Options{})
		dir := filepath.Join(t.TempDir(), "data")
		initDataDir(t, dir)
		extra := fmt.Sprintf("ollama:\n  url: %s\n  models: {summary: %s}\n", srv.URL, ollamatest.Model)
		path := doctorConfig(t, dir, extra)
		wantCheck(t, RunDoctor(ctx, path), "ollama", "ok", "has the 1 configured models")
		srv.Stop()
		wantCheck(t, RunDoctor(ctx, path), "ollama", "fail", "does not answer", "systemctl start ollama", "built-in models answer instead")

		missing := fmt.Sprintf("ollama:\n  url: %s\n  models: {summary: %s}\n", srv.URL, "not-pulled:7b")
		srv2 := ollamatest.Start(t, ollamatest.Options{})
		missing = strings.Replace(missing, srv.URL, srv2.URL, 1)
		wantCheck(t, RunDoctor(ctx, doctorConfig(t, dir, missing)), "ollama", "fail", "lacks not-pulled:7b ("+string(ollama.FeatureSummary)+")", "ollama pull")
	})
}

// TestDoctorAPI asks a running daemon: its own listener counts as bound,
// the keys are probed through the open store, and only admins may ask.
func TestDoctorAPI(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	cfg := DefaultConfig(false)
	cfg.DataDir = dir
	cfg.Listen = "127.0.0.1:0"
	cfg.Analytics.DefaultIntents = "none"
	d, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := d.Listen()
	if err != nil {
		d.Close()
		t.Fatal(err)
	}
	d.cfg.Listen = ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Serve(ctx, ln) }()
	defer func() { cancel(); <-done }()
	tok, err := os.ReadFile(filepath.Join(dir, AdminTokenFile))
	if err != nil {
		t.Fatal(err)
	}
	get := func(token string) (*http.Response, api.DoctorReport) {
		req, _ := http.NewRequest("GET", "http://"+ln.Addr().String()+"/api/v1/doctor", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var rep api.DoctorReport
		json.NewDecoder(resp.Body).Decode(&rep)
		return resp, rep
	}
	resp, rep := get(strings.TrimSpace(string(tok)))
	if resp.StatusCode != 200 || rep.Mode != "daemon" {
		t.Fatalf("GET /api/v1/doctor = %d %+v", resp.StatusCode, rep)
	}
	wantCheck(t, rep, "listen", "ok", "this daemon")
	wantCheck(t, rep, "keys", "ok", "key provider file wraps and unwraps under KEK version 1")
	wantCheck(t, rep, "data_dir", "ok")
	if resp, _ := get("not-a-token"); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("without a valid token: %d", resp.StatusCode)
	}
	// Offline, the running daemon's key store is held: the check says so.
	path := doctorConfig(t, dir, "")
	wantCheck(t, RunDoctor(context.Background(), path), "keys", "warn", "the running daemon holds")
}
