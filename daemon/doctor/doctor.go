// Package doctor runs the self-checks an operator asks for after an
// install and whenever something is wrong (`earshot doctor`,
// GET /api/v1/doctor): each check looks at one thing (a file's mode, a
// port, a server, the disk, the clock) and answers ok, warn or fail with
// what to do about it. The checks here know nothing of Earshot's
// configuration: the daemon picks them and their arguments from it.
package doctor

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Status is a check's verdict.
type Status string

// The verdicts, from best to worst.
const (
	OK   Status = "ok"
	Warn Status = "warn"
	Fail Status = "fail"
)

func (s Status) rank() int { return slices.Index([]Status{OK, Warn, Fail}, s) }

// Result is what one check found. Fix says what to do; it is empty for ok.
type Result struct {
	Name    string `json:"name"`
	Status  Status `json:"status"`
	Message string `json:"message"`
	Fix     string `json:"fix,omitempty"`
}

// Check is one self-check. Run must return when ctx is done.
type Check struct {
	Name string
	Run  func(ctx context.Context) Result
}

// Okf, Warnf and Failf build results; the fix comes first so that the
// message can take format arguments.
func Okf(format string, a ...any) Result {
	return Result{Status: OK, Message: fmt.Sprintf(format, a...)}
}

// Warnf builds a warning with its fix.
func Warnf(fix, format string, a ...any) Result {
	return Result{Status: Warn, Message: fmt.Sprintf(format, a...), Fix: fix}
}

// Failf builds a failure with its fix.
func Failf(fix, format string, a ...any) Result {
	return Result{Status: Fail, Message: fmt.Sprintf(format, a...), Fix: fix}
}

// Run runs the checks at once (each bounded by timeout) and returns their
// results in the checks' order.
func Run(ctx context.Context, checks []Check, timeout time.Duration) []Result {
	out := make([]Result, len(checks))
	var wg sync.WaitGroup
	for i, c := range checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			done := make(chan Result, 1)
			go func() { done <- c.Run(cctx) }()
			var r Result
			select {
			case r = <-done:
			case <-cctx.Done():
				r = Failf("find out what blocks it; the other checks may say", "did not finish within %s", timeout)
			}
			r.Name = c.Name
			out[i] = r
		}()
	}
	wg.Wait()
	return out
}

// Worst is the worst status among results (OK for none).
func Worst(results []Result) Status {
	w := OK
	for _, r := range results {
		if r.Status.rank() > w.rank() {
			w = r.Status
		}
	}
	return w
}

// Private checks that path and everything under it is neither readable
// nor writable by group or others (mode 0700 for folders, 0600 for files),
// skipping the names in skip. It reports the first few offenders.
func Private(what, path string, skip ...string) Result {
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Warnf("start the service once: it creates "+path, "%s %s does not exist yet", what, path)
	}
	if err != nil {
		return Failf("check the path and the permissions of its parents", "%s %s: %v", what, path, err)
	}
	var bad []string
	walk := func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			bad = append(bad, fmt.Sprintf("%s (%v)", p, err))
			return nil
		}
		if slices.Contains(skip, d.Name()) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		if info.Mode().Type()&fs.ModeSymlink != 0 {
			bad = append(bad, p+" is a symbolic link")
		} else if m := info.Mode().Perm(); m&0o077 != 0 {
			bad = append(bad, fmt.Sprintf("%s has mode %04o", p, m))
		}
		return nil
	}
	if st.IsDir() {
		filepath.WalkDir(path, walk)
	} else {
		walk(path, fs.FileInfoToDirEntry(st), nil)
	}
	if len(bad) > 0 {
		n := len(bad)
		if n > 3 {
			bad = append(bad[:3], fmt.Sprintf("and %d more", n-3))
		}
		return Failf(fmt.Sprintf("chmod -R go-rwx %s (and chown it to the user the service runs as)", path),
			"%s is open to other users: %s", what, strings.Join(bad, "; "))
	}
	return Okf("%s %s is private to its owner", what, path)
}

// Writable checks that the process can create a file in dir.
func Writable(dir string) Result {
	f, err := os.CreateTemp(dir, ".doctor-*")
	if err != nil {
		return Failf("chown the folder to the user the service runs as", "cannot write in %s: %v", dir, err)
	}
	f.Close()
	os.Remove(f.Name())
	return Okf("%s is writable", dir)
}

// DiskSpace checks the free space of the file system holding dir (or its
// nearest existing parent) against the size of what lives there. minFree
// fails below it; a file system with less free than used warns, because
// an upgrade's backup or an online backup would not fit.
func DiskSpace(dir string, used int64, minFree int64, retention string) Result {
	p := dir
	for {
		if _, err := os.Stat(p); err == nil || filepath.Dir(p) == p {
			break
		}
		p = filepath.Dir(p)
	}
	var st unix.Statfs_t
	if err := unix.Statfs(p, &st); err != nil {
		return Failf("check the mount", "statfs %s: %v", p, err)
	}
	free := int64(st.Bavail) * st.Bsize
	total := int64(st.Blocks) * st.Bsize
	msg := fmt.Sprintf("%s: %s free of %s; data %s; %s", p, human(free), human(total), human(used), retention)
	switch {
	case free < minFree || free < total/100:
		return Failf("free space on "+p+" or grow the file system; shorten retention (store.retention) or purge what the site may delete",
			"disk nearly full: %s", msg)
	case free < used || free < total/10:
		return Warnf("free space on "+p+": an upgrade's pre-upgrade backup and `earshot backup` need as much free as the data takes",
			"disk space low: %s", msg)
	}
	return Okf("%s", msg)
}

