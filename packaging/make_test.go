package packaging

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestMakeEvalFailsWhenAnEvalFails runs the Makefile's eval target (with
// deps taken as done) on a package whose one eval fails, and on one whose
// eval passes: the first must fail, the second succeed, although the
// target filters go test's output through grep.
func TestMakeEvalFailsWhenAnEvalFails(t *testing.T) {
	mk, err := exec.LookPath("make")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("make not found; make test installs the make package")
		}
		t.Skip("make not installed (Debian package make)")
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	run := func(pkg string) (string, error) {
		cmd := exec.Command(mk, "-C", root, "-o", "deps", "eval", "EVAL_PKGS=./packaging/testdata/"+pkg)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := run("evalfail")
	if err == nil {
		t.Errorf("make eval with a failing eval exited 0:\n%s", out)
	}
	if !strings.Contains(out, "--- FAIL: TestEvalFails") {
		t.Errorf("make eval did not show the failing eval:\n%s", out)
	}
	if out, err := run("evalpass"); err != nil {
		t.Errorf("make eval with a passing eval: %v\n%s", err, out)
	}
}
