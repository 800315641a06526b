package daemon

import (
	"crypto/ed25519"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/earshot/earshot/daemon/api"
	"github.com/earshot/earshot/store"
	"github.com/earshot/earshot/store/bundle"
)

// siteKey makes a site signing key and writes its public half where a
// daemon's site_config.trusted_keys can name it.
func siteKey(t *testing.T) (ed25519.PrivateKey, string) {
	t.Helper()
	priv, pub, err := bundle.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	k, err := bundle.ParsePrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "site.pub")
	if err := os.WriteFile(path, pub, 0o644); err != nil {
		t.Fatal(err)
	}
	return k, path
}

func trusting(path string) func(*Config) {
	return func(c *Config) { c.SiteConfig.TrustedKeys = []string{path} }
}

// exportContents reads a daemon's site configuration through the API.
func exportContents(t *testing.T, td *testDaemon) bundle.Contents {
	t.Helper()
	var c bundle.Contents
	if err := json.Unmarshal(td.mustCall(t, td.Admin, "GET", "/api/v1/config/bundle", nil, 200), &c); err != nil {
		t.Fatal(err)
	}
	c.Normalize() // the answer is indented
	return c
}

func applyBundle(t *testing.T, td *testDaemon, s bundle.Signed, query string, want int) (api.SiteConfigPlan, []byte) {
	t.Helper()
	code, body := td.call(t, td.Admin, "POST", "/api/v1/config/bundle/apply"+query, s)
	if code != want {
		t.Fatalf("apply%s: %d, want %d: %s", query, code, want, body)
	}
	var plan api.SiteConfigPlan
	if code == 200 {
		if err := json.Unmarshal(body, &plan); err != nil {
			t.Fatal(err)
		}
	}
	return plan, body
}

// configureSite gives a daemon a configuration of every kind a bundle
// carries.
func configureSite(t *testing.T, td *testDaemon) {
	t.Helper()
	a := td.Admin
	for _, q := range []string{"q1", "q2"} {
		td.mustCall(t, a, "POST", "/api/v1/queues", queueRequest{ID: q, Name: "Queue " + q, Description: "cards and loans"}, 201)
	}
	td.mustCall(t, a, "POST", "/api/v1/users", userRequest{ID: "ann", Role: "agent", Queues: []string{"q1"}, Licensed: true, Language: "es"}, 201)
	td.mustCall(t, a, "POST", "/api/v1/users", userRequest{ID: "sam", DisplayName: "Sam", Role: "supervisor", Queues: []string{"q1", "q2"}}, 201)
	td.mustCall(t, a, "PUT", "/api/v1/settings/features/account/sentiment", map[string]any{"enabled": true, "locked": true}, 200)
	td.mustCall(t, a, "PUT", "/api/v1/settings/features/queues/q1/virtual_agent", map[string]any{"enabled": true}, 200)
	td.mustCall(t, a, "PUT", "/api/v1/settings/features/users/ann/engagement_summary", map[string]any{"enabled": false}, 200)
	td.mustCall(t, a, "PUT", "/api/v1/settings/redaction/account", map[string]any{"replacement": "generic"}, 200)
	td.mustCall(t, a, "PUT", "/api/v1/settings/redaction/queues/q1", map[string]any{"types": []string{"card", "email"}, "replacement": "type"}, 200)
	td.mustCall(t, a, "PUT", "/api/v1/settings/qm", map[string]any{"topic_interval": "12h"}, 200)
	td.mustCall(t, a, "PUT", "/api/v1/settings/next-best-actions", matrixBodies["PUT /api/v1/settings/next-best-actions"], 200)
	td.mustCall(t, a, "PUT", "/api/v1/settings/dispositions", matrixBodies["PUT /api/v1/settings/dispositions"], 200)
	td.mustCall(t, a, "POST", "/api/v1/bots/import?publish=true", matrixBot("b1"), 200)
	draft := matrixBot("b1")
	draft["name"] = "Matrix bot, next"
	td.mustCall(t, a, "PUT", "/api/v1/bots/b1/draft", draft, 200)
	td.mustCall(t, a, "POST", "/api/v1/scorecards", testScorecardBody("basics"), 201)
	td.mustCall(t, a, "PUT", "/api/v1/kb/articles/kb1", map[string]any{"title": "Blocking a card", "body": "Press block on the card screen.", "tags": []string{"cards"}, "queue": "q1"}, 200)
	td.mustCall(t, a, "PUT", "/api/v1/kb/articles/kb2", map[string]any{"title": "Loan rates", "body": "Rates are set monthly."}, 200)
}

