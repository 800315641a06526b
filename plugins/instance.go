package plugins

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"

	"github.com/earshot/earshot/plugins/sdk"
)

// Plugin process states.
const (
	stateStopped  = "stopped"
	stateStarting = "starting"
	stateRunning  = "running"
	stateBackoff  = "backoff"
	stateRefused  = "refused"
)

// instance is one installed plugin and, while it runs, its process.
type instance struct {
	h     *Host
	name  string
	slots chan struct{} // bounds calls in flight

	mu        sync.Mutex
	manifest  Manifest      // +checklocks:mu
	state     string        // +checklocks:mu
	proc      *proc         // +checklocks:mu
	remote    *sdk.Remote   // +checklocks:mu
	pid       int           // +checklocks:mu
	gen       uint64        // increments at every successful start; +checklocks:mu
	starting  chan struct{} // closed when the start under way ends; +checklocks:mu
	crashes   int           // consecutive crashes and failed starts; +checklocks:mu
	nextStart time.Time     // +checklocks:mu
	lastErr   error         // +checklocks:mu
	restarts  int           // +checklocks:mu
	failures  int           // consecutive breaker failures; +checklocks:mu
	openUntil time.Time     // +checklocks:mu
	probing   bool          // a half-open probe call is in flight; +checklocks:mu
}

func newInstance(h *Host, m Manifest) *instance {
	return &instance{h: h, name: m.Name, manifest: m, state: stateStopped, slots: make(chan struct{}, h.cfg.MaxInFlight)}
}

func (i *instance) getManifest() Manifest {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.manifest
}

func (i *instance) setManifest(m Manifest) {
	i.mu.Lock()
	changed := m.SHA256 != i.manifest.SHA256 || m.Executable != i.manifest.Executable ||
		!slices.Equal(m.Kinds, i.manifest.Kinds) || !slices.Equal(m.Scopes, i.manifest.Scopes) || m.RunsLocally != i.manifest.RunsLocally
	i.manifest = m
	i.mu.Unlock()
	if changed {
		i.stop("manifest changed")
	}
}

func (i *instance) status() Status {
	i.mu.Lock()
	defer i.mu.Unlock()
	st := Status{Manifest: i.manifest, State: i.state, Restarts: i.restarts,
		BreakerOpen: i.failures >= i.h.cfg.BreakerFailures && time.Now().Before(i.openUntil)}
	if i.state == stateRunning {
		st.PID = i.pid
	}
	if i.lastErr != nil {
		st.LastError = i.lastErr.Error()
	}
	return st
}

// admit reserves a call slot, refusing at once when the breaker is open or
// every slot is taken. release must be called with the call's outcome.
func (i *instance) admit() (probe bool, err error) {
	i.mu.Lock()
	if i.failures >= i.h.cfg.BreakerFailures {
		if time.Now().Before(i.openUntil) || i.probing {
			i.mu.Unlock()
			return false, ErrCircuitOpen
		}
		i.probing, probe = true, true
	}
	i.mu.Unlock()
	select {
	case i.slots <- struct{}{}:
		return probe, nil
	default:
		if probe {
			i.mu.Lock()
			i.probing = false
			i.mu.Unlock()
		}
		return false, ErrBusy
	}
}

func (i *instance) release(probe bool) {
	<-i.slots
	if probe {
		i.mu.Lock()
		i.probing = false
		i.mu.Unlock()
	}
}

// ready returns the running plugin's Remote, starting the process if it
// is stopped and not waiting out a backoff. It waits for a start under way
// at most until ctx is done.
func (i *instance) ready(ctx context.Context) (*sdk.Remote, uint64, error) {
	for {
		i.mu.Lock()
		switch {
		case i.state == stateRunning && i.proc.client.Exited():
			gen := i.gen
			i.mu.Unlock()
			i.crashed(gen, errors.New("plugin process exited"))
			continue
		case i.state == stateRunning:
			r, gen := i.remote, i.gen
			i.mu.Unlock()
			return r, gen, nil
		case i.state == stateRefused:
			err := i.lastErr
			i.mu.Unlock()
			return nil, 0, fmt.Errorf("%w: %w", ErrRefused, err)
		case i.state == stateBackoff && time.Now().Before(i.nextStart):
			wait, err := time.Until(i.nextStart), i.lastErr
			i.mu.Unlock()
			return nil, 0, fmt.Errorf("%w (in %s; last error: %v)", ErrRestarting, wait.Round(time.Millisecond), err)
		case i.h.shutdown.Load():
			i.mu.Unlock()
			return nil, 0, ErrClosed
		case i.starting == nil:
			i.kickLocked()
		}
		ch := i.starting
		i.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, 0, fmt.Errorf("plugins: waiting for the plugin to start: %w", ctx.Err())
		}
	}
}

