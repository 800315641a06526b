package plugins

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The helper: when this binary is executed with argv[0] sandboxArg0 it is
// a plugin's supervisor ("supervise") or the step that confines itself and
// executes the plugin ("confine"), never the daemon. It takes over in init
// so that every binary linking this package (the daemon, its tests) can
// serve as the helper.
func init() {
	if len(os.Args) != 3 || os.Args[0] != sandboxArg0 {
		return
	}
	var spec sandboxSpec
	if err := json.Unmarshal([]byte(os.Args[2]), &spec); err != nil {
		helperFail("sandbox: bad spec: %v", err)
	}
	switch os.Args[1] {
	case "supervise":
		os.Exit(supervise(spec))
	case "confine":
		helperFail("sandbox: %v", confine(spec)) // returns only on failure
	}
	helperFail("sandbox: unknown step %q", os.Args[1])
}

// helperLog writes one hclog JSON line to stderr, which go-plugin parses
// and hands to the daemon's log tagged with the plugin.
func helperLog(level, msg string, kv ...any) {
	m := map[string]any{"@level": level, "@message": msg, "@module": "sandbox"}
	for i := 0; i+1 < len(kv); i += 2 {
		m[fmt.Sprint(kv[i])] = kv[i+1]
	}
	b, _ := json.Marshal(m)
	os.Stderr.Write(append(b, '\n'))
}

func helperFail(format string, args ...any) {
	helperLog("error", fmt.Sprintf(format, args...))
	os.Exit(125)
}

// sandboxProcAttr puts the supervisor in a process group of its own and
// asks the kernel to signal it when the daemon's thread that started it
// goes away (the supervisor also watches its parent).
func sandboxProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
}

// supervise runs the confine step as its only child, as the subreaper of
// everything the plugin starts, and ends the whole tree, setsid'd
// descendants included, when the plugin exits, when it is told to stop
// (SIGTERM) or when the daemon goes away. It exits with the plugin's
// status.
func supervise(spec sandboxSpec) int {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		helperFail("sandbox: subreaper: %v", err)
	}
	parent := os.Getppid()
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGCHLD)
	pid, err := syscall.ForkExec("/proc/self/exe", []string{sandboxArg0, "confine", os.Args[2]}, // #nosec G204 G702 -- re-executes this binary as the confinement helper; the spec argument is the daemon's own JSON
		&syscall.ProcAttr{Env: os.Environ(), Files: []uintptr{0, 1, 2}})
	if err != nil {
		helperFail("sandbox: start %s: %v", spec.Plugin, err)
	}
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	code := -1
	for code < 0 {
		select {
		case s := <-sigs:
			if s != syscall.SIGCHLD {
				code = 128 + int(s.(syscall.Signal))
			}
		case <-tick.C:
			if os.Getppid() != parent {
				code = 128 + int(syscall.SIGHUP) // the daemon is gone
			}
		}
		// Reap whatever exited; the plugin's own exit ends the sandbox.
		for {
			var ws syscall.WaitStatus
			wpid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
			if wpid <= 0 || err != nil {
				break
			}
			if wpid == pid && code < 0 {
				switch {
				case ws.Exited():
					code = ws.ExitStatus()
				case ws.Signaled():
					code = 128 + int(ws.Signal())
				default:
					code = 1
				}
			}
		}
	}
	if n := endTree(pid); n > 0 {
		helperLog("warn", leftoverMessage, "count", n)
	}
	// The private working directory goes with the plugin, also when the
	// daemon is gone and cannot remove it.
	os.RemoveAll(spec.WorkDir)
	return code
}

// leftoverMessage is the supervisor's log line when it ended processes the
// plugin left behind; the host counts them from it.
const leftoverMessage = "sandbox: ended processes the plugin left behind"

// endTree kills every child of this process (the subreaper): as each dies
// its own children are handed to us, until none is left. It returns how
// many processes other than the plugin (pid plugin) it ended, whether the
// plugin was still running then or had exited and been reaped already.
func endTree(plugin int) int {
	self := os.Getpid()
	killed := map[int]bool{}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		kids := childrenOf(self)
		for _, k := range kids {
			if !killed[k] {
				killed[k] = true
				syscall.Kill(k, syscall.SIGKILL)
			}
		}
		var ws syscall.WaitStatus
		wpid, err := syscall.Wait4(-1, &ws, 0, nil)
		if errors.Is(err, syscall.ECHILD) {
			break
		}
		if wpid > 0 {
			killed[wpid] = true
		}
	}
	delete(killed, plugin)
	return len(killed)
}

// childrenOf lists the processes whose parent is pid, from /proc.
func childrenOf(pid int) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces and parentheses.
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) > 1 {
			if pp, err := strconv.Atoi(f[1]); err == nil && pp == pid {
				out = append(out, p)
			}
		}
	}
	return out
}

