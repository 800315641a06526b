//go:build packagetest

package packaging

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/earshot/earshot/internal/testdep"
)

// TestInstallOnCleanDebian installs the package on a clean Debian 12 root
// made by debootstrap (Debian packages only), as `make package-test` runs
// it: dpkg -i and apt-get -f install pull in the dependencies; postinst
// creates the user and directories; the unit passes systemd-analyze
// verify; the daemon starts as the earshot user from the installed
// configuration and answers /readyz; purge removes the unit, binary and
// configuration and keeps the customer data in /var/lib/earshot.
//
// It needs root (chroot, mount) and the network to the Debian archive. The
// clean root is made once per machine into ~/.cache/earshot/package-test
// and copied for each run, so every run starts from the same untouched
// minbase system. systemd does not run in the chroot: the daemon is started
// the way the unit starts it (its user, its configuration, its
// STATE_DIRECTORY).
func TestInstallOnCleanDebian(t *testing.T) {
	if os.Geteuid() != 0 {
		testdep.Missing(t, "root", "run make package-test as root (chroot and mount need it)")
	}
	debootstrap := testdep.Program(t, "debootstrap", "debootstrap")
	analyze := testdep.Program(t, "systemd-analyze", "systemd")
	deb := buildPackage(t)
	root := cleanRoot(t, debootstrap)

	for _, c := range [][]string{
		{"mount", "-t", "proc", "proc", filepath.Join(root, "proc")},
		{"mount", "--bind", "/dev", filepath.Join(root, "dev")},
	} {
		run(t, c...)
		mnt := c[len(c)-1]
		t.Cleanup(func() { exec.Command("umount", "-l", mnt).Run() })
	}
	copyFile(t, "/etc/resolv.conf", filepath.Join(root, "etc/resolv.conf"), 0o644)
	copyFile(t, deb, filepath.Join(root, "tmp/earshot.deb"), 0o644)

	in := func(args ...string) string { return run(t, append([]string{"chroot", root}, args...)...) }
	inEnv := []string{"DEBIAN_FRONTEND=noninteractive", "PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	inRoot := func(args ...string) (string, error) {
		cmd := exec.Command("chroot", append([]string{root}, args...)...)
		cmd.Env = inEnv
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := inRoot("apt-get", "update"); err != nil {
		t.Fatalf("apt-get update: %v\n%s", err, out)
	}
	// dpkg -i fails on the missing dependencies and leaves the package
	// unconfigured; apt-get -f install fetches them and configures it.
	if out, err := inRoot("dpkg", "-i", "/tmp/earshot.deb"); err == nil {
		t.Logf("dpkg -i succeeded on a minbase system; its dependencies were already there?\n%s", out)
	}
	if out, err := inRoot("apt-get", "-f", "install", "-y", "--no-install-recommends"); err != nil {
		t.Fatalf("apt-get -f install: %v\n%s", err, out)
	}
	status := in("dpkg-query", "-W", "-f", "${db:Status-Abbrev} ${Version}\n", "earshot", "pocketsphinx-en-us", "libpocketsphinx3", "libflite1", "libespeak-ng1", "adduser")
	for _, l := range strings.Split(strings.TrimSpace(status), "\n") {
		if !strings.HasPrefix(l, "ii ") {
			t.Errorf("dpkg-query: %q, want installed (ii)", l)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "usr/share/pocketsphinx/model/en-us/en-us")); err != nil {
		t.Errorf("the PocketSphinx model did not come with the package's dependencies: %v", err)
	}

	// The user and directories postinst made.
	pw := strings.Split(strings.TrimSpace(in("getent", "passwd", "earshot")), ":")
	if len(pw) != 7 || pw[5] != "/var/lib/earshot" || pw[6] != "/usr/sbin/nologin" {
		t.Fatalf("earshot user = %v", pw)
	}
	uid, _ := strconv.Atoi(pw[2])
	gid, _ := strconv.Atoi(pw[3])
	for _, c := range []struct {
		path string
		mode os.FileMode
		gid  int
		uid  int
	}{
		{"var/lib/earshot", 0o700, gid, uid},
		{"etc/earshot", 0o750, gid, 0},
		{"etc/earshot/earshot.yaml", 0o640, gid, 0},
	} {
		fi, err := os.Stat(filepath.Join(root, c.path))
		if err != nil {
			t.Errorf("%s: %v", c.path, err)
			continue
		}
		st := fi.Sys().(*syscall.Stat_t)
		if fi.Mode().Perm() != c.mode || int(st.Gid) != c.gid || int(st.Uid) != c.uid {
			t.Errorf("/%s: mode %v owner %d:%d, want %v %d:%d", c.path, fi.Mode().Perm(), st.Uid, st.Gid, c.mode, c.uid, c.gid)
		}
	}

	// The installed unit, verified against the installed tree. minbase
	// has no systemd (a server installation has): install it for the
	// targets the unit orders itself against.
	if out, err := inRoot("apt-get", "install", "-y", "--no-install-recommends", "systemd"); err != nil {
		t.Fatalf("apt-get install systemd: %v\n%s", err, out)
	}
	unit := "/lib/systemd/system/earshot.service"
	out, err := exec.Command(analyze, "verify", "--root="+root, unit).CombinedOutput()
	var ours []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, "earshot.service") {
			ours = append(ours, l)
		}
	}
	if err != nil || len(ours) > 0 {
		t.Errorf("systemd-analyze verify --root: %v\n%s", err, out)
	}

	// Start as the unit does, on a free loopback port (the only edit to
	// the installed configuration; other tests may hold 7080).
	port := testdep.FreePort(t)
	confPath := filepath.Join(root, "etc/earshot/earshot.yaml")
	conf, err := os.ReadFile(confPath)
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(conf), "listen: 127.0.0.1:7080", fmt.Sprintf("listen: 127.0.0.1:%d", port), 1)
	if edited == string(conf) {
		t.Fatal("the installed configuration has no listen: 127.0.0.1:7080 line to move")
	}
	if err := os.WriteFile(confPath, []byte(edited), 0o640); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	daemon := exec.CommandContext(ctx, "chroot", "--userspec=earshot:earshot", root,
		"/usr/bin/earshot", "serve", "--config", "/etc/earshot/earshot.yaml")
	daemon.Env = append(inEnv, "STATE_DIRECTORY=/var/lib/earshot", "HOME=/var/lib/earshot")
	var logs strings.Builder
	daemon.Stdout, daemon.Stderr = &logs, &logs
	daemon.Cancel = func() error { return daemon.Process.Signal(syscall.SIGTERM) }
	daemon.WaitDelay = 30 * time.Second
	if err := daemon.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- daemon.Wait() }()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cancel()
			<-exited
		}
	}
	defer stop()
	url := fmt.Sprintf("http://127.0.0.1:%d/readyz", port)
	deadline := time.Now().Add(3 * time.Minute)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case err := <-exited:
			t.Fatalf("earshot serve exited: %v\n%s", err, logs.String())
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no 200 from %s within 3 minutes (last: %v)\n%s", url, err, logs.String())
		}
	}
	if got := procUID(t, daemon.Process.Pid); got != uid {
		t.Errorf("earshot serve runs as uid %d, want the earshot user's %d", got, uid)
	}
	stop()
	fi, err := os.Stat(filepath.Join(root, "var/lib/earshot/earshot.db"))
	if err != nil {
		t.Fatalf("no database in /var/lib/earshot after a start: %v\n%s", err, logs.String())
	}
	if st := fi.Sys().(*syscall.Stat_t); int(st.Uid) != uid || fi.Mode().Perm() != 0o600 {
		t.Errorf("earshot.db: owner %d mode %v, want %d 0600", st.Uid, fi.Mode().Perm(), uid)
	}

	// Purge: the package's files and configuration go; the customer data
	// stays (see postrm).
	if out, err := inRoot("dpkg", "--purge", "earshot"); err != nil {
		t.Fatalf("dpkg --purge: %v\n%s", err, out)
	}
	for _, gone := range []string{"lib/systemd/system/earshot.service", "usr/bin/earshot", "etc/earshot/earshot.yaml", "etc/default/earshot"} {
		if _, err := os.Stat(filepath.Join(root, gone)); !os.IsNotExist(err) {
			t.Errorf("/%s after purge: %v, want it gone", gone, err)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "var/lib/earshot/earshot.db")); err != nil {
		t.Errorf("purge removed the data: %v", err)
	}
}

