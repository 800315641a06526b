package daemon

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/earshot/earshot/store"
)

// testDaemon is a daemon serving on a loopback port for one test.
type testDaemon struct {
	*Daemon
	URL   string
	Admin string // the bootstrap admin token

	stopFn func()
}

func startDaemon(t testing.TB, mod func(*Config)) *testDaemon {
	t.Helper()
	return startDaemonLogged(t, mod, nil)
}

// startDaemonLogged is startDaemon with the daemon's logs going to logger.
func startDaemonLogged(t testing.TB, mod func(*Config), logger *slog.Logger) *testDaemon {
	t.Helper()
	cfg := DefaultConfig(false)
	cfg.DataDir = t.TempDir()
	cfg.Listen = "127.0.0.1:0"
	// Training the shipped intent set costs seconds of CPU per daemon;
	// TestDefaultIntents turns it back on.
	cfg.Analytics.DefaultIntents = "none"
	if mod != nil {
		mod(&cfg)
	}
	d, err := New(cfg, logger)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ln, err := d.Listen()
	if err != nil {
		d.Close()
		t.Fatalf("Listen: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Serve(ctx, ln) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Serve returned %v after cancel, want nil", err)
			}
		})
	}
	t.Cleanup(stop)
	tok, err := os.ReadFile(filepath.Join(cfg.DataDir, AdminTokenFile))
	if err != nil {
		t.Fatalf("admin token file: %v", err)
	}
	scheme := "http://"
	if cfg.TLS.Mode != "off" {
		scheme = "https://"
	}
	return &testDaemon{Daemon: d, URL: scheme + ln.Addr().String(), Admin: strings.TrimSpace(string(tok)), stopFn: stop}
}

// stop shuts the daemon down before the test ends (to restart on the same
// data directory); the test's cleanup then does nothing more.
func (td *testDaemon) stop(t *testing.T) {
	t.Helper()
	td.stopFn()
}

// call sends a request and returns the status and body.
func (td *testDaemon) call(t testing.TB, token, method, path string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		switch b := body.(type) {
		case string:
			rd = strings.NewReader(b)
		default:
			raw, _ := json.Marshal(b)
			rd = bytes.NewReader(raw)
		}
	}
	req, err := http.NewRequest(method, td.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	setJSONType(req, body)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, data
}

// mustCall is call that fails the test unless the status is want.
func (td *testDaemon) mustCall(t testing.TB, token, method, path string, body any, want int) []byte {
	t.Helper()
	code, data := td.call(t, token, method, path, body)
	if code != want {
		t.Fatalf("%s %s = %d %s, want %d", method, path, code, data, want)
	}
	return data
}

// tokenFor creates a user with role and queues and returns a token for it.
func (td *testDaemon) tokenFor(t *testing.T, id string, role Role, queues ...string) string {
	t.Helper()
	td.mustCall(t, td.Admin, "POST", "/api/v1/users", userRequest{ID: id, Role: string(role), Queues: queues, Licensed: true}, 201)
	var tv tokenView
	json.Unmarshal(td.mustCall(t, td.Admin, "POST", "/api/v1/tokens", tokenRequest{UserID: id}, 201), &tv)
	if !strings.HasPrefix(tv.Secret, tokenPrefix) {
		t.Fatalf("token secret %q lacks prefix", tv.Secret)
	}
	return tv.Secret
}

func TestBootstrapAdminOnce(t *testing.T) {
	dir := t.TempDir()
	cfg := DefaultConfig(false)
	cfg.DataDir = dir
	d, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	d.Close()
	path := filepath.Join(dir, AdminTokenFile)
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("admin token file mode = %v, want 0600", st.Mode().Perm())
	}
	first, _ := os.ReadFile(path)
	d, err = New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	d.Close()
	second, _ := os.ReadFile(path)
	if !bytes.Equal(first, second) {
		t.Error("a second start replaced the admin token although the first was still valid")
	}
	// Revoke every admin token: the next start issues a new one.
	s, err := store.Open(t.Context(), store.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	ts, _ := s.Tokens(t.Context())
	for _, tk := range ts {
		s.RevokeToken(t.Context(), tk.ID, time.Now())
	}
	s.Close()
	d, err = New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	d.Close()
	third, _ := os.ReadFile(path)
	if bytes.Equal(first, third) {
		t.Error("no new admin token after every admin token was revoked")
	}
}