// sameConfig drops what differs between two boxes by design.
var sameConfig = cmpopts.IgnoreFields(bundle.Contents{}, "ExportedAt")

// TestSiteConfigBundle exports daemon A's configuration, signs it and
// applies it to daemon B (real daemons, real stores): a dry run changes
// nothing, the application makes B's configuration equal A's and is
// idempotent, B's own records are kept until pruned, the daemon's
// in-memory settings follow, and every change is audited.
func TestSiteConfigBundle(t *testing.T) {
	key, pub := siteKey(t)
	a := startDaemon(t, trusting(pub))
	b := startDaemon(t, trusting(pub))
	configureSite(t, a)
	// B's own records, which A does not have.
	b.mustCall(t, b.Admin, "POST", "/api/v1/queues", queueRequest{ID: "local"}, 201)
	b.mustCall(t, b.Admin, "POST", "/api/v1/users", userRequest{ID: "bob", Role: "analyst", Queues: []string{"local"}}, 201)
	b.mustCall(t, b.Admin, "PUT", "/api/v1/kb/articles/local-note", map[string]any{"title": "Branch hours", "body": "Open at nine."}, 200)
	b.mustCall(t, b.Admin, "PUT", "/api/v1/settings/qm", map[string]any{"topic_interval": "48h"}, 200)

	want := exportContents(t, a)
	if len(want.Queues) != 2 || len(want.Users) != 3 || len(want.Bots) != 1 || len(want.Scorecards) != 1 || len(want.Articles) != 2 {
		t.Fatalf("export of A: %d queues, %d users, %d bots, %d scorecards, %d articles; want 2, 3, 1, 1, 2",
			len(want.Queues), len(want.Users), len(want.Bots), len(want.Scorecards), len(want.Articles))
	}
	if len(want.Bots[0].Live) == 0 || len(want.Bots[0].Draft) == 0 {
		t.Fatalf("bot export lacks its live definition or draft: %+v", want.Bots[0])
	}
	signed, err := bundle.Sign(want, key)
	if err != nil {
		t.Fatal(err)
	}
	before := exportContents(t, b)

	// A dry run (the default) lists the changes and writes nothing.
	plan, raw := applyBundle(t, b, signed, "", 200)
	var v any
	json.Unmarshal(raw, &v)
	walkJSON("", v, func(p, why string) { t.Errorf("apply answer: %s: %s", p, why) })
	if !plan.DryRun || plan.Applied != 0 || plan.BundleSHA256 != signed.SHA256() {
		t.Errorf("dry run plan: dry_run %v applied %d sha %s", plan.DryRun, plan.Applied, plan.BundleSHA256)
	}
	ops := map[string]string{}
	for _, ch := range plan.Changes {
		ops[ch.Kind+" "+ch.ID] = ch.Op
	}
	for k, op := range map[string]string{"queue q1": "create", "user ann": "create", "setting features": "create",
		"setting qm.settings": "update", "bot b1": "create", "scorecard basics": "create", "article kb1": "create",
		"queue local": "keep", "user bob": "keep", "article local-note": "keep"} {
		if ops[k] != op {
			t.Errorf("dry run: %s: op %q, want %q (plan %v)", k, ops[k], op, plan.Changes)
		}
	}
	if diff := cmp.Diff(before, exportContents(t, b), sameConfig); diff != "" {
		t.Fatalf("a dry run changed B (-before +after):\n%s", diff)
	}

	// Applied: B equals A apart from its own records, which are kept.
	plan, _ = applyBundle(t, b, signed, "?dry_run=false", 200)
	var writes int
	for _, ch := range plan.Changes {
		if ch.Op != bundle.OpKeep {
			writes++
		}
	}
	if plan.DryRun || plan.Applied != writes || writes == 0 {
		t.Fatalf("apply: dry_run %v, applied %d of %d changes", plan.DryRun, plan.Applied, writes)
	}
	got := exportContents(t, b)
	withoutLocal := got
	withoutLocal.Queues = slices.DeleteFunc(slices.Clone(got.Queues), func(q bundle.Queue) bool { return q.ID == "local" })
	withoutLocal.Users = slices.DeleteFunc(slices.Clone(got.Users), func(u bundle.User) bool { return u.ID == "bob" })
	withoutLocal.Articles = slices.DeleteFunc(slices.Clone(got.Articles), func(a bundle.Article) bool { return a.ID == "local-note" })
	if diff := cmp.Diff(want, withoutLocal, sameConfig); diff != "" {
		t.Errorf("B after apply differs from A (-A +B):\n%s", diff)
	}
	if len(got.Queues) != 3 || len(got.Users) != 4 || len(got.Articles) != 3 {
		t.Errorf("B's own records not kept: %d queues, %d users, %d articles", len(got.Queues), len(got.Users), len(got.Articles))
	}

	// The running daemon uses what was applied, not only the store.
	var qmS qmSettings
	json.Unmarshal(b.mustCall(t, b.Admin, "GET", "/api/v1/settings/qm", nil, 200), &qmS)
	if qmS.TopicInterval.String() != "12h0m0s" {
		t.Errorf("B's quality settings in use: topic_interval %v, want 12h", qmS.TopicInterval)
	}
	if !b.controls.EnabledForQueue(Feature("sentiment"), "q2") {
		t.Error("B's feature controls do not have A's account-level sentiment")
	}
	if _, src := b.redaction.queuePolicy("q1"); src != "api" {
		t.Errorf("B's q1 redaction policy comes from %q, want api", src)
	}
	var codes []map[string]any
	json.Unmarshal(b.mustCall(t, b.Admin, "GET", "/api/v1/settings/dispositions", nil, 200), &codes)
	if len(codes) != 2 {
		t.Errorf("B's dispositions in use: %v", codes)
	}
	if !strings.Contains(string(b.mustCall(t, b.Admin, "GET", "/api/v1/kb/search?q=block+card", nil, 200)), "kb1") {
		t.Error("the applied article is not in B's knowledge-base index")
	}
	var bots []map[string]any
	json.Unmarshal(b.mustCall(t, b.Admin, "GET", "/api/v1/bots", nil, 200), &bots)
	if len(bots) != 1 || bots[0]["published"] != float64(1) {
		t.Errorf("B's bots: %v", bots)
	}

	// Every change is audited, naming the bundle.
	audit := string(b.mustCall(t, b.Admin, "GET", "/api/v1/audit/export", nil, 200))
	if n := strings.Count(audit, signed.SHA256()); n < writes+1 {
		t.Errorf("%d audit entries name the bundle, want at least %d (one per change and one for the application)", n, writes+1)
	}
	if !strings.Contains(audit, `"config.apply.user.create"`) || !strings.Contains(audit, `"config.apply"`) {
		t.Error("audit log lacks config.apply entries")
	}

	// Idempotent: nothing left to change.
	plan, _ = applyBundle(t, b, signed, "?dry_run=false", 200)
	for _, ch := range plan.Changes {
		if ch.Op != bundle.OpKeep {
			t.Errorf("second application changed %v", ch)
		}
	}
	if plan.Applied != 0 {
		t.Errorf("second application applied %d changes", plan.Applied)
	}

	// Pruning deletes B's own records, never the administrator applying.
	plan, _ = applyBundle(t, b, signed, "?dry_run=false&prune=true", 200)
	if plan.Applied != 3 {
		t.Errorf("prune applied %d changes, want 3 (queue, user, article): %v", plan.Applied, plan.Changes)
	}
	if diff := cmp.Diff(want, exportContents(t, b), sameConfig); diff != "" {
		t.Errorf("B after pruning differs from A (-A +B):\n%s", diff)
	}
}