// buildPackage builds the .deb from $EARSHOT_BIN (make passes the binary
// it built) or from a fresh build.
func buildPackage(t *testing.T) string {
	t.Helper()
	testdep.Program(t, "dpkg-deb", "dpkg")
	dir := t.TempDir()
	bin := os.Getenv("EARSHOT_BIN")
	if bin == "" {
		bin = filepath.Join(dir, "earshot")
		run(t, "go", "build", "-o", bin, "github.com/earshot/earshot/cmd/earshot")
	}
	return strings.TrimSpace(run(t, "./deb/build.sh", bin, "0.0.0~packagetest", filepath.Join(dir, "dist")))
}

// cleanRoot returns a copy of the cached minbase Debian 12 root, making
// the cache first when it is missing.
func cleanRoot(t *testing.T, debootstrap string) string {
	t.Helper()
	cache, err := os.UserCacheDir()
	if err != nil {
		t.Fatal(err)
	}
	base := filepath.Join(cache, "earshot", "package-test", "bookworm-minbase")
	if _, err := os.Stat(filepath.Join(base, "etc/debian_version")); err != nil {
		tmp := base + ".tmp"
		os.RemoveAll(tmp)
		if err := os.MkdirAll(filepath.Dir(base), 0o755); err != nil {
			t.Fatal(err)
		}
		t.Logf("debootstrap: making a clean Debian 12 root in %s (once per machine, a few minutes)", base)
		run(t, debootstrap, "--variant=minbase", "bookworm", tmp, "http://deb.debian.org/debian")
		if err := os.Rename(tmp, base); err != nil {
			t.Fatal(err)
		}
	}
	root := filepath.Join(t.TempDir(), "root")
	run(t, "cp", "-a", base, root)
	return root
}

func run(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func copyFile(t *testing.T, from, to string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(to) // resolv.conf may be a dangling symlink in the root
	if err := os.WriteFile(to, b, mode); err != nil {
		t.Fatal(err)
	}
}

// procUID reads the real uid of a process.
func procUID(t *testing.T, pid int) int {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "Uid:"); ok {
			uid, _ := strconv.Atoi(strings.Fields(rest)[0])
			return uid
		}
	}
	t.Fatal("no Uid line")
	return -1
}