// kickLocked starts the process in the background.
func (i *instance) kickLocked() {
	if i.starting != nil || i.h.shutdown.Load() {
		return
	}
	ch := make(chan struct{})
	i.starting = ch
	wasCrashed := i.state == stateBackoff
	i.state = stateStarting
	if wasCrashed {
		i.restarts++
		i.h.m.restarts.WithLabelValues(i.name).Inc()
	}
	m := i.manifest
	i.h.bg.Add(1)
	go func() {
		defer i.h.bg.Done()
		i.start(m, ch)
	}()
}

// permanentError marks a start failure that a restart cannot fix (a
// checksum mismatch, an incompatible API, a refused configuration): the
// plugin stays refused until an administrator acts (Restart, Install).
type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

func (i *instance) start(m Manifest, done chan struct{}) {
	ps, err := i.h.settings.PluginSettings(context.Background(), i.name)
	var (
		p      *proc
		remote *sdk.Remote
	)
	if err == nil {
		p, remote, err = i.h.launch(m, ps)
	} else {
		err = fmt.Errorf("plugins: settings: %w", err)
	}

	i.mu.Lock()
	defer func() {
		close(done)
		i.starting = nil
		i.mu.Unlock()
	}()
	if i.h.shutdown.Load() || i.state != stateStarting || i.manifest.SHA256 != m.SHA256 {
		// Stopped, closed or reinstalled while starting.
		if p != nil {
			i.h.bg.Add(1)
			go func() { defer i.h.bg.Done(); p.kill() }()
		}
		if i.state == stateStarting {
			i.state = stateStopped
		}
		return
	}
	if err != nil {
		err = fmt.Errorf("plugins/%s: %w", i.name, err)
		i.lastErr = err
		var perm permanentError
		if errors.As(err, &perm) {
			i.state = stateRefused
			i.h.log.Error("plugin refused", "plugin", i.name, "err", err)
			return
		}
		i.crashes++
		i.state, i.nextStart = stateBackoff, time.Now().Add(i.h.backoff(i.crashes))
		i.h.log.Warn("plugin failed to start", "plugin", i.name, "err", err, "retry_in", i.h.backoff(i.crashes))
		return
	}
	i.gen++
	i.proc, i.remote, i.state = p, remote, stateRunning
	i.pid = p.pid()
	i.h.log.Info("plugin started", "plugin", i.name, "version", m.Version, "pid", i.pid)
}

// proc is one running plugin: the go-plugin client and the sandbox's
// supervisor process under it.
type proc struct {
	client  *plugin.Client
	cmd     *exec.Cmd
	workDir string
}

// pid is the supervisor's process ID (the plugin is its child).
func (p *proc) pid() int {
	if p.cmd != nil && p.cmd.Process != nil {
		return p.cmd.Process.Pid
	}
	return 0
}

// kill ends the plugin and everything it started: SIGTERM makes the
// supervisor kill the whole tree and exit; go-plugin then closes its side
// (and kills the supervisor if it has not exited within two seconds).
// The private working directory goes with it.
func (p *proc) kill() {
	if p.cmd != nil && p.cmd.Process != nil {
		_ = p.cmd.Process.Signal(syscall.SIGTERM) // pidfd-backed: never a recycled PID
	}
	p.client.Kill()
	if p.workDir != "" {
		_ = os.RemoveAll(p.workDir)
	}
}

