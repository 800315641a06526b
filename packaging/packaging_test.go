package packaging

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/earshot/earshot/internal/testdep"
)

// TestUnitHasOnlyThePathAction keeps the template renderable both by
// kardianos/service and by RenderUnit.
func TestUnitHasOnlyThePathAction(t *testing.T) {
	actions := regexp.MustCompile(`\{\{[^}]*\}\}`).FindAllString(SystemdUnit, -1)
	if len(actions) == 0 {
		t.Fatal("unit template has no {{Path | cmdEscape}} action")
	}
	for _, a := range actions {
		if a != PathAction {
			t.Errorf("unit template has action %q; only %q is supported", a, PathAction)
		}
	}
}

// TestUnitVerifies renders the unit and has systemd-analyze verify it.
func TestUnitVerifies(t *testing.T) {
	analyze := testdep.Program(t, "systemd-analyze", "systemd")
	dir := t.TempDir()
	// verify checks that ExecStart's binary exists and is executable.
	bin := filepath.Join(dir, "earshot")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	unit := filepath.Join(dir, "earshot.service")
	if err := os.WriteFile(unit, []byte(RenderUnit(bin)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", unit).CombinedOutput()
	// verify also reports unrelated units of the host; keep lines about ours.
	var ours []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, "earshot.service") {
			ours = append(ours, l)
		}
	}
	if err != nil || len(ours) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, strings.Join(ours, "\n"))
	}
	for _, want := range []string{"Type=notify", "Restart=on-failure", "User=earshot", "StateDirectory=earshot",
		"NoNewPrivileges=yes", "ProtectSystem=strict", "PrivateTmp=yes", "ExecStart=" + bin + " serve"} {
		if !strings.Contains(RenderUnit(bin), want) {
			t.Errorf("rendered unit lacks %q", want)
		}
	}
}

// TestDebianPackage builds the .deb from a freshly built binary and checks
// its control data, unit and conffiles.
func TestDebianPackage(t *testing.T) {
	testdep.Program(t, "dpkg-deb", "dpkg")
	dir := t.TempDir()
	// make test passes the binary it built; otherwise build one.
	bin := os.Getenv("EARSHOT_BIN")
	if bin == "" {
		bin = filepath.Join(dir, "earshot")
		if out, err := exec.Command("go", "build", "-o", bin, "github.com/earshot/earshot/cmd/earshot").CombinedOutput(); err != nil {
			t.Fatalf("go build: %v\n%s", err, out)
		}
	}
	out, err := exec.Command("./deb/build.sh", bin, "1.2.3", filepath.Join(dir, "dist")).CombinedOutput()
	if err != nil {
		t.Fatalf("build.sh: %v\n%s", err, out)
	}
	deb := strings.TrimSpace(string(out))
	info, err := exec.Command("dpkg-deb", "--info", deb).CombinedOutput()
	if err != nil {
		t.Fatalf("dpkg-deb --info: %v\n%s", err, info)
	}
	for _, want := range []string{"Package: earshot", "Version: 1.2.3", "Depends: libc6, libpocketsphinx3"} {
		if !strings.Contains(string(info), want) {
			t.Errorf("control lacks %q:\n%s", want, info)
		}
	}
	x := filepath.Join(dir, "x")
	if out, err := exec.Command("dpkg-deb", "-R", deb, x).CombinedOutput(); err != nil {
		t.Fatalf("dpkg-deb -R: %v\n%s", err, out)
	}
	unit, err := os.ReadFile(filepath.Join(x, "lib/systemd/system/earshot.service"))
	if err != nil {
		t.Fatal(err)
	}
	if string(unit) != RenderUnit("/usr/bin/earshot") {
		t.Error("packaged unit differs from the template rendered for /usr/bin/earshot")
	}
	conf, _ := os.ReadFile(filepath.Join(x, "etc/earshot/earshot.yaml"))
	if string(conf) != DefaultConfig {
		t.Error("packaged configuration differs from the embedded default")
	}
	for _, notice := range []string{"third-party/banking77/NOTICE", "third-party/banking77/LICENSE", "third-party/vader/NOTICE", "third-party/vader/LICENSE"} {
		if _, err := os.Stat(filepath.Join(x, "usr/share/doc/earshot", notice)); err != nil {
			t.Errorf("package lacks the attribution %s: %v", notice, err)
		}
	}
	for _, f := range []string{"earshot-dashboard.json", "earshot-alerts.yml", "earshot-alerts_test.yml"} {
		if _, err := os.Stat(filepath.Join(x, "usr/share/earshot/observability", f)); err != nil {
			t.Errorf("package lacks the observability kit's %s: %v", f, err)
		}
	}
	cf, _ := os.ReadFile(filepath.Join(x, "DEBIAN/conffiles"))
	if !strings.Contains(string(cf), "/etc/earshot/earshot.yaml") {
		t.Errorf("conffiles = %q", cf)
	}
}
