package translate

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// needApertium ends the test when an Apertium pair it uses is missing: it
// fails under CI (CI set), where `make test` installs DEBS_TEST, and skips
// elsewhere naming the Debian packages.
func needApertium(t testing.TB, modes ...string) {
	t.Helper()
	missing := ""
	if _, err := exec.LookPath("apertium-wblank-mode"); err != nil {
		missing = "apertium"
	}
	for _, m := range modes {
		if _, err := os.Stat(filepath.Join("/usr/share/apertium/modes", m+".mode")); err != nil {
			missing += " (mode " + m + ")"
		}
	}
	if missing == "" {
		return
	}
	msg := "Apertium not installed: " + missing + "; install apertium apertium-eng-spa apertium-eng-cat apertium-es-pt (make deps)"
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// newTestApertium starts an Apertium engine that closes with the test.
func newTestApertium(t testing.TB, cfg ApertiumConfig) *Apertium {
	t.Helper()
	needApertium(t, "spa-eng", "eng-spa")
	a, err := NewApertium(cfg, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

// apertiumCLI translates text with the apertium command line, as a person
// would: `apertium -u MODE`.
func apertiumCLI(t testing.TB, mode, text string) string {
	t.Helper()
	cmd := exec.Command("apertium", "-u", mode)
	cmd.Stdin = stringsReader(text)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("apertium -u %s: %v", mode, err)
	}
	return string(out)
}