// launch starts the plugin's process in its sandbox, verifies its checksum,
// negotiates the protocol over AutoMTLS gRPC, checks its API version and
// kinds, and configures it.
func (h *Host) launch(m Manifest, ps PluginSettings) (*proc, *sdk.Remote, error) {
	sum, err := hex.DecodeString(m.SHA256)
	if err != nil || len(sum) != sha256.Size {
		return nil, nil, permanentError{fmt.Errorf("%w: no valid sha256 recorded in the manifest", ErrChecksum)}
	}
	dir := filepath.Join(h.cfg.Dir, m.Name)
	path := filepath.Join(dir, m.Executable)
	if got, err := fileSHA256(path, h.cfg.MaxBinaryBytes); err != nil {
		return nil, nil, fmt.Errorf("start %s: %w", path, err)
	} else if got != m.SHA256 {
		return nil, nil, permanentError{fmt.Errorf("%w: %s hashes to %s, installed as %s; reinstall the plugin", ErrChecksum, path, got, m.SHA256)}
	}
	if h.sandbox.abi == 0 {
		if !h.cfg.Sandbox.AllowUnconfined {
			h.m.unconfined.WithLabelValues(m.Name, "refused").Inc()
			return nil, nil, permanentError{fmt.Errorf("%w: this kernel has no Landlock; set plugins.sandbox.allow_unconfined to run plugins without it", ErrUnconfined)}
		}
		h.m.unconfined.WithLabelValues(m.Name, "started").Inc()
		h.log.Warn("plugin runs unconfined: this kernel has no Landlock; it can read whatever the plugins' user can", "plugin", m.Name)
	}
	read, err := h.sandbox.grants("read_paths", ps.ReadPaths)
	if err != nil {
		return nil, nil, permanentError{fmt.Errorf("%w: %w", ErrGrant, err)}
	}
	write, err := h.sandbox.grants("write_paths", ps.WritePaths)
	if err != nil {
		return nil, nil, permanentError{fmt.Errorf("%w: %w", ErrGrant, err)}
	}
	work, err := h.sandbox.workDir(m.Name)
	if err != nil {
		return nil, nil, err
	}
	cmd, err := h.sandbox.command(m, dir, work, read, write)
	if err != nil {
		os.RemoveAll(work)
		return nil, nil, err
	}
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  sdk.Handshake,
		VersionedPlugins: sdk.VersionedPlugins(),
		Cmd:              cmd,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         true,
		SkipHostEnv:      true, // the daemon's environment is not the plugin's business
		StartTimeout:     h.cfg.StartTimeout,
		Logger:           h.hclog.With("plugin", m.Name),
		// go-plugin lifts gRPC's receive limit; a plugin's answer is held
		// whole in memory, so bound it again.
		GRPCDialOptions: []grpc.DialOption{grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(h.cfg.MaxResponseBytes))},
	})
	p := &proc{client: client, cmd: cmd, workDir: work}
	fail := func(err error) (*proc, *sdk.Remote, error) {
		p.kill()
		return nil, nil, err
	}
	rpc, err := client.Client()
	if err != nil && strings.Contains(err.Error(), "incompatible") {
		// go-plugin's wire (or core) protocol negotiation found no common
		// version: restarting cannot help.
		return fail(permanentError{fmt.Errorf("%w: wire protocol: %v (this host serves go-plugin protocol %d)", ErrIncompatible, err, sdk.ProtocolVersion)})
	}
	if err != nil {
		return fail(fmt.Errorf("start %s: %w", path, err))
	}
	raw, err := rpc.Dispense(sdk.PluginName)
	if err != nil {
		return fail(fmt.Errorf("dispense: %w", err))
	}
	remote, ok := raw.(*sdk.Remote)
	if !ok {
		return fail(fmt.Errorf("dispense: unexpected %T", raw))
	}
	ctx, cancel := context.WithTimeout(context.Background(), h.cfg.StartTimeout)
	defer cancel()
	info, err := remote.Info(ctx)
	if err != nil {
		return fail(fmt.Errorf("info: %w", err))
	}
	if err := sdk.CheckAPIVersion(sdk.APIVersion(), info.APIVersion); err != nil {
		return fail(permanentError{fmt.Errorf("%w: %w", ErrIncompatible, err)})
	}
	if info.Name != m.Name {
		h.m.rejected.WithLabelValues(m.Name, "manifest_lies").Inc()
		return fail(permanentError{fmt.Errorf("%w: the binary calls itself %q", ErrManifest, info.Name)})
	}
	for _, k := range m.Kinds {
		if !slices.Contains(info.Kinds, k) {
			h.m.rejected.WithLabelValues(m.Name, "manifest_lies").Inc()
			return fail(permanentError{fmt.Errorf("%w: the manifest lists kind %q but the plugin serves %v", ErrManifest, k, info.Kinds)})
		}
	}
	config := ps.Config
	if config == nil {
		config = map[string]string{}
	}
	if err := remote.Configure(ctx, config); err != nil {
		return fail(permanentError{fmt.Errorf("configure (fix the plugin's configuration, then restart it): %w", err)})
	}
	return p, remote, nil
}

