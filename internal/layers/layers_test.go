// Package layers holds the test that keeps Earshot's dependencies flowing
// one way: cmd -> daemon -> media, inference, plugins, store. Nothing
// imports a package above it, and media packages do not import inference
// (docs/architecture.md).
package layers

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/earshot/earshot"

// rule forbids packages under from (module-relative prefix) to import
// packages under to.
type rule struct{ from, to, why string }

var rules = []rule{
	{"media", "inference", "media packages take the ingest seam's types, not inference's"},
	{"media", "daemon", "media sits below the daemon"},
	{"inference", "daemon", "domain packages never import the daemon"},
	{"inference", "media", "inference works on text and times, not audio"},
	{"store", "daemon", "the store sits below the daemon"},
	{"store", "inference", "the store holds records, not models"},
	{"store", "media", "the store holds records, not media"},
	{"plugins", "daemon", "the plugin host sits below the daemon"},
	{"daemon", "cmd", "the daemon never imports a command"},
	{"media", "cmd", "nothing imports a command"},
	{"inference", "cmd", "nothing imports a command"},
	{"store", "cmd", "nothing imports a command"},
	{"plugins", "cmd", "nothing imports a command"},
}

func under(pkg, prefix string) bool {
	rel, ok := strings.CutPrefix(pkg, module+"/")
	return ok && (rel == prefix || strings.HasPrefix(rel, prefix+"/"))
}

func TestOneWayDependencies(t *testing.T) {
	// Test files are included: a test reaching up the layers is a design
	// smell too, except for external test packages, which sit outside.
	out, err := exec.Command("go", "list", "-e", "-f",
		`{{.ImportPath}} {{join .Imports " "}} {{join .TestImports " "}}`, module+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) < 20 {
		t.Fatalf("go list listed %d packages; want the whole module", len(lines))
	}
	checked := 0
	for _, line := range lines {
		f := strings.Fields(line)
		pkg, imports := f[0], f[1:]
		for _, imp := range imports {
			if !strings.HasPrefix(imp, module+"/") {
				continue
			}
			checked++
			for _, r := range rules {
				if under(pkg, r.from) && under(imp, r.to) {
					t.Errorf("%s imports %s: %s", strings.TrimPrefix(pkg, module+"/"), strings.TrimPrefix(imp, module+"/"), r.why)
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("no imports within the module were checked")
	}
}

// The rule matcher itself: a prefix matches whole path elements only.
func TestUnder(t *testing.T) {
	for _, c := range []struct {
		pkg, prefix string
		want        bool
	}{
		{module + "/media/sip", "media", true},
		{module + "/media", "media", true},
		{module + "/mediakit", "media", false},
		{module + "/inference/qm", "inference", true},
		{"example.com/media", "media", false},
	} {
		if got := under(c.pkg, c.prefix); got != c.want {
			t.Errorf("under(%q, %q) = %v, want %v", c.pkg, c.prefix, got, c.want)
		}
	}
}
