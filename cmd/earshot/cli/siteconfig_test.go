package cli

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/earshot/earshot/daemon"
	"github.com/earshot/earshot/store/bundle"
)

// TestConfigBundleCommands: keygen makes the site key, export signs
// daemon A's configuration with it, apply shows the plan on daemon B, and
// with --yes makes B's configuration equal A's (two real daemons, two
// real stores); a second apply has nothing to change, a changed bundle is
// refused naming the signature, and the keys are refused where they make
// no sense.
func TestConfigBundleCommands(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "site.key")
	out := mustRun(t, "config", "keygen", key)
	if !strings.Contains(out, "key id ") {
		t.Errorf("keygen printed %q", out)
	}
	if st, err := os.Stat(key); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("private key: %v, mode %v", err, st.Mode())
	}
	if _, _, err := runCommand(t, "config", "keygen", key); err == nil {
		t.Error("keygen overwrote an existing key")
	}
	trust := func(c *daemon.Config) { c.SiteConfig.TrustedKeys = []string{key + ".pub"} }
	cfgA := startDaemon(t, trust)
	a := "--config=" + cfgA
	if out := mustRun(t, "config", "check", cfgA); !strings.Contains(out, ": ok (listen ") {
		t.Errorf("config check printed %q", out)
	}
	b := "--config=" + startDaemon(t, trust)

	mustRun(t, "queue", "create", "billing", "--name", "Billing", a)
	mustRun(t, "queue", "create", "loans", "--name", "Loans", a)
	mustRun(t, "user", "create", "sam", "--role", "supervisor", "--queues", "billing,loans", a)
	mustRun(t, "queue", "create", "branch", b)

	file := filepath.Join(dir, "site.bundle.json")
	mustRun(t, "config", "export", "--key", key, "-o", file, a)

	plan := mustRun(t, "config", "apply", file, b)
	for _, line := range []string{"+ queue billing", "+ queue loans", "+ user sam", "= queue branch: not in the bundle; kept", "3 changes to make; run again with --yes"} {
		if !strings.Contains(plan, line) {
			t.Errorf("dry run printed no %q:\n%s", line, plan)
		}
	}
	if out := mustRun(t, "queue", "list", b); strings.Contains(out, "billing") {
		t.Errorf("the dry run created queues: %s", out)
	}
	if out := mustRun(t, "config", "apply", file, "--yes", b); !strings.Contains(out, "3 changes applied") {
		t.Errorf("apply --yes printed %q", out)
	}
	export := func(cfg string) bundle.Contents {
		t.Helper()
		stdout := mustRun(t, "config", "export", "--key", key, cfg)
		var s bundle.Signed
		if err := json.Unmarshal([]byte(stdout), &s); err != nil {
			t.Fatal(err)
		}
		pub, _ := os.ReadFile(key + ".pub")
		k, _ := bundle.ParsePublicKey(pub)
		c, err := bundle.Open(s, []ed25519.PublicKey{k}, 1<<32)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	ca, cb := export(a), export(b)
	cb.Queues = slices.DeleteFunc(cb.Queues, func(q bundle.Queue) bool { return q.ID == "branch" })
	if diff := cmp.Diff(ca, cb, cmpopts.IgnoreFields(bundle.Contents{}, "ExportedAt")); diff != "" {
		t.Errorf("B's configuration differs from A's (-A +B):\n%s", diff)
	}
	if out := mustRun(t, "config", "apply", file, "--yes", b); !strings.Contains(out, "nothing to change") {
		t.Errorf("second apply printed %q", out)
	}

	// A bundle changed after signing is refused, naming the signature.
	data, _ := os.ReadFile(file)
	changed := filepath.Join(dir, "changed.json")
	os.WriteFile(changed, []byte(strings.Replace(string(data), `"Loans"`, `"Mortgages"`, 1)), 0o600)
	_, _, err := runCommand(t, "config", "apply", changed, "--yes", b)
	if err == nil || !strings.Contains(err.Error(), "field signature") || !strings.Contains(err.Error(), "signature does not match the contents") {
		t.Errorf("changed bundle: %v", err)
	}
	if out := mustRun(t, "queue", "show", "loans", b); strings.Contains(out, "Mortgages") {
		t.Error("the changed bundle was applied")
	}

	// Usage mistakes name what is wrong.
	if _, _, err := runCommand(t, "config", "export", a); !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), "--key") {
		t.Errorf("export without --key: %v", err)
	}
	if _, _, err := runCommand(t, "config", "export", "--key", key+".pub", a); err == nil || !strings.Contains(err.Error(), "not a PEM private key") {
		t.Errorf("export with the public key: %v", err)
	}
	if _, _, err := runCommand(t, "config", "apply", key, b); err == nil || !strings.Contains(err.Error(), "not a bundle") {
		t.Errorf("apply of a key file: %v", err)
	}
}
