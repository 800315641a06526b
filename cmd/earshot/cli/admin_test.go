package cli

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/earshot/earshot/daemon/api"
)

// TestAdminCommands runs the admin commands against a real daemon and
// checks that each one did what it says and printed it.
func TestAdminCommands(t *testing.T) {
	cfg := startDaemon(t)
	c := "--config=" + cfg

	out := mustRun(t, "queue", "create", "billing", "--name", "Billing", "--description", "card billing", c)
	if !strings.HasPrefix(out, "created queue billing\n") || !strings.Contains(out, "card billing") {
		t.Errorf("queue create printed %q", out)
	}
	if out := mustRun(t, "queue", "list", c); !strings.Contains(out, "billing") || !strings.Contains(out, "Billing") {
		t.Errorf("queue list printed %q", out)
	}
	if out := mustRun(t, "queue", "show", "billing", c); !strings.Contains(out, "card billing") {
		t.Errorf("queue show printed %q", out)
	}

	out = mustRun(t, "user", "create", "sam", "--role", "agent", "--queues", "billing", "--licensed", c)
	if !strings.HasPrefix(out, "created user sam\n") || !strings.Contains(out, "agent") || !strings.Contains(out, "billing") {
		t.Errorf("user create printed %q", out)
	}
	if out := mustRun(t, "user", "list", c); !strings.Contains(out, "sam") || !strings.Contains(out, "admin") {
		t.Errorf("user list printed %q", out)
	}

	secret, errOut, err := runCommand(t, "token", "create", "--user", "sam", "--expires", "24h", c)
	if err != nil || !strings.HasPrefix(secret, "es_") || !strings.Contains(errOut, "created token tok_") {
		t.Fatalf("token create: %v, stdout %q, stderr %q", err, secret, errOut)
	}
	id := strings.Fields(strings.TrimPrefix(errOut, "created token "))[0]
	if out := mustRun(t, "token", "list", c); !strings.Contains(out, id) || !strings.Contains(out, "active") {
		t.Errorf("token list printed %q", out)
	}
	if out := mustRun(t, "token", "revoke", id, c); out != "revoked token "+id+"\n" {
		t.Errorf("token revoke printed %q", out)
	}
	if out := mustRun(t, "token", "list", c); !strings.Contains(out, "revoked") {
		t.Errorf("token list after revoke printed %q", out)
	}

	// An ingest token narrowed to one queue and two sources shows them in
	// the list; a source the daemon does not know is refused by name.
	mustRun(t, "user", "create", "feeder", "--role", "ingest", "--queues", "billing", c)
	_, errOut, err = runCommand(t, "token", "create", "--user", "feeder", "--queues", "billing", "--sources", "whip, websocket", c)
	if err != nil {
		t.Fatalf("scoped token create: %v, stderr %q", err, errOut)
	}
	if out := mustRun(t, "token", "list", c); !strings.Contains(out, "billing") || !strings.Contains(out, "websocket,whip") {
		t.Errorf("token list of a scoped token printed %q", out)
	}
	if _, _, err := runCommand(t, "token", "create", "--user", "feeder", "--sources", "fax", c); err == nil ||
		!strings.Contains(err.Error(), "field sources") || !strings.Contains(err.Error(), "fax") {
		t.Errorf("token create with source fax: %v; want an error naming the field and the source", err)
	}

	if out := mustRun(t, "audit", "verify", c); !strings.HasPrefix(out, "audit chain ok: ") {
		t.Errorf("audit verify printed %q", out)
	}
	if out := mustRun(t, "audit", "export", "--actor", "admin", c); !strings.Contains(out, `"action":"queue.create"`) {
		t.Errorf("audit export printed %.300q", out)
	}
	if out := mustRun(t, "key", "rotate", c); !strings.Contains(out, "from version 1 to 2") {
		t.Errorf("key rotate printed %q", out)
	}
	backup := filepath.Join(t.TempDir(), "content.db")
	if out := mustRun(t, "backup", backup, "--keys", backup+".keys", c); !strings.Contains(out, "wrote "+backup+": ") {
		t.Errorf("backup printed %q", out)
	}
	if st, err := os.Stat(backup + ".keys"); err != nil || st.Size() == 0 {
		t.Errorf("key backup: %v", err)
	}
	if out := mustRun(t, "purge", "--customer", "C-404", "--reason", "erasure request 17", c); !strings.HasPrefix(out, "purged 0 engagements") {
		t.Errorf("purge printed %q", out)
	}

	if out := mustRun(t, "user", "delete", "sam", c); !strings.HasPrefix(out, "deleted user sam") {
		t.Errorf("user delete printed %q", out)
	}
	if out := mustRun(t, "queue", "delete", "billing", c); out != "deleted queue billing\n" {
		t.Errorf("queue delete printed %q", out)
	}
	// A refusal names the field.
	if _, _, err := runCommand(t, "queue", "create", "Bad ID", c); err == nil || !strings.Contains(err.Error(), "field id") {
		t.Errorf("queue create with a bad ID: %v", err)
	}
}

