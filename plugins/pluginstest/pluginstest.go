// Package pluginstest helps tests hand files to real plugin processes.
package pluginstest

import (
	"os"
	"path/filepath"
	"testing"
)

// SharedDir returns a test folder a plugin can use once its settings grant
// it: when the tests run as root, plugins run as the sandbox's user
// (nobody), so the folder is open to all and its parent searchable. Files
// a test writes there for a plugin to read must be readable by all.
func SharedDir(t testing.TB) string {
	t.Helper()
	d := t.TempDir()
	if err := os.Chmod(filepath.Dir(d), 0o711); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(d, 0o777); err != nil {
		t.Fatal(err)
	}
	return d
}