func human(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// DirSize adds up the sizes of the regular files under path (0 if it is
// missing).
func DirSize(path string) int64 {
	var n int64
	filepath.WalkDir(path, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}

// Bindable checks that addr can be bound on network ("tcp" or "udp"),
// and releases it at once. what names the listener in the message.
func Bindable(what, network, addr string) Result {
	var err error
	switch network {
	case "udp":
		var c net.PacketConn
		if c, err = net.ListenPacket("udp", addr); err == nil {
			c.Close()
		}
	default:
		var l net.Listener
		if l, err = net.Listen("tcp", addr); err == nil {
			l.Close()
		}
	}
	if err == nil {
		return Okf("%s %s/%s is free to bind", what, addr, network)
	}
	_, port, _ := net.SplitHostPort(addr)
	if errors.Is(err, syscall.EADDRINUSE) {
		return Failf(fmt.Sprintf("another process holds it (ss -lnp 'sport = :%s' names it): stop it or change the address", port),
			"%s %s/%s is in use", what, addr, network)
	}
	if errors.Is(err, syscall.EACCES) {
		return Failf("a port below 1024 needs CAP_NET_BIND_SERVICE (the packaged unit grants it) or choose a higher port",
			"%s %s/%s: permission denied", what, addr, network)
	}
	return Failf("check the address: it must be one of this machine's", "%s %s/%s: %v", what, addr, network, err)
}

// PortRange checks how many UDP ports of [lo, hi] on host can be bound;
// fewer than need fails.
func PortRange(what, host string, lo, hi, need int) Result {
	free := 0
	for p := lo; p <= hi; p++ {
		c, err := net.ListenPacket("udp", net.JoinHostPort(host, fmt.Sprint(p)))
		if err == nil {
			c.Close()
			free++
		}
	}
	msg := fmt.Sprintf("%s: %d of the UDP ports %d-%d are free", what, free, lo, hi)
	if free < need {
		return Failf("widen the range or stop what holds the ports", "%s, %d needed", msg, need)
	}
	return Okf("%s", msg)
}

// HTTPGet checks that a server answers url with 2xx within ctx.
// consequence says what happens while it does not.
func HTTPGet(ctx context.Context, client *http.Client, what, url, consequence, fix string) Result {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return Failf("fix the URL in the configuration", "%s: %v", what, err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return Failf(fix, "%s at %s does not answer (%v): %s", what, url, err, consequence)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return Failf(fix, "%s at %s answers %s: %s", what, url, resp.Status, consequence)
	}
	return Okf("%s at %s answers", what, url)
}

// CertExpiry checks the first certificate in a PEM file: expired fails,
// fewer than warnDays days left warns.
func CertExpiry(what, path string, now time.Time, warnDays int) Result {
	b, err := os.ReadFile(path)
	if err != nil {
		return Failf("point "+what+" at a readable certificate", "%s %s: %v", what, path, err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return Failf("point "+what+" at a PEM certificate", "%s %s holds no PEM block", what, path)
	}
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		return Failf("point "+what+" at a valid certificate", "%s %s: %v", what, path, err)
	}
	left := cert.NotAfter.Sub(now)
	msg := fmt.Sprintf("%s %s (%s) expires %s", what, path, cert.Subject.CommonName, cert.NotAfter.UTC().Format(time.DateOnly))
	switch {
	case left <= 0:
		return Failf("renew the certificate and restart the service; clients refuse an expired one", "%s: expired", msg)
	case left < time.Duration(warnDays)*24*time.Hour:
		return Warnf("renew the certificate and restart the service before it expires", "%s: %d days left", msg, int(left.Hours()/24))
	case now.Before(cert.NotBefore):
		return Failf("check the clock, or reissue the certificate", "%s: not valid before %s", msg, cert.NotBefore.UTC())
	}
	return Okf("%s: %d days left", msg, int(left.Hours()/24))
}

// Files checks that each path exists; pkg names what installs them.
func Files(what, fix string, paths ...string) Result {
	var missing []string
	for _, p := range paths {
		if _, err := os.Stat(p); err != nil {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		return Failf(fix, "%s: missing %s", what, strings.Join(missing, ", "))
	}
	return Okf("%s present", what)
}

// Clock checks the clock: behind notBefore (a time the machine has
// certainly passed, such as when this build was committed, or the newest
// write in the data directory) fails; a kernel that says the clock is not
// synchronised warns.
func Clock(now, notBefore time.Time, notBeforeWhat string) Result {
	if !notBefore.IsZero() && now.Before(notBefore.Add(-5*time.Minute)) {
		return Failf("set the clock and keep it synchronised (systemd-timesyncd or chrony): audit times, retention and certificates depend on it",
			"the clock (%s) is behind %s (%s)", now.UTC().Format(time.RFC3339), notBeforeWhat, notBefore.UTC().Format(time.RFC3339))
	}
	var tx unix.Timex
	state, err := unix.Adjtimex(&tx)
	if err == nil && (state == unix.TIME_ERROR || tx.Status&unix.STA_UNSYNC != 0) {
		return Warnf("enable time synchronisation (systemd-timesyncd or chrony)",
			"the kernel reports the clock as not synchronised (now %s)", now.UTC().Format(time.RFC3339))
	}
	return Okf("clock %s, synchronised", now.UTC().Format(time.RFC3339))
}
