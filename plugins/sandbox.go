package plugins

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// SandboxConfig confines every plugin process. A plugin runs through a
// small supervisor (this binary, re-executed) that makes itself the
// subreaper of the plugin's process tree and ends the whole tree when the
// plugin stops, crashes or the daemon goes away; the plugin itself is
// started by a second re-execution that applies the confinement and then
// executes the plugin's verified binary:
//
//   - Landlock: read and execute in its own folder and the system's
//     libraries and certificates, read and write in a private working
//     directory made for each start, and only the extra paths an
//     administrator granted; no access to the data directory, other
//     plugins' folders, the daemon's /proc entries or its configuration;
//     signals to processes outside the sandbox are refused (Landlock ABI 6);
//   - no_new_privs, no core dumps, and limits on address space, open files,
//     file size and (when plugins run as their own user) processes;
//   - an environment holding only what the plugin protocol needs;
//   - a dedicated user when the daemon runs as root.
type SandboxConfig struct {
	// AllowUnconfined lets plugins start without Landlock on a kernel that
	// lacks it (before Linux 5.13, or Landlock not enabled). Off by
	// default: plugins are then refused. The other limits still apply.
	AllowUnconfined bool `json:"allow_unconfined"`
	// User is the account plugins run as when the daemon runs as root
	// (prefer a dedicated account with no files of its own). Ignored
	// otherwise: plugins then run as the daemon's user, confined.
	User string `json:"user"`
	// RunDir holds the private working directories, one per plugin start,
	// removed when the plugin stops. Empty means the system's temporary
	// directory. Plugins must be able to reach it: when they run as User,
	// its parents must be searchable by that user.
	RunDir string `json:"run_dir"`
	// Protect lists paths no grant may reach (grants inside them or above
	// them are refused). The plugin directory is always protected; the
	// daemon adds its data directory.
	Protect []string `json:"protect"`
	// MaxMemoryBytes is the address-space limit of each plugin process.
	MaxMemoryBytes uint64 `json:"max_memory_bytes"`
	// MaxOpenFiles limits each plugin process's open files.
	MaxOpenFiles uint64 `json:"max_open_files"`
	// MaxFileBytes limits the size of a file a plugin writes.
	MaxFileBytes uint64 `json:"max_file_bytes"`
	// MaxProcesses limits the processes and threads of the plugins' user;
	// applied only when plugins run as User (the limit counts per user).
	MaxProcesses uint64 `json:"max_processes"`
}

// DefaultSandboxConfig returns the sandbox defaults.
func DefaultSandboxConfig() SandboxConfig {
	return SandboxConfig{
		User:           "nobody",
		MaxMemoryBytes: 4 << 30, // a Go plugin reserves ~1.5 GiB of address space at rest
		MaxOpenFiles:   1024,
		MaxFileBytes:   1 << 30,
		MaxProcesses:   512,
	}
}

// Validate reports the first invalid field.
func (c SandboxConfig) Validate() error {
	switch {
	case c.RunDir != "" && !filepath.IsAbs(c.RunDir):
		return fmt.Errorf("plugins: config sandbox.run_dir must be absolute, got %q", c.RunDir)
	case c.MaxMemoryBytes != 0 && c.MaxMemoryBytes < 256<<20:
		return fmt.Errorf("plugins: config sandbox.max_memory_bytes must be 0 (no limit) or at least 256 MiB, got %d", c.MaxMemoryBytes)
	case c.MaxOpenFiles != 0 && c.MaxOpenFiles < 64:
		return fmt.Errorf("plugins: config sandbox.max_open_files must be 0 (no limit) or at least 64, got %d", c.MaxOpenFiles)
	case c.MaxProcesses != 0 && c.MaxProcesses < 32:
		return fmt.Errorf("plugins: config sandbox.max_processes must be 0 (no limit) or at least 32, got %d", c.MaxProcesses)
	}
	for _, p := range c.Protect {
		if !filepath.IsAbs(p) {
			return fmt.Errorf("plugins: config sandbox.protect: %q is not an absolute path", p)
		}
	}
	return nil
}

