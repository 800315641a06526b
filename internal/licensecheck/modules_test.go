//go:build licensecheck

package licensecheck

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestModuleLicences classifies the licence of every module whose
// packages Earshot builds or tests (go list -deps -test ./...) and fails,
// naming each, on any the allow-list does not allow. The repository's own
// modules (the main module, plugins/sdk) are skipped.
func TestModuleLicences(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(root, "packaging", "licenses-allowed.txt"))
	if err != nil {
		t.Fatal(err)
	}
	allow, err := ParseAllowList(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "list", "-deps", "-test", "-f", "{{with .Module}}{{.Path}}\t{{.Version}}\t{{.Dir}}{{end}}", "./...")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	seen := map[string]bool{}
	var results []Result
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		p := strings.Split(line, "\t")
		if len(p) != 3 || seen[p[0]] {
			continue
		}
		seen[p[0]] = true
		m := Module{Path: p[0], Version: p[1], Dir: p[2]}
		if m.Dir == "" {
			t.Errorf("%s %s: not in the module cache (go mod download)", m.Path, m.Version)
			continue
		}
		if rel, err := filepath.Rel(root, m.Dir); err == nil && !strings.HasPrefix(rel, "..") {
			continue // the repository's own
		}
		r, err := m.Classify()
		if err != nil {
			t.Error(err)
			continue
		}
		t.Logf("%-60s %-12s %s", m.Path, r.Licence, filepath.Base(r.File))
		results = append(results, r)
	}
	if len(results) < 10 {
		t.Fatalf("only %d modules listed; go list output:\n%s", len(results), out)
	}
	for _, p := range allow.Check(results) {
		t.Error(p)
	}
}