// crashed records that generation gen of the process died or hung, kills
// what is left of it and schedules a restart after the backoff.
func (i *instance) crashed(gen uint64, cause error) {
	i.mu.Lock()
	if gen != i.gen || i.state != stateRunning {
		i.mu.Unlock()
		return
	}
	p := i.proc
	i.proc, i.remote, i.pid = nil, nil, 0
	i.crashes++
	wait := i.h.backoff(i.crashes)
	i.state, i.nextStart, i.lastErr = stateBackoff, time.Now().Add(wait), cause
	i.mu.Unlock()
	i.h.log.Warn("plugin process lost", "plugin", i.name, "err", cause, "restart_in", wait)
	i.h.bg.Add(1)
	go func() { defer i.h.bg.Done(); p.kill() }()
}

// stop kills the process and resets the plugin to stopped, clearing a
// refusal, the backoff and the breaker.
func (i *instance) stop(why string) {
	i.mu.Lock()
	p := i.proc
	wasRunning := i.state == stateRunning
	i.proc, i.remote, i.pid = nil, nil, 0
	i.state, i.crashes, i.failures, i.lastErr = stateStopped, 0, 0, nil
	i.nextStart, i.openUntil = time.Time{}, time.Time{}
	i.mu.Unlock()
	if p != nil {
		if wasRunning {
			i.h.log.Info("plugin stopped", "plugin", i.name, "reason", why)
		}
		i.h.bg.Add(1)
		go func() { defer i.h.bg.Done(); p.kill() }()
	}
}

// supervise is called on every tick of Host.Run.
func (i *instance) supervise(enabled bool) {
	i.mu.Lock()
	switch {
	case !enabled:
		running := i.state == stateRunning || i.state == stateBackoff
		i.mu.Unlock()
		if running {
			i.stop("disabled")
		}
		return
	case i.state == stateRunning && i.proc.client.Exited():
		gen := i.gen
		i.mu.Unlock()
		i.crashed(gen, errors.New("plugin process exited"))
		return
	case i.state == stateStopped, i.state == stateBackoff && !time.Now().Before(i.nextStart):
		i.kickLocked()
	}
	i.mu.Unlock()
}

// outcome classifies a finished call for the breaker and crash detection.
// callerCanceled is true when the caller gave up (not a deadline): such a
// call says nothing about the plugin's health. A deadline, the host's or
// the caller's, that the plugin did not meet counts as a timeout.
func (i *instance) outcome(gen uint64, err error, callerCanceled bool) string {
	var re *sdk.RemoteError
	switch {
	case err == nil:
		i.mu.Lock()
		i.failures, i.crashes = 0, 0
		i.mu.Unlock()
		return "ok"
	case callerCanceled:
		return "canceled"
	case errors.As(err, &re) && re.Transport():
		i.crashed(gen, fmt.Errorf("call failed: %w", err))
		i.fail(gen, false)
		return "transport"
	case errors.Is(err, context.DeadlineExceeded):
		i.fail(gen, true)
		return "timeout"
	case errors.As(err, &re) && re.Code == codes.ResourceExhausted:
		// An answer over the transport's message limit: a flooding
		// plugin, counted towards its breaker.
		i.fail(gen, false)
		return "too_large"
	}
	// The plugin answered with its own error: it is alive.
	i.mu.Lock()
	i.failures = 0
	i.mu.Unlock()
	return "error"
}

// fail counts a breaker failure; when the breaker opens on timeouts the
// process, probably hung, is restarted.
func (i *instance) fail(gen uint64, hung bool) {
	i.mu.Lock()
	i.failures++
	open := i.failures >= i.h.cfg.BreakerFailures
	if open {
		i.openUntil = time.Now().Add(i.h.cfg.BreakerCooldown)
	}
	i.mu.Unlock()
	if open && hung {
		i.crashed(gen, errors.New("circuit breaker opened after repeated timeouts"))
	}
}