// TestSiteConfigBundleRefused: tampered, untrusted, newer and invalid
// bundles are refused with a problem naming the field, counted, and
// leave the box unchanged.
func TestSiteConfigBundleRefused(t *testing.T) {
	key, pub := siteKey(t)
	a := startDaemon(t, trusting(pub))
	b := startDaemon(t, trusting(pub))
	a.mustCall(t, a.Admin, "POST", "/api/v1/queues", queueRequest{ID: "q1", Name: "Cards"}, 201)
	a.mustCall(t, a.Admin, "POST", "/api/v1/users", userRequest{ID: "ann", Role: "agent", Queues: []string{"q1"}}, 201)
	contents := exportContents(t, a)
	signed, err := bundle.Sign(contents, key)
	if err != nil {
		t.Fatal(err)
	}
	before := exportContents(t, b)

	tampered := signed
	tampered.Contents = json.RawMessage(strings.Replace(string(signed.Contents), `"Cards"`, `"Loans"`, 1))
	if string(tampered.Contents) == string(signed.Contents) {
		t.Fatal("tampering changed nothing")
	}
	otherKey, _ := siteKey(t)
	untrusted, _ := bundle.Sign(contents, otherKey)
	newer := contents
	newer.Schema = store.SchemaVersion + 1
	newerSigned, _ := bundle.Sign(newer, key)
	// withRole is contents with one user's role changed (a copy).
	withRole := func(id, role string) bundle.Contents {
		c := contents
		c.Users = append([]bundle.User{}, contents.Users...)
		for i := range c.Users {
			if c.Users[i].ID == id {
				c.Users[i].Role = role
			}
		}
		return c
	}
	badRoleSigned, _ := bundle.Sign(withRole("ann", "emperor"), key)
	badSetting := contents
	badSetting.Settings = []bundle.Setting{{Key: "plugins", Value: json.RawMessage(`{}`)}}
	badSettingSigned, _ := bundle.Sign(badSetting, key)
	badFeatures := contents
	badFeatures.Settings = []bundle.Setting{{Key: "features", Value: json.RawMessage(`{"account":{"teleport":{"enabled":true}}}`)}}
	badFeaturesSigned, _ := bundle.Sign(badFeatures, key)
	demoteSigned, _ := bundle.Sign(withRole("admin", "agent"), key)

	bad0 := testutil.ToFloat64(b.metrics.badInput.WithLabelValues("POST /api/v1/config/bundle/apply"))
	for _, tc := range []struct {
		name, query string
		body        any
		code        int
		field, says string
	}{
		{"tampered", "?dry_run=false", tampered, 422, "signature", "signature does not match the contents"},
		{"untrusted key", "?dry_run=false", untrusted, 422, "signature", "not one of the 1 trusted keys"},
		{"newer schema", "?dry_run=false", newerSigned, 422, "contents.schema", "upgrade this box first"},
		{"unknown role", "?dry_run=false", badRoleSigned, 422, "users[1].role", `role "emperor"`},
		{"setting not carried", "?dry_run=false", badSettingSigned, 422, "settings[0].value", `"plugins" is not a setting a bundle carries`},
		{"unknown feature", "?dry_run=false", badFeaturesSigned, 422, "settings[0].value", `unknown feature "teleport"`},
		{"self-demotion", "?dry_run=false", demoteSigned, 422, "users[0].role", "cannot demote or disable themselves"},
		{"no signature", "", map[string]any{"contents": contents, "key_id": signed.KeyID}, 400, "contents", "signature missing"},
		{"unknown member", "", map[string]any{"contents": contents, "key_id": signed.KeyID, "signature": signed.Signature, "extra": 1}, 400, "extra", "unknown field"},
		{"bad dry_run", "?dry_run=perhaps", signed, 400, "dry_run", "dry_run must be true or false"},
		{"bad prune", "?prune=2", signed, 400, "prune", "prune must be true or false"},
	} {
		code, body := b.call(t, b.Admin, "POST", "/api/v1/config/bundle/apply"+tc.query, tc.body)
		var p api.Problem
		json.Unmarshal(body, &p)
		if code != tc.code || p.Field != tc.field || !strings.Contains(p.Detail, tc.says) {
			t.Errorf("%s: %d field %q %q; want %d field %q saying %q", tc.name, code, p.Field, p.Detail, tc.code, tc.field, tc.says)
		}
	}
	if got := testutil.ToFloat64(b.metrics.badInput.WithLabelValues("POST /api/v1/config/bundle/apply")) - bad0; got != 11 {
		t.Errorf("bad input counted %v times, want 11", got)
	}
	if diff := cmp.Diff(before, exportContents(t, b), sameConfig); diff != "" {
		t.Errorf("refused bundles changed B (-before +after):\n%s", diff)
	}
	// The untouched bundle still applies.
	if plan, _ := applyBundle(t, b, signed, "?dry_run=false", 200); plan.Applied != 2 {
		t.Errorf("valid bundle applied %d changes, want 2: %v", plan.Applied, plan.Changes)
	}

	// A box that trusts no key refuses every bundle.
	c := startDaemon(t, nil)
	code, body := c.call(t, c.Admin, "POST", "/api/v1/config/bundle/apply", signed)
	if code != 409 || !strings.Contains(string(body), "site_config.trusted_keys") {
		t.Errorf("box without trusted keys: %d %s", code, body)
	}
	// Only administrators export or apply.
	agent := a.tokenFor(t, "u-agent", RoleAgent, "q1")
	if code, _ := a.call(t, agent, "GET", "/api/v1/config/bundle", nil); code != 403 {
		t.Errorf("agent export: %d, want 403", code)
	}
}
