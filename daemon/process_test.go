package daemon

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// earshotBinary returns $EARSHOT_BIN or builds cmd/earshot once per test
// binary.
func earshotBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		// make test passes the binary it built.
		if b := os.Getenv("EARSHOT_BIN"); b != "" {
			binPath = b
			return
		}
		dir, err := os.MkdirTemp("", "earshot-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "earshot")
		out, err := exec.Command("go", "build", "-o", binPath, "github.com/earshot/earshot/cmd/earshot").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// serveProcess runs `earshot serve` with a config listening on a free
// loopback port and returns the process, its base URL and data directory.
func serveProcess(t *testing.T, extra string) (*exec.Cmd, string, string, *strings.Builder) {
	t.Helper()
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "earshot.yaml")
	cfg := fmt.Sprintf("data_dir: %s\nlisten: 127.0.0.1:0\n%s", filepath.Join(dir, "data"), extra)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd, u, logs := startProcess(t, cfgPath)
	return cmd, u, filepath.Join(dir, "data"), logs
}

// startProcess starts the daemon binary on an existing configuration and
// returns once it reports its API address.
func startProcess(t *testing.T, cfgPath string) (*exec.Cmd, string, *strings.Builder) {
	t.Helper()
	bin := earshotBinary(t)
	cmd := exec.Command(bin, "serve", "--config", cfgPath)
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	logs := &strings.Builder{}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		re := regexp.MustCompile(`api=(https?://[0-9.:\[\]]+)`)
		for sc.Scan() {
			logs.WriteString(sc.Text() + "\n")
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
	}()
	select {
	case u := <-addr:
		return cmd, u, logs
	case <-time.After(30 * time.Second):
		t.Fatalf("daemon did not report its address; logs:\n%s", logs)
	}
	return nil, "", nil
}