// systemRead are the system paths a plugin may read and execute: libraries,
// certificates, time zones, name resolution. Missing ones are skipped.
var systemRead = []string{
	"/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin",
	"/etc/ssl", "/etc/ca-certificates", "/etc/pki", "/etc/localtime", "/etc/timezone",
	"/etc/resolv.conf", "/etc/hosts", "/etc/nsswitch.conf", "/etc/host.conf", "/etc/gai.conf",
	"/etc/services", "/etc/protocols", "/etc/ld.so.cache", "/etc/passwd", "/etc/group",
	"/dev/urandom", "/dev/random",
}

// Landlock access rights.
const (
	llExec     = unix.LANDLOCK_ACCESS_FS_EXECUTE
	llRead     = unix.LANDLOCK_ACCESS_FS_READ_FILE | unix.LANDLOCK_ACCESS_FS_READ_DIR
	llWrite    = unix.LANDLOCK_ACCESS_FS_WRITE_FILE | unix.LANDLOCK_ACCESS_FS_TRUNCATE
	llMake     = unix.LANDLOCK_ACCESS_FS_MAKE_REG | unix.LANDLOCK_ACCESS_FS_MAKE_DIR | unix.LANDLOCK_ACCESS_FS_MAKE_SOCK | unix.LANDLOCK_ACCESS_FS_MAKE_FIFO | unix.LANDLOCK_ACCESS_FS_MAKE_SYM | unix.LANDLOCK_ACCESS_FS_REMOVE_FILE | unix.LANDLOCK_ACCESS_FS_REMOVE_DIR | unix.LANDLOCK_ACCESS_FS_REFER
	llFileOnly = unix.LANDLOCK_ACCESS_FS_EXECUTE | unix.LANDLOCK_ACCESS_FS_WRITE_FILE | unix.LANDLOCK_ACCESS_FS_READ_FILE | unix.LANDLOCK_ACCESS_FS_TRUNCATE | unix.LANDLOCK_ACCESS_FS_IOCTL_DEV
)

// handledFS is every filesystem right the kernel's ABI knows: all of them
// are denied unless a rule grants them.
func handledFS(abi int) uint64 {
	h := uint64(1<<13 - 1) // ABI 1: EXECUTE .. MAKE_SYM
	if abi >= 2 {
		h |= unix.LANDLOCK_ACCESS_FS_REFER
	}
	if abi >= 3 {
		h |= unix.LANDLOCK_ACCESS_FS_TRUNCATE
	}
	if abi >= 5 {
		h |= unix.LANDLOCK_ACCESS_FS_IOCTL_DEV
	}
	return h
}

func kernelLandlockABI() int {
	v, _, errno := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, 0, 0, unix.LANDLOCK_CREATE_RULESET_VERSION)
	if errno != 0 {
		return 0
	}
	return int(v)
}

type llRule struct {
	path   string
	access uint64
}

