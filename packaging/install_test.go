//go:build packagetest

package packaging

import (
	"bufio"
	"context"
	"fmt"
	"io"
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
// it: an older package first (the binary of upgradeFrom, the last commit
// that wrote content schema 6, in this build's packaging), which starts and
// takes a queue and a user through its API; then this build's package over
// it (dpkg -i, an upgrade). dpkg -i and apt-get -f install pull in the
// dependencies; postinst creates the user and directories; the unit passes
// systemd-analyze verify; the daemon starts as the earshot user from the
// installed configuration (the site's edit of it kept across the upgrade),
// migrates the older data after a pre-upgrade backup, answers /readyz and
// still has the queue and user; the backup restores (earshot restore, as
// the earshot user) to the older schema, which the next start migrates
// again with the data intact; purge removes the unit, binary and
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
	deb, oldDeb := buildPackage(t)
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
	copyFile(t, oldDeb, filepath.Join(root, "tmp/earshot-old.deb"), 0o644)

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
	if out, err := inRoot("dpkg", "-i", "/tmp/earshot-old.deb"); err == nil {
		t.Logf("dpkg -i succeeded on a minbase system; its dependencies were already there?\n%s", out)
	}
	if out, err := inRoot("apt-get", "-f", "install", "-y", "--no-install-recommends"); err != nil {
		t.Fatalf("apt-get -f install: %v\n%s", err, out)
	}

	// The older package runs, on a free loopback port (the only edit to
	// the installed configuration; other tests may hold 7080), and takes
	// a queue and a user.
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
	serve := func() (pid int, stop func()) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
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
		stop = func() {
			if !stopped {
				stopped = true
				cancel()
				<-exited
			}
		}
		t.Cleanup(stop)
		url := fmt.Sprintf("http://127.0.0.1:%d/readyz", port)
		deadline := time.Now().Add(3 * time.Minute)
		for {
			resp, err := http.Get(url)
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return daemon.Process.Pid, stop
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
	}
	api := func(method, path, body string, want int) string {
		t.Helper()
		tok, err := os.ReadFile(filepath.Join(root, "var/lib/earshot/admin.token"))
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest(method, fmt.Sprintf("http://127.0.0.1:%d%s", port, path), strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != want {
			t.Fatalf("%s %s: %d %s, want %d", method, path, resp.StatusCode, b, want)
		}
		return string(b)
	}
	_, stopOld := serve()
	api("POST", "/api/v1/queues", `{"id":"cards","name":"Card services"}`, 201)
	api("POST", "/api/v1/users", `{"id":"ana","role":"agent","queues":["cards"]}`, 201)
	stopOld()

	// This build's package over it: an upgrade.
	if out, err := inRoot("dpkg", "-i", "/tmp/earshot.deb"); err != nil {
		t.Fatalf("dpkg -i (upgrade): %v\n%s", err, out)
	}
	if v := in("dpkg-query", "-W", "-f", "${db:Status-Abbrev} ${Version}", "earshot"); v != "ii  0.0.0~packagetest" {
		t.Errorf("after the upgrade dpkg-query says %q", v)
	}
	if out := in("/usr/bin/earshot", "version", "--check-data", "/var/lib/earshot"); !strings.Contains(out, "content schema 6") || !strings.Contains(out, "older") {
		t.Fatalf("the older package's data: %q, want content schema 6, older", out)
	}
	if conf, _ := os.ReadFile(confPath); !strings.Contains(string(conf), fmt.Sprintf("listen: 127.0.0.1:%d", port)) {
		t.Errorf("the upgrade lost the site's edit of /etc/earshot/earshot.yaml:\n%s", conf)
	}
	status := in("dpkg-query", "-W", "-f", "${db:Status-Abbrev} ${Version}\n", "earshot", "pocketsphinx-en-us", "libpocketsphinx3", "libflite1", "libespeak-ng1", "libopus0", "adduser")
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

	// Start as the unit does: the older data is migrated after a
	// pre-upgrade backup, and kept.
	pid, stop := serve()
	if got := procUID(t, pid); got != uid {
		t.Errorf("earshot serve runs as uid %d, want the earshot user's %d", got, uid)
	}
	if q := api("GET", "/api/v1/queues/cards", "", 200); !strings.Contains(q, "Card services") {
		t.Errorf("queue after the upgrade: %s", q)
	}
	if u := api("GET", "/api/v1/users/ana", "", 200); !strings.Contains(u, `"cards"`) {
		t.Errorf("user after the upgrade: %s", u)
	}
	stop()
	if out := in("/usr/bin/earshot", "version", "--check-data", "/var/lib/earshot"); !strings.Contains(out, ": current") {
		t.Errorf("after the upgrade: %q, want current", out)
	}
	backups, _ := filepath.Glob(filepath.Join(root, "var/lib/earshot/backups/pre-upgrade-*schema6"))
	if len(backups) != 1 {
		t.Fatalf("pre-upgrade backups of schema 6: %v, want one", backups)
	}
	// The backup restores (as the earshot user, daemon stopped) to the
	// older schema, and the next start migrates it again, data intact.
	b := "/" + strings.TrimPrefix(backups[0], root+"/")
	if out, err := inRoot("chroot", "--userspec=earshot:earshot", "/", "/usr/bin/earshot", "restore", b+"/earshot.db",
		"--keys", b+"/keys.db", "--data-dir", "/var/lib/earshot", "--config", "/etc/earshot/earshot.yaml"); err != nil {
		t.Fatalf("earshot restore of the pre-upgrade backup: %v\n%s", err, out)
	}
	if out := in("/usr/bin/earshot", "version", "--check-data", "/var/lib/earshot"); !strings.Contains(out, "content schema 6") {
		t.Errorf("after restoring the pre-upgrade backup: %q, want content schema 6", out)
	}
	_, stop = serve()
	if q := api("GET", "/api/v1/queues/cards", "", 200); !strings.Contains(q, "Card services") {
		t.Errorf("queue after restoring the backup and migrating again: %s", q)
	}
	stop()
	fi, err := os.Stat(filepath.Join(root, "var/lib/earshot/earshot.db"))
	if err != nil {
		t.Fatalf("no database in /var/lib/earshot after a start: %v", err)
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

// upgradeFrom is the commit whose binary the older package holds: the
// last that wrote content schema 6 (store/testdata/schema/generate.sh).
const upgradeFrom = "1089df449015ce7614542b194336d84b89354b70"

// buildPackage builds the .deb from $EARSHOT_BIN (make passes the binary
// it built) or from a fresh build, and an older one: the same package
// with upgradeFrom's binary and an earlier version. That binary is built
// once per machine from a git worktree into the package-test cache.
func buildPackage(t *testing.T) (deb, older string) {
	t.Helper()
	testdep.Program(t, "dpkg-deb", "dpkg")
	dir := t.TempDir()
	bin := os.Getenv("EARSHOT_BIN")
	if bin == "" {
		bin = filepath.Join(dir, "earshot")
		run(t, "go", "build", "-o", bin, "github.com/earshot/earshot/cmd/earshot")
	}
	deb = strings.TrimSpace(run(t, "./deb/build.sh", bin, "0.0.0~packagetest", filepath.Join(dir, "dist")))

	cache, err := os.UserCacheDir()
	if err != nil {
		t.Fatal(err)
	}
	oldBin := filepath.Join(cache, "earshot", "package-test", "earshot-"+upgradeFrom)
	if _, err := os.Stat(oldBin); err != nil {
		src := filepath.Join(dir, "src-old")
		run(t, "git", "worktree", "add", "--detach", src, upgradeFrom)
		t.Cleanup(func() { exec.Command("git", "worktree", "remove", "--force", src).Run() })
		t.Logf("building the binary of %s (once per machine)", upgradeFrom)
		build := exec.Command("go", "build", "-o", oldBin+".tmp", "./cmd/earshot")
		build.Dir = src
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("go build at %s: %v\n%s", upgradeFrom, err, out)
		}
		if err := os.Rename(oldBin+".tmp", oldBin); err != nil {
			t.Fatal(err)
		}
	}
	// The older package: this package's tree with the older binary and an
	// earlier version (dpkg orders 0.0.0~packagetest~old before it).
	tree := filepath.Join(dir, "old-tree")
	run(t, "dpkg-deb", "-R", deb, tree)
	copyFile(t, oldBin, filepath.Join(tree, "usr/bin/earshot"), 0o755)
	ctl := filepath.Join(tree, "DEBIAN/control")
	c, err := os.ReadFile(ctl)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(ctl, []byte(strings.Replace(string(c), "Version: 0.0.0~packagetest\n", "Version: 0.0.0~packagetest~old\n", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	older = filepath.Join(dir, "earshot-old.deb")
	run(t, "dpkg-deb", "--root-owner-group", "--build", tree, older)
	return deb, older
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
