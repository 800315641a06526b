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

// TestVersionOrdersUpgrades builds a small history in a scratch git
// repository (commits, release candidates, releases, a dirty tree), asks
// scripts/version.sh for each state's version, and checks with dpkg that
// every later state sorts after every earlier one, so that apt upgrades
// along the history and never sideways.
func TestVersionOrdersUpgrades(t *testing.T) {
	gitBin := testdep.Program(t, "git", "git")
	dpkg := testdep.Program(t, "dpkg", "dpkg")
	script, err := filepath.Abs("scripts/version.sh")
	if err != nil {
		t.Fatal(err)
	}
	repo := t.TempDir()
	date := 0
	git := func(args ...string) {
		t.Helper()
		cmd := exec.Command(gitBin, args...)
		cmd.Dir = repo
		// Commit times a minute apart, so that snapshots are ordered by time.
		stamp := "2026-12-06T10:" + twoDigits(date) + ":00Z"
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_DATE="+stamp, "GIT_COMMITTER_DATE="+stamp,
			"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.invalid", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.invalid")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	commit := func() {
		date++
		if err := os.WriteFile(filepath.Join(repo, "f"), []byte(twoDigits(date)), 0o644); err != nil {
			t.Fatal(err)
		}
		git("add", "f")
		git("commit", "-q", "-m", "change")
	}
	version := func() string {
		t.Helper()
		out, err := exec.Command(script, repo).CombinedOutput()
		if err != nil {
			t.Fatalf("version.sh: %v\n%s", err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git("init", "-q")
	snapshot := regexp.MustCompile(`^\d+\.\d+\.\d+~(rc\d+\.)?git\d{8}\.\d{6}\.[0-9a-f]{7}(\.dirty)?$`)
	type state struct{ name, version, want string }
	var states []state
	add := func(name, want string) {
		states = append(states, state{name, version(), want})
	}
	commit()
	add("first commit, no tag", `^0\.1\.0~git`)
	commit()
	add("second commit", `^0\.1\.0~git`)
	git("tag", "v0.1.0")
	add("tag v0.1.0", `^0\.1\.0$`)
	if err := os.WriteFile(filepath.Join(repo, "f"), []byte("edited"), 0o644); err != nil {
		t.Fatal(err)
	}
	add("dirty tree on the tag", `^0\.1\.1~git.*\.dirty$`)
	git("checkout", "-q", "--", "f")
	commit()
	add("commit after v0.1.0", `^0\.1\.1~git`)
	commit()
	git("tag", "v0.2.0-rc1")
	add("tag v0.2.0-rc1", `^0\.2\.0~rc1$`)
	commit()
	add("commit after the candidate", `^0\.2\.0~rc1\.git`)
	git("tag", "v0.2.0")
	add("tag v0.2.0", `^0\.2\.0$`)
	commit()
	add("commit after v0.2.0", `^0\.2\.1~git`)

	var lastClean *state
	for i := range states {
		s := &states[i]
		if !regexp.MustCompile(s.want).MatchString(s.version) {
			t.Errorf("%s: version %q, want it to match %s", s.name, s.version, s.want)
		}
		if strings.Contains(s.version, "git") && !snapshot.MatchString(s.version) {
			t.Errorf("%s: snapshot version %q is not of the form X.Y.Z~gitYYYYMMDD.HHMMSS.COMMIT", s.name, s.version)
		}
		// A dirty tree is never an upgrade path: order only the clean
		// states.
		if strings.HasSuffix(s.version, ".dirty") {
			continue
		}
		if lastClean != nil {
			if err := exec.Command(dpkg, "--compare-versions", s.version, "gt", lastClean.version).Run(); err != nil {
				t.Errorf("%s (%s) does not sort after %s (%s)", s.name, s.version, lastClean.name, lastClean.version)
			}
		}
		lastClean = s
	}
	if t.Failed() {
		for _, s := range states {
			t.Logf("%-28s %s", s.name, s.version)
		}
	}
}

func twoDigits(n int) string {
	return string([]byte{byte('0' + n/10%10), byte('0' + n%10)})
}
