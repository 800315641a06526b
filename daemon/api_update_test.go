package daemon

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/earshot/earshot/daemon/api"
)

// TestUserUpdatesKeepUnnamedMembers changes a user one member at a time
// through PATCH and checks after each that every member it did not name,
// the queues and the licence above all, is as it was; PUT refuses a body
// that leaves a member out, and a refused update changes nothing.
func TestUserUpdatesKeepUnnamedMembers(t *testing.T) {
	td := startDaemon(t, nil)
	for _, q := range []string{"q1", "q2", "q3"} {
		td.mustCall(t, td.Admin, "POST", "/api/v1/queues", queueRequest{ID: q}, 201)
	}
	td.mustCall(t, td.Admin, "POST", "/api/v1/users", userRequest{ID: "sam", DisplayName: "Sam", Role: "agent", Queues: []string{"q2", "q1"}, Licensed: true}, 201)
	get := func() api.User {
		var u api.User
		json.Unmarshal(td.mustCall(t, td.Admin, "GET", "/api/v1/users/sam", nil, 200), &u)
		return u
	}
	want := get()
	if !want.Licensed || len(want.Queues) != 2 {
		t.Fatalf("created user = %+v", want)
	}
	ignore := cmpopts.IgnoreFields(api.User{}, "UpdatedAt")
	for _, tt := range []struct {
		patch  map[string]any
		change func(*api.User)
	}{
		{map[string]any{"licensed": true}, func(u *api.User) {}},
		{map[string]any{"role": "supervisor"}, func(u *api.User) { u.Role = "supervisor" }},
		{map[string]any{"display_name": "Samantha"}, func(u *api.User) { u.DisplayName = "Samantha" }},
		{map[string]any{"disabled": true}, func(u *api.User) { u.Disabled = true }},
		{map[string]any{"disabled": false, "role": "agent"}, func(u *api.User) { u.Disabled, u.Role = false, "agent" }},
		{map[string]any{"queues": []string{"q3", "q1", "q3"}}, func(u *api.User) { u.Queues = []string{"q1", "q3"} }},
		{map[string]any{"licensed": false}, func(u *api.User) { u.Licensed = false }},
		{map[string]any{"licensed": true, "queues": []string{}}, func(u *api.User) { u.Licensed, u.Queues = true, []string{} }},
	} {
		var got api.User
		json.Unmarshal(td.mustCall(t, td.Admin, "PATCH", "/api/v1/users/sam", tt.patch, 200), &got)
		tt.change(&want)
		if diff := cmp.Diff(want, got, ignore); diff != "" {
			t.Errorf("PATCH %v answered (-want +got):\n%s", tt.patch, diff)
		}
		if diff := cmp.Diff(want, get(), ignore); diff != "" {
			t.Errorf("after PATCH %v the stored user differs (-want +got):\n%s", tt.patch, diff)
		}
	}
	// Refused updates, each naming the member at fault, change nothing.
	td.mustCall(t, td.Admin, "PATCH", "/api/v1/users/sam", map[string]any{"queues": []string{"q1", "q2"}}, 200)
	want = get()
	for _, tt := range []struct {
		method string
		body   any
		field  string
	}{
		{"PATCH", map[string]any{"queues": nil}, "queues"},
		{"PATCH", map[string]any{}, ""},
		{"PATCH", map[string]any{"role": "boss"}, "role"},
		{"PATCH", map[string]any{"queues": []string{"nope"}}, "queues"},
		{"PATCH", map[string]any{"id": "other"}, "id"},
		{"PUT", map[string]any{"role": "supervisor"}, "display_name"},
		{"PUT", map[string]any{"role": "supervisor", "display_name": "", "licensed": true, "disabled": false}, "queues"},
	} {
		code, body := td.call(t, td.Admin, tt.method, "/api/v1/users/sam", tt.body)
		var p Problem
		json.Unmarshal(body, &p)
		if code != 400 || p.Field != tt.field {
			t.Errorf("%s %v = %d %s; want 400 naming %q", tt.method, tt.body, code, body, tt.field)
		}
		if diff := cmp.Diff(want, get()); diff != "" {
			t.Errorf("refused %s %v changed the user (-want +got):\n%s", tt.method, tt.body, diff)
		}
	}
	// A full PUT replaces every member.
	var got api.User
	json.Unmarshal(td.mustCall(t, td.Admin, "PUT", "/api/v1/users/sam",
		userRequest{Role: "analyst", Queues: []string{"q3"}, DisplayName: "S"}, 200), &got)
	if got.Role != "analyst" || !cmp.Equal(got.Queues, []string{"q3"}) || got.Licensed || got.DisplayName != "S" {
		t.Errorf("PUT answered %+v", got)
	}
	// Administrators cannot demote or disable themselves through PATCH either.
	for _, patch := range []map[string]any{{"role": "agent"}, {"disabled": true}} {
		td.mustCall(t, td.Admin, "PATCH", "/api/v1/users/admin", patch, 400)
	}
}

