package testdep

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// TestRule runs a missing dependency through this test binary twice, with
// CI empty and set, and checks skip and failure.
func TestRule(t *testing.T) {
	if os.Getenv("TESTDEP_CHILD") != "" {
		Program(t, "earshot-no-such-program", "earshot-no-such-package")
		t.Fatal("Program returned for a missing program")
	}
	for _, tt := range []struct {
		ci       string
		wantFail bool
		wantOut  string
	}{
		{"", false, "SKIP"},
		{"true", true, "FAIL"},
		{"1", true, "FAIL"},
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestRule$", "-test.v")
		cmd.Env = append(os.Environ(), "TESTDEP_CHILD=1", "CI="+tt.ci)
		out, err := cmd.CombinedOutput()
		if (err != nil) != tt.wantFail || !strings.Contains(string(out), tt.wantOut) ||
			!strings.Contains(string(out), "install the Debian package earshot-no-such-package") {
			t.Errorf("CI=%q: err %v, output:\n%s\nwant fail %v and %s naming the package", tt.ci, err, out, tt.wantFail, tt.wantOut)
		}
	}
	if p := Program(t, "sh", "dash"); p == "" {
		t.Error("Program(sh) found nothing")
	}
}
