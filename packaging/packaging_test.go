package packaging

import (
	"encoding/json"
	"fmt"
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
	// A signing key of the test's own, in a keyring of its own.
	gpg := testdep.Program(t, "gpg", "gpg")
	gnupg := filepath.Join(dir, "gnupg")
	if err := os.Mkdir(gnupg, 0o700); err != nil {
		t.Fatal(err)
	}
	gpgEnv := append(os.Environ(), "GNUPGHOME="+gnupg)
	keygen := exec.Command(gpg, "--batch", "--passphrase", "", "--quick-gen-key", "Earshot package test <packages@earshot.invalid>", "ed25519", "sign", "never")
	keygen.Env = gpgEnv
	if out, err := keygen.CombinedOutput(); err != nil {
		t.Fatalf("gpg --quick-gen-key: %v\n%s", err, out)
	}
	build := exec.Command("./deb/build.sh", bin, "1.2.3", filepath.Join(dir, "dist"))
	build.Env = append(gpgEnv, "EARSHOT_SIGNING_KEY=packages@earshot.invalid")
	out, err := build.CombinedOutput()
	if err != nil {
		t.Fatalf("build.sh: %v\n%s", err, out)
	}
	deb := strings.TrimSpace(string(out))
	checkSupplyChain(t, deb, gpg, gpgEnv)
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

// checkSupplyChain checks what build.sh writes next to the package: the
// SBOM names the modules built in and the Debian dependencies, the
// checksums verify, and the signature verifies for the package and not
// for a changed one.
func checkSupplyChain(t *testing.T, deb, gpg string, gpgEnv []string) {
	t.Helper()
	base := strings.TrimSuffix(deb, ".deb")
	raw, err := os.ReadFile(base + ".cdx.json")
	if err != nil {
		t.Fatal(err)
	}
	var bom struct {
		BOMFormat  string
		Metadata   struct{ Component struct{ Version string } }
		Components []struct{ Name, Version string }
	}
	if err := json.Unmarshal(raw, &bom); err != nil {
		t.Fatalf("SBOM: %v", err)
	}
	names := map[string]string{}
	for _, c := range bom.Components {
		names[c.Name] = c.Version
	}
	if bom.BOMFormat != "CycloneDX" || bom.Metadata.Component.Version != "1.2.3" {
		t.Errorf("SBOM header: %s %s", bom.BOMFormat, bom.Metadata.Component.Version)
	}
	// The module versions the build used, from go list.
	mods, err := exec.Command("go", "list", "-m", "-f", "{{.Path}} {{.Version}}", "go.etcd.io/bbolt", "github.com/prometheus/client_golang").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(strings.TrimSpace(string(mods)), "\n") {
		f := strings.Fields(l)
		if names[f[0]] != f[1] {
			t.Errorf("SBOM has %s at %q, the build uses %s", f[0], names[f[0]], f[1])
		}
	}
	for _, pkg := range []string{"libc6", "libpocketsphinx3", "pocketsphinx-en-us", "libflite1", "libespeak-ng1", "libopus0", "adduser"} {
		if _, ok := names[pkg]; !ok {
			t.Errorf("SBOM lacks the Debian dependency %s", pkg)
		}
	}
	sums := exec.Command("sha256sum", "-c", filepath.Base(base)+".sha256")
	sums.Dir = filepath.Dir(deb)
	if out, err := sums.CombinedOutput(); err != nil || strings.Count(string(out), ": OK") != 2 {
		t.Errorf("sha256sum -c: %v\n%s", err, out)
	}
	verify := func(file string) error {
		cmd := exec.Command(gpg, "--batch", "--verify", deb+".asc", file)
		cmd.Env = gpgEnv
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	}
	if err := verify(deb); err != nil {
		t.Errorf("gpg --verify of the package: %v", err)
	}
	changed := filepath.Join(t.TempDir(), "changed.deb")
	b, err := os.ReadFile(deb)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 1
	if err := os.WriteFile(changed, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := verify(changed); err == nil {
		t.Error("the signature verifies a changed package")
	}
}