// TestQueueUpdatesKeepUnnamedMembers: PATCH of a queue's name keeps its
// description and the other way round; PUT needs both.
func TestQueueUpdatesKeepUnnamedMembers(t *testing.T) {
	td := startDaemon(t, nil)
	td.mustCall(t, td.Admin, "POST", "/api/v1/queues", queueRequest{ID: "cards", Name: "Cards", Description: "card services"}, 201)
	var q api.Queue
	json.Unmarshal(td.mustCall(t, td.Admin, "PATCH", "/api/v1/queues/cards", map[string]any{"name": "Card services"}, 200), &q)
	if q.Name != "Card services" || q.Description != "card services" {
		t.Errorf("PATCH name: %+v", q)
	}
	q = api.Queue{}
	json.Unmarshal(td.mustCall(t, td.Admin, "PATCH", "/api/v1/queues/cards", map[string]any{"description": ""}, 200), &q)
	if q.Name != "Card services" || q.Description != "" {
		t.Errorf("PATCH description: %+v", q)
	}
	td.mustCall(t, td.Admin, "PATCH", "/api/v1/queues/cards", map[string]any{"name": ""}, 400)
	td.mustCall(t, td.Admin, "PUT", "/api/v1/queues/cards", map[string]any{"name": "X"}, 400)
	json.Unmarshal(td.mustCall(t, td.Admin, "PUT", "/api/v1/queues/cards", map[string]any{"name": "Cards", "description": "d"}, 200), &q)
	if q.Name != "Cards" || q.Description != "d" {
		t.Errorf("PUT: %+v", q)
	}
	td.mustCall(t, td.Admin, "PATCH", "/api/v1/queues/nope", map[string]any{"name": "X"}, 404)
}

// TestFeatureLockIsNeverDroppedUnsaid: replacing a locked account setting
// without restating locked is refused, and the lock stays.
func TestFeatureLockIsNeverDroppedUnsaid(t *testing.T) {
	td := startDaemon(t, nil)
	const path = "/api/v1/settings/features/account/sentiment"
	td.mustCall(t, td.Admin, "PUT", path, map[string]any{"enabled": true, "locked": true}, 200)
	code, body := td.call(t, td.Admin, "PUT", path, map[string]any{"enabled": false})
	var p Problem
	json.Unmarshal(body, &p)
	if code != 400 || p.Field != "locked" {
		t.Errorf("PUT without locked over a lock = %d %s, want 400 naming locked", code, body)
	}
	if s := td.controls.Settings().Account["sentiment"]; !s.Locked || s.Enabled == nil || !*s.Enabled {
		t.Errorf("setting after the refused PUT = %+v, want enabled and locked", s)
	}
	td.mustCall(t, td.Admin, "PUT", path, map[string]any{"enabled": false, "locked": false}, 200)
	if s := td.controls.Settings().Account["sentiment"]; s.Locked || *s.Enabled {
		t.Errorf("setting after unlocking = %+v", s)
	}
	// An unlocked setting may be replaced by enabled alone.
	td.mustCall(t, td.Admin, "PUT", path, map[string]any{"enabled": true}, 200)
}

