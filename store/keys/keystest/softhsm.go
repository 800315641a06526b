// Package keystest holds test helpers for the key providers.
package keystest

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/earshot/earshot/internal/testdep"
	"github.com/earshot/earshot/store/keys"
)

// SoftHSMModule is where Debian's softhsm2 installs its PKCS#11 module.
const SoftHSMModule = "/usr/lib/softhsm/libsofthsm2.so"

// SoftHSM initialises a fresh SoftHSM2 token in a temporary directory
// (pointing SOFTHSM2_CONF at it for the rest of the test) and returns a
// PKCS#11 configuration for it. SoftHSM2 is a real PKCS#11 module (Debian
// softhsm2, in DEBS_TEST); under CI its absence is a failure, elsewhere a
// skip.
func SoftHSM(t *testing.T) keys.PKCS11Config {
	t.Helper()
	util := testdep.Program(t, "softhsm2-util", "softhsm2")
	testdep.File(t, SoftHSMModule, "softhsm2")
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens")
	if err := os.Mkdir(tokens, 0o700); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "softhsm2.conf")
	if err := os.WriteFile(conf, []byte("directories.tokendir = "+tokens+"\nobjectstore.backend = file\nlog.level = ERROR\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SOFTHSM2_CONF", conf)
	out, err := exec.Command(util, "--init-token", "--free", "--label", "earshot-test",
		"--pin", "123456", "--so-pin", "654321").CombinedOutput()
	if err != nil {
		t.Fatalf("softhsm2-util --init-token: %v\n%s", err, out)
	}
	return keys.PKCS11Config{Module: SoftHSMModule, TokenLabel: "earshot-test", PIN: "123456", KeyLabel: "earshot-kek"}
}