// confine verifies the plugin's binary, applies the limits, the user and
// Landlock to this thread and executes the binary in its place. The
// restrictions are applied to this one thread, which then calls execve: the
// new program has no other thread, so all of it is confined. It returns only
// on failure.
func confine(spec sandboxSpec) error {
	runtime.LockOSThread()
	bin, err := os.Open(spec.Binary)
	if err != nil {
		return err
	}
	h := sha256.New()
	if _, err := io.Copy(h, bin); err != nil {
		return fmt.Errorf("hash %s: %w", spec.Binary, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != spec.SHA256 {
		return fmt.Errorf("%s hashes to %s, approved as %s", spec.Binary, got, spec.SHA256)
	}
	limits := []struct {
		res int
		v   uint64
	}{{unix.RLIMIT_CORE, 0}, {unix.RLIMIT_AS, spec.MaxAS}, {unix.RLIMIT_NOFILE, spec.MaxFiles},
		{unix.RLIMIT_FSIZE, spec.MaxFSize}, {unix.RLIMIT_NPROC, spec.MaxProcs}}
	for _, l := range limits {
		if l.v == 0 && l.res != unix.RLIMIT_CORE {
			continue
		}
		if err := unix.Setrlimit(l.res, &unix.Rlimit{Cur: l.v, Max: l.v}); err != nil {
			return fmt.Errorf("setrlimit %d: %w", l.res, err)
		}
	}
	if err := unix.Chdir(spec.WorkDir); err != nil {
		return err
	}
	ruleset := -1
	if spec.Landlock {
		var rules []llRule
		for _, p := range systemRead {
			rules = append(rules, llRule{p, llRead | llExec})
		}
		rules = append(rules, llRule{"/dev/null", llRead | llWrite})
		for _, p := range spec.Exec {
			rules = append(rules, llRule{p, llRead | llExec})
		}
		for _, p := range spec.Read {
			rules = append(rules, llRule{p, llRead})
		}
		for _, p := range spec.Write {
			rules = append(rules, llRule{p, llRead | llWrite | llMake})
		}
		rules = append(rules, llRule{spec.WorkDir, llRead | llWrite | llMake})
		if ruleset, err = landlockRuleset(rules); err != nil {
			return err
		}
	}
	// Credentials, no_new_privs and Landlock are per thread at this level:
	// raw system calls on this locked thread, which then executes the plugin.
	if spec.UID >= 0 {
		if _, _, e := unix.RawSyscall(unix.SYS_SETGROUPS, 0, 0, 0); e != 0 {
			return fmt.Errorf("setgroups: %w", e)
		}
		if _, _, e := unix.RawSyscall(unix.SYS_SETRESGID, uintptr(spec.GID), uintptr(spec.GID), uintptr(spec.GID)); e != 0 {
			return fmt.Errorf("setresgid: %w", e)
		}
		if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, uintptr(spec.UID), uintptr(spec.UID), uintptr(spec.UID)); e != 0 {
			return fmt.Errorf("setresuid: %w", e)
		}
	}
	// Ambient capabilities (the unit's CAP_NET_BIND_SERVICE) would survive
	// the execve: the plugin gets none.
	if _, _, e := unix.RawSyscall6(unix.SYS_PRCTL, unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0, 0); e != 0 && e != unix.EINVAL {
		return fmt.Errorf("clear ambient capabilities: %w", e)
	}
	if _, _, e := unix.RawSyscall6(unix.SYS_PRCTL, unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0, 0); e != 0 {
		return fmt.Errorf("no_new_privs: %w", e)
	}
	if ruleset >= 0 {
		if _, _, e := unix.RawSyscall(unix.SYS_LANDLOCK_RESTRICT_SELF, uintptr(ruleset), 0, 0); e != 0 {
			return fmt.Errorf("landlock_restrict_self: %w", e)
		}
		unix.Close(ruleset)
	}
	return execFD(int(bin.Fd()), spec.Binary, os.Environ())
}

// landlockRuleset builds a ruleset that handles every right the kernel
// knows and grants the rules' rights beneath their paths; with ABI 6 it
// also scopes signals and abstract UNIX sockets to the sandbox.
func landlockRuleset(rules []llRule) (int, error) {
	abi := kernelLandlockABI()
	if abi < 1 {
		return -1, errors.New("landlock is not available")
	}
	handled := handledFS(abi)
	attr := unix.LandlockRulesetAttr{Access_fs: handled}
	size := unsafe.Sizeof(attr.Access_fs)
	if abi >= 6 {
		attr.Scoped = unix.LANDLOCK_SCOPE_SIGNAL | unix.LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET
		size = unsafe.Sizeof(attr)
	} else if abi >= 4 {
		size = unsafe.Offsetof(attr.Scoped) // network rights left unhandled
	}
	fd, _, e := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, uintptr(unsafe.Pointer(&attr)), size, 0)
	if e != 0 {
		return -1, fmt.Errorf("landlock_create_ruleset: %w", e)
	}
	for _, r := range rules {
		pfd, err := unix.Open(r.path, unix.O_PATH|unix.O_CLOEXEC, 0)
		if errors.Is(err, unix.ENOENT) {
			continue
		}
		if err != nil {
			unix.Close(int(fd))
			return -1, fmt.Errorf("landlock: %s: %w", r.path, err)
		}
		var st unix.Stat_t
		access := r.access & handled
		if unix.Fstat(pfd, &st) == nil && st.Mode&unix.S_IFMT != unix.S_IFDIR {
			access &= llFileOnly
		}
		pb := unix.LandlockPathBeneathAttr{Allowed_access: access, Parent_fd: int32(pfd)}
		_, _, e := unix.Syscall6(unix.SYS_LANDLOCK_ADD_RULE, fd, unix.LANDLOCK_RULE_PATH_BENEATH, uintptr(unsafe.Pointer(&pb)), 0, 0, 0)
		unix.Close(pfd)
		if e != 0 {
			unix.Close(int(fd))
			return -1, fmt.Errorf("landlock: rule for %s: %w", r.path, e)
		}
	}
	return int(fd), nil
}

// execFD executes the already opened and verified binary (execveat with
// AT_EMPTY_PATH): what runs is what was hashed, whatever its path's
// permissions for the plugins' user.
func execFD(fd int, argv0 string, env []string) error {
	argv, err := cStrings([]string{argv0})
	if err != nil {
		return err
	}
	envp, err := cStrings(env)
	if err != nil {
		return err
	}
	empty := []byte{0}
	_, _, e := unix.RawSyscall6(unix.SYS_EXECVEAT, uintptr(fd), uintptr(unsafe.Pointer(&empty[0])),
		uintptr(unsafe.Pointer(&argv[0])), uintptr(unsafe.Pointer(&envp[0])), unix.AT_EMPTY_PATH, 0)
	runtime.KeepAlive(argv)
	runtime.KeepAlive(envp)
	return fmt.Errorf("execveat %s: %w", argv0, e)
}

func cStrings(ss []string) ([]*byte, error) {
	out := make([]*byte, 0, len(ss)+1)
	for _, s := range ss {
		p, err := unix.BytePtrFromString(s)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return append(out, nil), nil
}