// TestPluginSettingsUpdates: PATCH changes the settings it names and keeps
// the approved scopes and configuration; PUT needs every member; the
// answer and the list use snake_case.
func TestPluginSettingsUpdates(t *testing.T) {
	src := t.TempDir()
	// Never enabled, so never started: a placeholder executable will do.
	os.WriteFile(filepath.Join(src, "crm"), []byte("#!/bin/sh\nexit 1\n"), 0o755)
	os.WriteFile(filepath.Join(src, "manifest.json"), []byte(`{"name":"crm","version":"1.0.0","executable":"crm","kinds":["info"],"scopes":["customer_ref","intents"]}`), 0o644)
	td := startDaemon(t, nil)
	td.mustCall(t, td.Admin, "POST", "/api/v1/plugins", map[string]string{"source_dir": src}, 201)
	const path = "/api/v1/plugins/crm/settings"
	want := api.PluginSettings{ApprovedScopes: []string{"customer_ref"}, Config: map[string]string{"file": "/srv/crm.csv"}, ReadPaths: []string{}, WritePaths: []string{}}
	var got api.PluginSettings
	json.Unmarshal(td.mustCall(t, td.Admin, "PATCH", path, map[string]any{"approved_scopes": []string{"customer_ref"}, "config": map[string]string{"file": "/srv/crm.csv"}}, 200), &got)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("PATCH scopes and config (-want +got):\n%s", diff)
	}
	got = api.PluginSettings{}
	json.Unmarshal(td.mustCall(t, td.Admin, "PATCH", path, map[string]any{"local_confirmed": true}, 200), &got)
	want.LocalConfirmed = true
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("PATCH local_confirmed dropped other settings (-want +got):\n%s", diff)
	}
	for _, tt := range []struct {
		method string
		body   map[string]any
		field  string
	}{
		{"PATCH", map[string]any{"approved_scopes": []string{"bogus"}}, "approved_scopes"},
		{"PATCH", map[string]any{"config": nil}, "config"},
		{"PUT", map[string]any{"enabled": false, "approved_scopes": []string{}, "local_confirmed": false, "read_paths": []string{}, "write_paths": []string{}}, "config"},
		{"PATCH", map[string]any{"read_paths": []string{"relative"}}, "read_paths"},
	} {
		code, body := td.call(t, td.Admin, tt.method, path, tt.body)
		var p Problem
		json.Unmarshal(body, &p)
		if code != 400 || p.Field != tt.field {
			t.Errorf("%s %v = %d %s; want 400 naming %s", tt.method, tt.body, code, body, tt.field)
		}
	}
	var list api.PluginList
	json.Unmarshal(td.mustCall(t, td.Admin, "GET", "/api/v1/plugins", nil, 200), &list)
	if len(list.Plugins) != 1 || list.Plugins[0].Manifest.Name != "crm" || list.Plugins[0].State == "" {
		t.Fatalf("plugin list = %+v", list)
	}
	if diff := cmp.Diff(want, list.Plugins[0].Settings); diff != "" {
		t.Errorf("listed settings (-want +got):\n%s", diff)
	}
	got = api.PluginSettings{}
	empty := api.PluginSettings{ApprovedScopes: []string{}, Config: map[string]string{}, ReadPaths: []string{}, WritePaths: []string{}}
	json.Unmarshal(td.mustCall(t, td.Admin, "PUT", path, empty, 200), &got)
	if diff := cmp.Diff(empty, got); diff != "" {
		t.Errorf("PUT replaces every member (-want +got):\n%s", diff)
	}
}
