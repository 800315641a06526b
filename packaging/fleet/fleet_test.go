//go:build fleettest

package fleet

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/earshot/earshot/daemon"
	"github.com/earshot/earshot/internal/testdep"
	"github.com/earshot/earshot/store/bundle"
)

// kamailioModules is where Debian's kamailio package keeps its modules.
const kamailioModules = "/usr/lib/x86_64-linux-gnu/kamailio/modules/"

// box is one Earshot daemon of the fleet, run in this process on its own
// loopback address (127.0.0.0/8 is all loopback on Linux).
type box struct {
	ip, api, admin string
	sip            int
	stop           func()
}

// freeUDP returns a UDP port free on ip a moment ago.
func freeUDP(t *testing.T, ip string) int {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(ip)})
	if err != nil {
		t.Fatalf("listen on %s: %v", ip, err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

func startBox(t *testing.T, ip string, rtpBase int, trusted string) *box {
	t.Helper()
	cfg := daemon.DefaultConfig(false)
	cfg.DataDir = t.TempDir()
	cfg.Listen = ip + ":0"
	cfg.Analytics.DefaultIntents = "none"
	cfg.SiteConfig.TrustedKeys = []string{trusted}
	cfg.Media.SIP = daemon.DefaultSIPConfig()
	s := &cfg.Media.SIP
	s.Enabled = true
	b := &box{ip: ip, sip: freeUDP(t, ip)}
	s.UDP, s.TCP = fmt.Sprintf("%s:%d", ip, b.sip), ""
	s.MediaIP = ip
	s.RTPPortMin, s.RTPPortMax = rtpBase, rtpBase+199
	s.AgentPatterns = []string{`^sip:2\d{3}@`}
	s.Headers = map[string]string{"X-Queue": "queue"}
	s.Queues = []string{"collections"}
	d, err := daemon.New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatalf("daemon on %s: %v", ip, err)
	}
	ln, err := d.Listen()
	if err != nil {
		d.Close()
		t.Fatalf("daemon on %s: listen: %v", ip, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Serve(ctx, ln) }()
	var once sync.Once
	b.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("daemon on %s: %v", ip, err)
			}
		})
	}
	t.Cleanup(b.stop)
	tok, err := os.ReadFile(filepath.Join(cfg.DataDir, daemon.AdminTokenFile))
	if err != nil {
		t.Fatal(err)
	}
	b.api, b.admin = "http://"+ln.Addr().String(), strings.TrimSpace(string(tok))
	return b
}

func (b *box) call(t *testing.T, method, path string, body any, out any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = bytes.NewReader(raw)
	}
	req, _ := http.NewRequest(method, b.api+path, rd)
	req.Header.Set("Authorization", "Bearer "+b.admin)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		t.Fatalf("%s %s on %s: %d %s", method, path, b.ip, resp.StatusCode, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatal(err)
		}
	}
}

// engagements counts the box's engagements of queue collections.
func (b *box) engagements(t *testing.T) int {
	t.Helper()
	var list []json.RawMessage
	b.call(t, "GET", "/api/v1/engagements?queue=collections", nil, &list)
	return len(list)
}

// syncBuffer collects a process's output for polling.
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