// sandboxArg0 is argv[0] of the re-executed helper; init (sandbox_linux.go)
// takes the process over when it sees it.
const sandboxArg0 = "earshot-plugin-sandbox"

// sandboxSpec is what the host hands the helper (as JSON in argv): paths
// and limits, never secrets.
type sandboxSpec struct {
	Plugin   string   `json:"plugin"`
	Binary   string   `json:"binary"`
	SHA256   string   `json:"sha256"`
	WorkDir  string   `json:"work_dir"`
	UID      int      `json:"uid"` // -1: keep the helper's
	GID      int      `json:"gid"`
	Landlock bool     `json:"landlock"`
	Exec     []string `json:"exec"`  // read and execute
	Read     []string `json:"read"`  // read only
	Write    []string `json:"write"` // read and write
	MaxAS    uint64   `json:"max_as"`
	MaxFiles uint64   `json:"max_files"`
	MaxFSize uint64   `json:"max_fsize"`
	MaxProcs uint64   `json:"max_procs"`
}

// sandbox is the host's resolved sandbox: the helper, the user and the
// parent of the working directories.
type sandbox struct {
	cfg     SandboxConfig
	helper  string
	abi     int // Landlock ABI; 0 when the kernel lacks Landlock
	uid     int
	gid     int
	runRoot string
	protect []string
}

// landlockABI reports the kernel's Landlock ABI version (0: none). A
// variable so that tests can stand in for a kernel without Landlock.
var landlockABI = kernelLandlockABI

func newSandbox(cfg SandboxConfig, pluginDir string) (*sandbox, error) {
	s := &sandbox{cfg: cfg, helper: "/proc/self/exe", abi: landlockABI(), uid: -1, gid: -1}
	if os.Geteuid() == 0 {
		if cfg.User == "" {
			return nil, errors.New("plugins: config sandbox.user is required when the daemon runs as root")
		}
		u, err := user.Lookup(cfg.User)
		if err != nil {
			return nil, fmt.Errorf("plugins: config sandbox.user: %w", err)
		}
		s.uid, _ = strconv.Atoi(u.Uid)
		s.gid, _ = strconv.Atoi(u.Gid)
		if s.uid == 0 {
			return nil, fmt.Errorf("plugins: config sandbox.user %q is root", cfg.User)
		}
	}
	for _, p := range append([]string{pluginDir}, cfg.Protect...) {
		abs, err := filepath.Abs(p)
		if err != nil {
			return nil, fmt.Errorf("plugins: config sandbox.protect: %w", err)
		}
		if r, err := filepath.EvalSymlinks(abs); err == nil {
			abs = r
		}
		s.protect = append(s.protect, abs)
	}
	parent := cfg.RunDir
	if parent == "" {
		parent = os.TempDir()
	}
	if err := os.MkdirAll(parent, 0o711); err != nil { // #nosec G301 -- search-only parent of the per-plugin working directories
		return nil, fmt.Errorf("plugins: sandbox run_dir: %w", err)
	}
	root, err := os.MkdirTemp(parent, "earshot-plugins-")
	if err != nil {
		return nil, fmt.Errorf("plugins: sandbox run_dir: %w", err)
	}
	if s.uid >= 0 {
		// Plugins running as their own user must reach their working
		// directory; the parent only lets them pass through.
		if err := os.Chmod(root, 0o711); err != nil { // #nosec G302 -- search-only for the plugin's own user, no listing
			os.RemoveAll(root)
			return nil, fmt.Errorf("plugins: sandbox run_dir: %w", err)
		}
		if err := searchable(root, s.uid, s.gid); err != nil {
			os.RemoveAll(root)
			return nil, fmt.Errorf("plugins: sandbox run_dir: user %s cannot reach %s: %w; choose a run_dir whose parents it may search", cfg.User, root, err)
		}
	}
	s.runRoot = root
	return s, nil
}

