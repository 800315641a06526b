// Package testdep decides what a test does when something it needs from
// outside the module is missing: a program (Ollama, dpkg-deb, softhsm2,
// SIPp, ...), a file a Debian package installs, or a test server that a
// make target builds. One rule everywhere: under CI (the CI environment
// variable set to anything non-empty) a missing dependency fails the test,
// because `make test` installs everything; elsewhere the test is skipped,
// and the message says what to install.
package testdep

import (
	"net"
	"os"
	"os/exec"
	"testing"
)

// InCI reports whether the tests run under CI.
func InCI() bool { return os.Getenv("CI") != "" }

// Missing ends the test for a missing dependency: it fails under CI and
// skips elsewhere. what names the dependency, get says how to get it
// ("install the Debian package X", "run make X").
func Missing(t testing.TB, what, get string) {
	t.Helper()
	msg := what + " is missing; " + get
	if InCI() {
		t.Fatal(msg + "; CI is set, so this is a failure")
	}
	t.Skip(msg)
}

// Program returns the path of an executable on PATH, or ends the test as
// Missing does. pkg is the Debian package that provides it.
func Program(t testing.TB, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Missing(t, name, "install the Debian package "+pkg+" (make test does, from DEBS_TEST)")
	}
	return p
}

// File checks that a file or directory a Debian package installs exists,
// or ends the test as Missing does.
func File(t testing.TB, path, pkg string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		Missing(t, path, "install the Debian package "+pkg+" (make test does, from DEBS_TEST)")
	}
}

// FreePort returns a loopback TCP port that was free at the time of the
// call (for a server that takes a port number, not a listener).
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