func TestTokenLifecycle(t *testing.T) {
	td := startDaemon(t, nil)
	agent := td.tokenFor(t, "ana", RoleAgent)
	td.mustCall(t, agent, "GET", "/api/v1/whoami", nil, 200)
	var list []tokenView
	json.Unmarshal(td.mustCall(t, td.Admin, "GET", "/api/v1/tokens", nil, 200), &list)
	var anaID string
	for _, tv := range list {
		if tv.Secret != "" {
			t.Errorf("token list shows a secret for %s", tv.ID)
		}
		if tv.UserID == "ana" {
			anaID = tv.ID
		}
	}
	if anaID == "" {
		t.Fatal("ana's token not listed")
	}
	td.mustCall(t, td.Admin, "DELETE", "/api/v1/tokens/"+anaID, nil, 204)
	td.mustCall(t, agent, "GET", "/api/v1/whoami", nil, 401)

	// Expired tokens are refused.
	var tv tokenView
	json.Unmarshal(td.mustCall(t, td.Admin, "POST", "/api/v1/tokens", tokenRequest{UserID: "ana", ExpiresIn: "1ms"}, 201), &tv)
	waitUntil(t, "the token to expire", func() bool {
		code, _ := td.call(t, tv.Secret, "GET", "/api/v1/whoami", nil)
		return code == 401
	})

	// Disabled users are refused.
	json.Unmarshal(td.mustCall(t, td.Admin, "POST", "/api/v1/tokens", tokenRequest{UserID: "ana"}, 201), &tv)
	td.mustCall(t, tv.Secret, "GET", "/api/v1/whoami", nil, 200)
	td.mustCall(t, td.Admin, "PUT", "/api/v1/users/ana", userRequest{Role: "agent", Disabled: true}, 200)
	td.mustCall(t, tv.Secret, "GET", "/api/v1/whoami", nil, 401)
}

func TestBadInputProblems(t *testing.T) {
	td := startDaemon(t, nil)
	tests := []struct {
		name       string
		method     string
		path       string
		body       string
		wantStatus int
		wantField  string
	}{
		{"unknown field", "POST", "/api/v1/queues", `{"id":"a","nmae":"x"}`, 400, "nmae"},
		{"wrong type", "POST", "/api/v1/queues", `{"id":5}`, 400, "id"},
		{"bad id", "POST", "/api/v1/queues", `{"id":"Has Spaces"}`, 400, "id"},
		{"malformed", "POST", "/api/v1/queues", `{"id":`, 400, ""},
		{"empty", "POST", "/api/v1/users", ``, 400, ""},
		{"trailing", "POST", "/api/v1/queues", `{"id":"a"} {}`, 400, ""},
		{"bad role", "POST", "/api/v1/users", `{"id":"u1","role":"boss"}`, 400, "role"},
		{"unknown queue", "POST", "/api/v1/users", `{"id":"u1","role":"agent","queues":["nope"]}`, 400, "queues"},
		{"bad expiry", "POST", "/api/v1/tokens", `{"user_id":"admin","expires_in":"soon"}`, 400, "expires_in"},
		{"unknown user", "POST", "/api/v1/tokens", `{"user_id":"ghost"}`, 400, "user_id"},
		{"unknown feature", "PUT", "/api/v1/settings/features/account/telepathy", `{"enabled":true}`, 404, "feature"},
		{"lock on queue", "PUT", "/api/v1/settings/features/queues/q1/sentiment", `{"enabled":true,"locked":true}`, 400, "locked"},
		{"enabled missing", "PUT", "/api/v1/settings/features/account/sentiment", `{}`, 400, "enabled"},
		{"too large", "POST", "/api/v1/queues", `{"id":"` + strings.Repeat("a", maxBody) + `"}`, 413, "body"},
	}
	td.mustCall(t, td.Admin, "POST", "/api/v1/queues", queueRequest{ID: "q1"}, 201)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := td.call(t, td.Admin, tt.method, tt.path, tt.body)
			if code != tt.wantStatus {
				t.Fatalf("%s %s = %d %s, want %d", tt.method, tt.path, code, body, tt.wantStatus)
			}
			var p Problem
			if err := json.Unmarshal(body, &p); err != nil || p.Status != code || p.Detail == "" {
				t.Fatalf("body %s is not a problem detail with status and detail", body)
			}
			if p.Field != tt.wantField {
				t.Errorf("problem field = %q, want %q (detail %q)", p.Field, tt.wantField, p.Detail)
			}
		})
	}
	// Bad input is counted.
	_, metrics := td.call(t, "", "GET", "/metrics", nil)
	if !strings.Contains(string(metrics), `earshot_api_bad_requests_total{route="POST /api/v1/queues"}`) {
		t.Error("bad requests not counted in earshot_api_bad_requests_total")
	}
	// Nothing was half-written: only q1 exists.
	var qs []store.Queue
	json.Unmarshal(td.mustCall(t, td.Admin, "GET", "/api/v1/queues", nil, 200), &qs)
	if len(qs) != 1 || qs[0].ID != "q1" {
		t.Errorf("queues after bad input = %+v, want only q1", qs)
	}
}

