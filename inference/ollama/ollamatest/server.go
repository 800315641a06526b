// Package ollamatest runs a real Ollama server for tests: it finds the
// server binary that `make ollama-server` builds, writes a tiny random-weight
// model, registers it with `ollama create`, and runs `ollama serve` on a
// spare loopback port with its own model directory and home.
//
// It is test support only; no production package imports it.
package ollamatest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/earshot/earshot/internal/testdep"
)

// Version is the Ollama release the tests run against.
const Version = "v0.6.5"

// Model is the name under which Start registers the tiny model.
const Model = "earshot-tiny"

// BinaryEnv names the environment variable that points at the server binary.
const BinaryEnv = "EARSHOT_OLLAMA_BIN"

// BinaryPath returns the server binary: $EARSHOT_OLLAMA_BIN, or else the
// cache path the Makefile builds into. It returns "" when neither exists.
func BinaryPath() string {
	if p := os.Getenv(BinaryEnv); p != "" {
		if isExec(p) {
			return p
		}
		return ""
	}
	if home, err := os.UserHomeDir(); err == nil {
		p := filepath.Join(home, ".cache", "earshot", "ollama-"+Version, "bin", "ollama")
		if isExec(p) {
			return p
		}
	}
	return ""
}

func isExec(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// Binary returns the server binary, or ends the test: it fails under CI
// (CI set to anything), where `make test` must have built it, and skips
// elsewhere.
func Binary(t testing.TB) string {
	t.Helper()
	if p := BinaryPath(); p != "" {
		return p
	}
	testdep.Missing(t, fmt.Sprintf("the Ollama server binary (%s=%q)", BinaryEnv, os.Getenv(BinaryEnv)),
		fmt.Sprintf("run `make ollama-server` (builds Ollama %s once, a few minutes)", Version))
	return ""
}

// Server is one running `ollama serve`.
type Server struct {
	URL  string // http://127.0.0.1:PORT
	Bin  string
	Dir  string // home, model directory and logs
	cmd  *exec.Cmd
	log  *bytes.Buffer
	mu   sync.Mutex
	done chan struct{}
}

// Options configure a Server.
type Options struct {
	// ModelsDir is the OLLAMA_MODELS directory. When it already holds
	// Model, Start does not create it again; servers may share it.
	ModelsDir string
	// Seed draws the random weights. Default 2, whose noise at the default
	// temperature fills some arrays (tasks, follow-ups, keywords) rather than
	// leaving them all empty, so that tests exercise more of each reply.
	Seed uint64
}

// Start starts a server, creates the tiny model and stops the server when
// the test ends.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	bin := Binary(t)
	if o.ModelsDir == "" {
		o.ModelsDir = filepath.Join(t.TempDir(), "models")
	}
	s, err := StartBinary(bin, t.TempDir(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

// StartBinary is Start for callers without a testing.TB (TestMain): the
// caller must call Stop.
func StartBinary(bin, dir string, o Options) (*Server, error) {
	if o.Seed == 0 {
		o.Seed = 2
	}
	if o.ModelsDir == "" {
		o.ModelsDir = filepath.Join(dir, "models")
	}
	var s *Server
	var err error
	for range 3 { // a spare port can be taken between picking and binding
		if s, err = serve(bin, dir, o.ModelsDir); err == nil {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	if err := s.create(o); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

func spareLoopbackPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func serve(bin, dir, models string) (*Server, error) {
	port, err := spareLoopbackPort()
	if err != nil {
		return nil, fmt.Errorf("ollamatest: pick a port: %w", err)
	}
	home := filepath.Join(dir, "home")
	for _, d := range []string{home, models} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("ollamatest: %w", err)
		}
	}
	host := "127.0.0.1:" + strconv.Itoa(port)
	s := &Server{URL: "http://" + host, Bin: bin, Dir: dir, log: &bytes.Buffer{}, done: make(chan struct{})}
	s.cmd = exec.Command(bin, "serve")
	s.cmd.Env = s.env(home, models, host)
	s.cmd.Stdout, s.cmd.Stderr = s.logWriter(), s.logWriter()
	// Its own process group, so that Stop also ends the runner processes
	// the server starts.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("ollamatest: start %s serve: %w", bin, err)
	}
	go func() { _ = s.cmd.Wait(); close(s.done) }()
	if err := s.waitReady(30 * time.Second); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

// env is a clean environment: nothing of the developer's Ollama setup
// leaks in, and nothing is written outside dir.
func (s *Server) env(home, models, host string) []string {
	return []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home,
		"TMPDIR=" + home,
		"OLLAMA_HOST=" + host,
		"OLLAMA_MODELS=" + models,
		"OLLAMA_NUM_PARALLEL=1",
		"OLLAMA_MAX_LOADED_MODELS=1",
		"OLLAMA_KEEP_ALIVE=-1",
		"OLLAMA_NOPRUNE=1",
		"OLLAMA_NOHISTORY=1",
		"CUDA_VISIBLE_DEVICES=",
		"HIP_VISIBLE_DEVICES=",
	}
}

type lockedWriter struct{ s *Server }

func (w lockedWriter) Write(p []byte) (int, error) {
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	if w.s.log.Len() > 1<<20 {
		return len(p), nil // keep the first MiB
	}
	return w.s.log.Write(p)
}

func (s *Server) logWriter() lockedWriter { return lockedWriter{s} }

// Log returns what the server wrote so far (its first MiB).
func (s *Server) Log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.String()
}

func (s *Server) waitReady(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		select {
		case <-s.done:
			return fmt.Errorf("ollamatest: ollama serve exited early:\n%s", tail(s.Log()))
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		req, _ := http.NewRequestWithContext(ctx, http.MethodHead, s.URL+"/", nil)
		resp, err := http.DefaultClient.Do(req)
		cancel()
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("ollamatest: ollama serve not ready after %s:\n%s", limit, tail(s.Log()))
}

// create writes the model and registers it with `ollama create`, unless
// the model directory already has it.
func (s *Server) create(o Options) error {
	manifest := filepath.Join(o.ModelsDir, "manifests", "registry.ollama.ai", "library", Model, "latest")
	if _, err := os.Stat(manifest); err == nil {
		return nil
	}
	gguf := filepath.Join(s.Dir, "tiny.gguf")
	if err := WriteTinyModel(gguf, o.Seed); err != nil {
		return err
	}
	// The template marks turns with plain text; the parameters make runs
	// repeatable and keep the server to one thread.
	modelfile := fmt.Sprintf(`FROM %s
TEMPLATE """{{- range .Messages }}<|{{ .Role }}|>
{{ .Content }}
{{ end }}<|assistant|>
"""
PARAMETER num_thread 1
PARAMETER seed 42
PARAMETER num_ctx 4096
`, gguf)
	mf := filepath.Join(s.Dir, "Modelfile")
	if err := os.WriteFile(mf, []byte(modelfile), 0o600); err != nil {
		return fmt.Errorf("ollamatest: %w", err)
	}
	cmd := exec.Command(s.Bin, "create", Model, "-f", mf)
	cmd.Env = s.cmd.Env
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("ollamatest: ollama create: %w\n%s\nserver log:\n%s", err, tail(string(out)), tail(s.Log()))
	}
	return nil
}

func (s *Server) signal(sig syscall.Signal) error {
	if s.cmd.Process == nil {
		return errors.New("ollamatest: server not started")
	}
	return syscall.Kill(-s.cmd.Process.Pid, sig) // the server's own process group
}

// Pause stops the server's processes (SIGSTOP): connections are accepted
// by the kernel but never answered, like a hung server.
func (s *Server) Pause() error { return s.signal(syscall.SIGSTOP) }

// Resume continues a paused server.
func (s *Server) Resume() error { return s.signal(syscall.SIGCONT) }

// Stop ends the server and its runners and waits for it. It is idempotent.
func (s *Server) Stop() {
	select {
	case <-s.done:
		return
	default:
	}
	_ = s.signal(syscall.SIGCONT)
	_ = s.signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		_ = s.signal(syscall.SIGKILL)
		<-s.done
	}
}

func tail(s string) string {
	const n = 4000
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
