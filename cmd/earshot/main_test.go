package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/earshot/earshot/cmd/earshot/cli"
)

// TestHelp asks every command, and every action of the commands made of
// actions, for its help: each prints a usage line (and its flags, if it
// has any) to standard output and exits 0; a mistake exits 2 and says how
// to get help.
func TestHelp(t *testing.T) {
	run := func(args ...string) (int, string, string) {
		var out, errw bytes.Buffer
		code := cli.Main(args, commands(), cli.IO{In: strings.NewReader(""), Out: &out, Err: &errw})
		return code, out.String(), errw.String()
	}
	code, out, _ := run("-h")
	if code != 0 || !strings.Contains(out, "commands:") {
		t.Fatalf("earshot -h = %d %q", code, out)
	}
	actions := map[string][]string{
		"queue": {"create", "list", "show", "update", "delete"}, "user": {"create", "list", "show", "update", "delete"},
		"token": {"create", "list", "revoke"}, "audit": {"verify", "export"}, "key": {"rotate"}, "plugin": {"install"},
		"forecast": {"run", "staff", "backtest", "longterm", "erlang"},
	}
	for _, c := range commands() {
		code, out, errOut := run(c.Name, "-h")
		if code != 0 || !strings.HasPrefix(out, "usage: earshot "+c.Name) || errOut != "" {
			t.Errorf("earshot %s -h = %d, stdout %q, stderr %q", c.Name, code, out, errOut)
		}
		for _, a := range actions[c.Name] {
			if !strings.Contains(out, a) {
				t.Errorf("earshot %s -h does not mention action %s:\n%s", c.Name, a, out)
			}
			code, out, errOut := run(c.Name, a, "-h")
			if code != 0 || !strings.HasPrefix(out, "usage: earshot "+c.Name+" "+a) || !strings.Contains(out, "flags:") || errOut != "" {
				t.Errorf("earshot %s %s -h = %d, stdout %q, stderr %q", c.Name, a, code, out, errOut)
			}
			if code, alt, _ := run("help", c.Name, a); code != 0 || alt != out {
				t.Errorf("earshot help %s %s = %d %q, want the same as -h", c.Name, a, code, alt)
			}
		}
	}
	for _, bad := range [][]string{{"queue"}, {"queue", "bogus"}, {"queue", "create"}, {"user", "create", "sam", "--bogus"}, {"forecast", "run"}, {"nope"}} {
		code, out, errOut := run(bad...)
		if code != 2 || out != "" || !strings.Contains(errOut, "earshot") {
			t.Errorf("earshot %s = %d, stdout %q, stderr %q; want 2 and a hint on stderr", strings.Join(bad, " "), code, out, errOut)
		}
	}
	if code, _, errOut := run("queue", "bogus"); !strings.Contains(errOut, "earshot queue -h") {
		t.Errorf("unknown action: %d %q, want a pointer to earshot queue -h", code, errOut)
	}
}