// TestGracefulShutdown sends SIGTERM while a request is in flight (its
// body half sent): the request completes, then the process exits 0.
func TestGracefulShutdown(t *testing.T) {
	cmd, base, dataDir, logs := serveProcess(t, "")
	token, err := os.ReadFile(filepath.Join(dataDir, AdminTokenFile))
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := `{"id":"inflight","name":"In flight"}`
	// Expect: 100-continue makes the server say when its handler starts
	// reading the body: from then on the request is in flight.
	fmt.Fprintf(conn, "POST /api/v1/queues HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: %d\r\n\r\n",
		strings.TrimSpace(string(token)), len(body))
	br := bufio.NewReader(conn)
	conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	cont, err := http.ReadResponse(br, nil)
	if err != nil || cont.StatusCode != http.StatusContinue {
		t.Fatalf("interim response: %v %v; want 100 Continue", cont, err)
	}
	io.WriteString(conn, body[:10])
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// New connections are refused while the in-flight request still runs:
	// the listener closes soon after the signal.
	waitUntil(t, "new connections to be refused", func() bool {
		c, err := net.DialTimeout("tcp", strings.TrimPrefix(base, "http://"), time.Second)
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	io.WriteString(conn, body[10:])
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("in-flight request: %v\nlogs:\n%s", err, logs)
	}
	if resp.StatusCode != 201 {
		t.Errorf("in-flight request = %d, want 201", resp.StatusCode)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\nlogs:\n%s", err, logs)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("daemon did not exit after SIGTERM")
	}
	if !strings.Contains(logs.String(), "earshot stopped") {
		t.Errorf("no clean stop in logs:\n%s", logs)
	}
}

// TestCLIAdminCommands drives the admin subcommands against a running
// daemon, as an operator would.
func TestCLIAdminCommands(t *testing.T) {
	_, base, dataDir, _ := serveProcess(t, "")
	bin := earshotBinary(t)
	cfgPath := filepath.Join(filepath.Dir(dataDir), "earshot.yaml")
	run := func(wantOK bool, args ...string) string {
		t.Helper()
		full := append(args, "--config", cfgPath, "--api", base)
		out, err := exec.Command(bin, full...).CombinedOutput()
		if (err == nil) != wantOK {
			t.Fatalf("earshot %s: err %v, want ok=%v\n%s", strings.Join(args, " "), err, wantOK, out)
		}
		return string(out)
	}
	run(true, "queue", "create", "billing", "--name", "Billing")
	if out := run(true, "queue", "list"); !strings.Contains(out, "billing") || !strings.Contains(out, "Billing") {
		t.Errorf("queue list = %q", out)
	}
	run(true, "user", "create", "ana", "--role", "agent", "--queues", "billing", "--licensed")
	out := run(false, "user", "create", "bob", "--role", "boss")
	if !strings.Contains(out, "field role") {
		t.Errorf("bad role error = %q, want it to name the field", out)
	}
	if out := run(true, "user", "list"); !strings.Contains(out, "ana") || !strings.Contains(out, "agent") {
		t.Errorf("user list = %q", out)
	}
	secret := strings.TrimSpace(strings.Split(run(true, "token", "create", "--user", "ana"), "\n")[1])
	if !strings.HasPrefix(secret, tokenPrefix) {
		t.Fatalf("token create printed %q", secret)
	}
	req, _ := http.NewRequest("GET", base+"/api/v1/whoami", nil)
	req.Header.Set("Authorization", "Bearer "+secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("whoami with the new token: %v %v", resp, err)
	}
	resp.Body.Close()
	list := run(true, "token", "list")
	if strings.Contains(list, secret) {
		t.Error("token list shows a secret")
	}
	var anaTok string
	for _, l := range strings.Split(list, "\n") {
		if f := strings.Fields(l); len(f) > 1 && f[1] == "ana" {
			anaTok = f[0]
		}
	}
	run(true, "token", "revoke", anaTok)
	resp, _ = http.DefaultClient.Do(req)
	if resp.StatusCode != 401 {
		t.Errorf("whoami with revoked token = %d, want 401", resp.StatusCode)
	}
	if out, err := exec.Command(bin, "config", "check", cfgPath).CombinedOutput(); err != nil || !strings.Contains(string(out), "ok") {
		t.Errorf("config check = %q, %v", out, err)
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("listen: 127.0.0.1:1\nlissen: x\n"), 0o600)
	if out, err := exec.Command(bin, "config", "check", bad).CombinedOutput(); err == nil || !strings.Contains(string(out), "lissen") {
		t.Errorf("config check of a bad file = %q, %v; want an error naming the key", out, err)
	}
	if out, err := exec.Command(bin, "frobnicate").CombinedOutput(); err == nil || !strings.Contains(string(out), "unknown command") {
		t.Errorf("unknown command = %q, %v", out, err)
	}
}

// TestTLSAutoAndPublicListen checks that tls: auto serves TLS 1.2+ with a
// generated certificate, and that a public address without TLS is refused.
func TestTLSAutoAndPublicListen(t *testing.T) {
	td := startDaemon(t, func(c *Config) { c.TLS.Mode = "auto" })
	pem, err := os.ReadFile(filepath.Join(td.cfg.DataDir, "tls", "cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	client := tlsClientFor(t, pem, 0x0303) // TLS 1.2
	resp, err := client.Get(td.URL + "/healthz")
	if err != nil {
		t.Fatalf("TLS 1.2 healthz: %v", err)
	}
	resp.Body.Close()
	old := tlsClientMax(t, pem, 0x0302) // TLS 1.1 only
	if _, err := old.Get(td.URL + "/healthz"); err == nil {
		t.Error("a TLS 1.1 client was served")
	}
	cfg := DefaultConfig(false)
	cfg.DataDir = t.TempDir()
	cfg.Listen = "0.0.0.0:7080"
	if _, err := New(cfg, nil); err == nil || !strings.Contains(err.Error(), "not a loopback") {
		t.Errorf("New(public listen, no TLS) = %v, want a refusal", err)
	}
}