func TestFeatureSettingsAPI(t *testing.T) {
	td := startDaemon(t, nil)
	td.mustCall(t, td.Admin, "POST", "/api/v1/queues", queueRequest{ID: "billing"}, 201)
	sup := td.tokenFor(t, "sam", RoleSupervisor, "billing")
	agent := td.tokenFor(t, "ana", RoleAgent, "billing")
	td.tokenFor(t, "other", RoleAgent)

	effective := func(token, query string) map[Feature]Decision {
		t.Helper()
		var out struct{ Features []Decision }
		json.Unmarshal(td.mustCall(t, token, "GET", "/api/v1/features/effective"+query, nil, 200), &out)
		m := map[Feature]Decision{}
		for _, d := range out.Features {
			m[d.Feature] = d
		}
		return m
	}
	if d := effective(agent, "?queue=billing")["sentiment"]; !d.On || d.Source != "default" {
		t.Fatalf("sentiment = %+v, want on by default", d)
	}
	td.mustCall(t, td.Admin, "PUT", "/api/v1/settings/features/queues/billing/sentiment", map[string]any{"enabled": false}, 200)
	if d := effective(agent, "?queue=billing")["sentiment"]; d.On || d.Source != "queue" {
		t.Fatalf("after queue off, sentiment = %+v", d)
	}
	td.mustCall(t, td.Admin, "PUT", "/api/v1/settings/features/users/ana/sentiment", map[string]any{"enabled": true}, 200)
	if d := effective(sup, "?queue=billing&user=ana")["sentiment"]; !d.On || d.Source != "user" {
		t.Fatalf("after user on, sentiment = %+v", d)
	}
	td.mustCall(t, td.Admin, "PUT", "/api/v1/settings/features/account/sentiment", map[string]any{"enabled": false, "locked": true}, 200)
	if d := effective(agent, "?queue=billing")["sentiment"]; d.On || d.Source != "locked" {
		t.Fatalf("after account lock, sentiment = %+v", d)
	}
	td.mustCall(t, td.Admin, "DELETE", "/api/v1/settings/features/account/sentiment", nil, 204)
	td.mustCall(t, td.Admin, "DELETE", "/api/v1/settings/features/account/sentiment", nil, 404)
	// Scoping: an agent may not ask about another user; a supervisor not about a user outside their queues.
	td.mustCall(t, agent, "GET", "/api/v1/features/effective?user=sam", nil, 403)
	td.mustCall(t, sup, "GET", "/api/v1/features/effective?user=other", nil, 403)
	td.mustCall(t, sup, "GET", "/api/v1/features/effective?queue=fraud", nil, 403)

	// Settings survive a restart.
	td.mustCall(t, td.Admin, "PUT", "/api/v1/settings/local-models-only", map[string]any{"enabled": false}, 200)
	if td.controls.LocalModelsOnly() {
		t.Error("local_models_only still on after switching it off")
	}
	s := td.controls.Settings()
	c2, err := newControls(td.store, true)
	if err != nil {
		t.Fatal(err)
	}
	if got := c2.Settings(); got.LocalModelsOnly == nil || *got.LocalModelsOnly || len(got.Users["ana"]) != len(s.Users["ana"]) {
		t.Errorf("reloaded settings = %+v, want %+v", got, s)
	}
}

func mustRequest(t *testing.T, method, url, body string) *http.Request {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	setJSONType(req, body)
	return req
}

// setJSONType labels a request body as JSON unless it is a string that is
// not JSON (a CSV, say), which goes without a Content-Type.
func setJSONType(req *http.Request, body any) {
	switch b := body.(type) {
	case nil:
		return
	case string:
		if t := strings.TrimSpace(b); t == "" || !strings.HasPrefix(t, "{") && !strings.HasPrefix(t, "[") {
			return
		}
	}
	req.Header.Set("Content-Type", "application/json")
}

func tlsClientFor(t *testing.T, pemCert []byte, minVersion uint16) *http.Client {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemCert) {
		t.Fatal("bad certificate PEM")
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: minVersion}}}
}

func tlsClientMax(t *testing.T, pemCert []byte, maxVersion uint16) *http.Client {
	c := tlsClientFor(t, pemCert, tls.VersionTLS10)
	c.Transport.(*http.Transport).TLSClientConfig.MaxVersion = maxVersion
	return c
}

// TestChangesAreAudited checks that directory and settings changes land in
// the audit log with the acting user, and that the chain verifies.
func TestChangesAreAudited(t *testing.T) {
	td := startDaemon(t, nil)
	td.mustCall(t, td.Admin, "POST", "/api/v1/queues", queueRequest{ID: "billing"}, 201)
	td.tokenFor(t, "ana", RoleAgent, "billing")
	td.mustCall(t, td.Admin, "PUT", "/api/v1/settings/features/queues/billing/sentiment", map[string]any{"enabled": false}, 200)
	td.mustCall(t, td.Admin, "DELETE", "/api/v1/users/ana", nil, 204)
	// A refused change is not audited as done.
	td.call(t, td.Admin, "POST", "/api/v1/queues", `{"id":"Bad Id"}`)
	entries, err := td.store.QueryAudit(t.Context(), store.AuditQuery{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		if e.Actor == "admin" {
			got = append(got, e.Action+" "+e.Target)
		}
	}
	want := []string{"queue.create queue:billing", "user.create user:ana", "token.create token:", "feature.set /api/v1/settings/features/queues/billing/sentiment", "user.delete user:ana"}
	if len(got) != len(want) {
		t.Fatalf("audit actions = %q, want %q", got, want)
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("audit[%d] = %q, want prefix %q", i, got[i], want[i])
		}
	}
	if rep, err := td.store.VerifyAudit(t.Context()); err != nil || rep.Entries < 6 {
		t.Errorf("VerifyAudit = %+v, %v", rep, err)
	}
}
