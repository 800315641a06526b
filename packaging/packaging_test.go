package packaging

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
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
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("systemd-analyze not found; make test installs the systemd package")
		}
		t.Skip("systemd-analyze not installed (Debian package systemd)")
	}
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
