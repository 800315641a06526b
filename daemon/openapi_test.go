package daemon

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// TestOpenAPICoversRoutes fails when a registered route is missing from the
// OpenAPI document, or the document describes a route that does not exist,
// or the roles it documents differ from the route's.
func TestOpenAPICoversRoutes(t *testing.T) {
	var doc struct {
		OpenAPI string `json:"openapi"`
		Paths   map[string]map[string]struct {
			Summary string   `json:"summary"`
			Roles   []string `json:"x-earshot-roles"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(openAPIDoc, &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.1") {
		t.Errorf("openapi = %q, want 3.1.x", doc.OpenAPI)
	}
	d := &Daemon{}
	seen := map[string]bool{}
	for _, rt := range d.routes() {
		key := strings.ToLower(rt.Method) + " " + rt.Pattern
		seen[key] = true
		op, ok := doc.Paths[rt.Pattern][strings.ToLower(rt.Method)]
		if !ok {
			t.Errorf("route %s %s is missing from openapi.json", rt.Method, rt.Pattern)
			continue
		}
		var want []string
		for _, r := range rt.Roles {
			want = append(want, string(r))
		}
		got := slices.Clone(op.Roles)
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s %s: openapi roles %v, route roles %v", rt.Method, rt.Pattern, got, want)
		}
	}
	for p, ops := range doc.Paths {
		for m := range ops {
			if !seen[m+" "+p] {
				t.Errorf("openapi.json describes %s %s, which is not a route", strings.ToUpper(m), p)
			}
		}
	}
}