// TestUserUpdateKeepsWhatItWasNotTold: every partial update through the
// command line changes what its flags name and keeps the user's queues,
// licence and other fields.
func TestUserUpdateKeepsWhatItWasNotTold(t *testing.T) {
	cfg := startDaemon(t)
	c := "--config=" + cfg
	for _, q := range []string{"billing", "cards"} {
		mustRun(t, "queue", "create", q, c)
	}
	mustRun(t, "user", "create", "sam", "--role", "agent", "--queues", "billing,cards", "--name", "Sam", c)
	show := func() api.User {
		t.Helper()
		var u api.User
		cl, err := (&clientFlags{config: cfg}).client(testEnv)
		if err != nil {
			t.Fatal(err)
		}
		if err := cl.do("GET", "/api/v1/users/sam", nil, &u); err != nil {
			t.Fatal(err)
		}
		return u
	}
	want := show()
	for _, tt := range []struct {
		flags  []string
		change func(*api.User)
		prints string
	}{
		{[]string{"--licensed"}, func(u *api.User) { u.Licensed = true }, "yes"},
		{[]string{"--role", "supervisor"}, func(u *api.User) { u.Role = "supervisor" }, "supervisor"},
		{[]string{"--name", "Samantha"}, func(u *api.User) { u.DisplayName = "Samantha" }, "Samantha"},
		{[]string{"--disabled"}, func(u *api.User) { u.Disabled = true }, "yes"},
		{[]string{"--disabled=false", "--role", "agent"}, func(u *api.User) { u.Disabled, u.Role = false, "agent" }, "agent"},
		{[]string{"--queues", "cards"}, func(u *api.User) { u.Queues = []string{"cards"} }, "cards"},
		{[]string{"--licensed=false"}, func(u *api.User) { u.Licensed = false }, "no"},
		{[]string{"--queues", ""}, func(u *api.User) { u.Queues = []string{} }, "sam"},
	} {
		out := mustRun(t, "user", append([]string{"update", "sam", c}, tt.flags...)...)
		tt.change(&want)
		got := show()
		if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(api.User{}, "UpdatedAt")); diff != "" {
			t.Errorf("user update %v (-want +got):\n%s", tt.flags, diff)
		}
		want = got
		if !strings.HasPrefix(out, "updated user sam\n") || !strings.Contains(out, tt.prints) {
			t.Errorf("user update %v printed %q", tt.flags, out)
		}
	}
	if _, _, err := runCommand(t, "user", "update", "sam", c); err == nil || !errors.Is(err, ErrUsage) || !strings.Contains(err.Error(), "nothing to change") {
		t.Errorf("user update without a change: %v", err)
	}
	if _, _, err := runCommand(t, "user", "update", "sam", "--role", "boss", c); err == nil || !strings.Contains(err.Error(), "field role") {
		t.Errorf("user update --role boss: %v", err)
	}
	if diff := cmp.Diff(want, show()); diff != "" {
		t.Errorf("refused updates changed the user (-want +got):\n%s", diff)
	}

	mustRun(t, "queue", "update", "billing", "--description", "card billing", c)
	out := mustRun(t, "queue", "update", "billing", "--name", "Billing", c)
	if !strings.HasPrefix(out, "updated queue billing\n") || !strings.Contains(out, "card billing") || !strings.Contains(out, "Billing") {
		t.Errorf("queue update --name kept the description? printed %q", out)
	}
}