// searchable checks that uid/gid may search every directory from / to dir.
func searchable(dir string, uid, gid int) error {
	for d := dir; ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return err
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return nil
		}
		mode := fi.Mode().Perm()
		ok = mode&0o001 != 0 || (int(st.Gid) == gid && mode&0o010 != 0) || (int(st.Uid) == uid && mode&0o100 != 0)
		if !ok {
			return fmt.Errorf("%s is mode %#o, owned by %d:%d", d, mode, st.Uid, st.Gid)
		}
		if d == filepath.Dir(d) {
			return nil
		}
	}
}

func (s *sandbox) close() {
	if s.runRoot != "" {
		os.RemoveAll(s.runRoot)
	}
}

// grants resolves and checks an administrator's extra paths: absolute,
// existing, and clear of every protected path.
func (s *sandbox) grants(field string, paths []string) ([]string, error) {
	out := make([]string, 0, len(paths))
	for _, p := range paths {
		if !filepath.IsAbs(p) {
			return nil, fmt.Errorf("%s: %q is not an absolute path", field, p)
		}
		r, err := filepath.EvalSymlinks(filepath.Clean(p))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", field, err)
		}
		for _, prot := range s.protect {
			if within(r, prot) || within(prot, r) {
				return nil, fmt.Errorf("%s: %s reaches the protected %s", field, p, prot)
			}
		}
		out = append(out, r)
	}
	return out, nil
}

// within reports whether path is dir or inside it.
func within(path, dir string) bool {
	if path == dir || dir == "/" {
		return true
	}
	return strings.HasPrefix(path, strings.TrimSuffix(dir, "/")+"/")
}

// workDir makes a fresh private working directory for one start of plugin
// name, owned by the plugins' user.
func (s *sandbox) workDir(name string) (string, error) {
	d, err := os.MkdirTemp(s.runRoot, name+"-")
	if err != nil {
		return "", fmt.Errorf("plugins: work dir: %w", err)
	}
	if s.uid >= 0 {
		if err := os.Chown(d, s.uid, s.gid); err != nil {
			os.RemoveAll(d)
			return "", fmt.Errorf("plugins: work dir: %w", err)
		}
	}
	return d, nil
}

// command builds the supervisor's command for one start of plugin m.
func (s *sandbox) command(m Manifest, pluginDir, workDir string, read, write []string) (*exec.Cmd, error) {
	spec := sandboxSpec{
		Plugin: m.Name, Binary: filepath.Join(pluginDir, m.Executable), SHA256: m.SHA256,
		WorkDir: workDir, UID: s.uid, GID: s.gid, Landlock: s.abi > 0,
		Exec: []string{pluginDir}, Read: read, Write: write,
		MaxAS: s.cfg.MaxMemoryBytes, MaxFiles: s.cfg.MaxOpenFiles, MaxFSize: s.cfg.MaxFileBytes,
	}
	if s.uid >= 0 {
		spec.MaxProcs = s.cfg.MaxProcesses
	}
	b, err := json.Marshal(spec)
	if err != nil {
		return nil, fmt.Errorf("plugins: sandbox spec: %w", err)
	}
	cmd := exec.Command(s.helper, "supervise", string(b)) // #nosec G204 -- the helper is this binary; the spec is JSON the host wrote
	cmd.Args[0] = sandboxArg0
	cmd.Dir = workDir
	// go-plugin adds its own variables (protocol, certificate); the
	// daemon's environment stays out (SkipHostEnv).
	cmd.Env = []string{
		"PATH=/usr/local/bin:/usr/bin:/bin",
		"HOME=" + workDir,
		"TMPDIR=" + workDir,
		"PLUGIN_UNIX_SOCKET_DIR=" + workDir,
	}
	cmd.SysProcAttr = sandboxProcAttr()
	return cmd, nil
}

// CheckGrants checks the path grants of ps as a start would: it returns
// the field at fault ("read_paths", "write_paths") and why.
func (h *Host) CheckGrants(ps PluginSettings) (field string, err error) {
	if _, err := h.sandbox.grants("read_paths", ps.ReadPaths); err != nil {
		return "read_paths", fmt.Errorf("%w: %w", ErrGrant, err)
	}
	if _, err := h.sandbox.grants("write_paths", ps.WritePaths); err != nil {
		return "write_paths", fmt.Errorf("%w: %w", ErrGrant, err)
	}
	return "", nil
}