// startKamailio runs Kamailio on 127.0.0.1 with the fleet's dispatcher
// list and returns its address and log.
func startKamailio(t *testing.T, boxes ...*box) (string, *syncBuffer) {
	t.Helper()
	bin := testdep.Program(t, "kamailio", "kamailio")
	dir := t.TempDir()
	var list strings.Builder
	for _, b := range boxes {
		fmt.Fprintf(&list, "1 sip:%s:%d 0 0\n", b.ip, b.sip)
	}
	listFile := filepath.Join(dir, "dispatcher.list")
	if err := os.WriteFile(listFile, []byte(list.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", freeUDP(t, "127.0.0.1"))
	tmpl, err := os.ReadFile("testdata/kamailio.cfg")
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.NewReplacer("{{LISTEN}}", addr, "{{MPATH}}", kamailioModules, "{{LIST}}", listFile).Replace(string(tmpl))
	cfgFile := filepath.Join(dir, "kamailio.cfg")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	log := &syncBuffer{}
	cmd := exec.Command(bin, "-f", cfgFile, "-DD", "-E", "-Y", dir, "-P", filepath.Join(dir, "kamailio.pid"), "-m", "64", "-M", "8")
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
		if t.Failed() {
			t.Logf("kamailio log:\n%s", log.String())
		}
	})
	// Ready when it answers an OPTIONS of its own.
	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	local := c.LocalAddr().String()
	deadline := time.Now().Add(20 * time.Second)
	for i := 0; ; i++ {
		select {
		case <-exited:
			t.Fatalf("kamailio exited:\n%s", log.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("kamailio does not answer OPTIONS on %s:\n%s", addr, log.String())
		}
		msg := fmt.Sprintf("OPTIONS sip:%s SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bK-ready%d\r\nFrom: <sip:test@%s>;tag=r%d\r\nTo: <sip:%s>\r\nCall-ID: ready-%d@test\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
			addr, local, i, local, i, addr, i)
		c.Write([]byte(msg))
		c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		buf := make([]byte, 2048)
		if n, err := c.Read(buf); err == nil && strings.HasPrefix(string(buf[:n]), "SIP/2.0 200") {
			return addr, log
		}
	}
}

// runCalls sends n SIPREC calls through the proxy, one at a time, each
// streaming audio (2 s of mu-law silence).
func runCalls(t *testing.T, proxy string, n int) string {
	t.Helper()
	bin := testdep.Program(t, "sipp", "sip-tester")
	dir := t.TempDir()
	audio := filepath.Join(dir, "silence.ulaw")
	if err := os.WriteFile(audio, bytes.Repeat([]byte{0xff}, 16000), 0o600); err != nil {
		t.Fatal(err)
	}
	scen, err := os.ReadFile("testdata/siprec_fleet.xml")
	if err != nil {
		t.Fatal(err)
	}
	sf := filepath.Join(dir, "siprec_fleet.xml")
	os.WriteFile(sf, []byte(strings.NewReplacer("{{AUDIO}}", audio, "{{AUDIOMS}}", "2000").Replace(string(scen))), 0o600)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, proxy, "-sf", sf, "-m", strconv.Itoa(n), "-l", "1", "-r", "10",
		"-i", "127.0.0.1", "-p", strconv.Itoa(freeUDP(t, "127.0.0.1")), "-mi", "127.0.0.1", "-mp", strconv.Itoa(freeUDP(t, "127.0.0.1")&^1),
		"-timeout", "150s", "-timeout_error", "-nostdin", "-recv_timeout", "20000", "-trace_err", "-error_file", filepath.Join(dir, "errors.log"))
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		errs, _ := os.ReadFile(filepath.Join(dir, "errors.log"))
		t.Fatalf("sipp: %v\n%s\n%s", err, out, errs)
	}
	return string(out)
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(d); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", d, what)
		}
	}
}

// TestFleet: two Earshot boxes (127.0.0.2 and 127.0.0.3) behind Kamailio's
// dispatcher, with the same site configuration from one signed bundle.
// SIPREC calls from SIPp are spread over both; when one box is stopped the
// dispatcher's OPTIONS probing takes it out of the rotation and every new
// call goes to the survivor.
func TestFleet(t *testing.T) {
	testdep.Program(t, "sipp", "sip-tester")
	testdep.Program(t, "kamailio", "kamailio")
	priv, pub, err := bundle.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	pubFile := filepath.Join(t.TempDir(), "site.pub")
	os.WriteFile(pubFile, pub, 0o644)
	key, _ := bundle.ParsePrivateKey(priv)

	a := startBox(t, "127.0.0.2", 46000, pubFile)
	b := startBox(t, "127.0.0.3", 46400, pubFile)
	// One box is configured; the other gets the same settings from a
	// signed bundle.
	a.call(t, "POST", "/api/v1/queues", map[string]any{"id": "collections", "name": "Collections"}, nil)
	a.call(t, "POST", "/api/v1/users", map[string]any{"id": "2042", "role": "agent", "queues": []string{"collections"}}, nil)
	var contents bundle.Contents
	a.call(t, "GET", "/api/v1/config/bundle", nil, &contents)
	signed, err := bundle.Sign(contents, key)
	if err != nil {
		t.Fatal(err)
	}
	var plan struct{ Applied int }
	b.call(t, "POST", "/api/v1/config/bundle/apply?dry_run=false", signed, &plan)
	if plan.Applied != 2 {
		t.Fatalf("bundle applied %d changes on the second box, want 2 (queue, user)", plan.Applied)
	}

	proxy, klog := startKamailio(t, a, b)

	// Spread: six calls, round-robin over the two boxes.
	runCalls(t, proxy, 6)
	na, nb := a.engagements(t), b.engagements(t)
	t.Logf("six calls: %d on %s, %d on %s", na, a.ip, nb, b.ip)
	if na+nb != 6 || na == 0 || nb == 0 {
		t.Fatalf("six calls landed %d on %s and %d on %s; want all six, spread over both", na, a.ip, nb, b.ip)
	}

	// One box goes away: the dispatcher's probes notice, and new calls
	// all go to the survivor.
	b.stop()
	down := fmt.Sprintf("fleet: dst-down sip:%s:%d", b.ip, b.sip)
	waitFor(t, "kamailio did not mark the stopped box down ("+down+")", 20*time.Second, func() bool {
		return strings.Contains(klog.String(), down)
	})
	runCalls(t, proxy, 4)
	if got := a.engagements(t); got != na+4 {
		t.Errorf("after the second box stopped, %s has %d engagements, want %d (all four new calls)", a.ip, got, na+4)
	}
}
