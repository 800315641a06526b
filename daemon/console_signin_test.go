package daemon

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/earshot/earshot/store"
)

// The sign-in links' rows of the authorisation matrix (authz_test.go).
func init() {
	policy["POST /api/v1/sign-in-links"] = []Role{RoleAdmin}
	policy["POST /api/v1/sign-in"] = nil
	// The administrator exists in every test daemon (the matrix's and the
	// naming test's).
	matrixBodies["POST /api/v1/sign-in-links"] = signInLinkRequest{UserID: "admin"}
	matrixBodies["POST /api/v1/sign-in"] = signInRequest{Code: signInCodePrefix + "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}
	// Public: the matrix's code is not one (401 whatever the bearer token);
	// TestSignInLinks redeems real ones.
	publicRefusals["POST /api/v1/sign-in"] = true
	mediaInputRoutes["POST /api/v1/sign-in"] = true
	namingSkip["POST /api/v1/sign-in"] = "needs a fresh one-time code: TestSignInLinks checks its answer's names"
}

// TestSignInLinks creates one-time links and redeems them: a code signs in
// once, as its user, for a session that expires; it is never a bearer
// token, a token is never a code, and expired, revoked or disabled users'
// links do not sign in.
func TestSignInLinks(t *testing.T) {
	td := startDaemon(t, nil)
	td.mustCall(t, td.Admin, "POST", "/api/v1/queues", queueRequest{ID: "q1"}, 201)
	agentTok := td.tokenFor(t, "ann", RoleAgent, "q1")
	td.tokenFor(t, "feeder", RoleIngest, "q1")

	link := func(user, ttl string) signInLinkView {
		t.Helper()
		var l signInLinkView
		json.Unmarshal(td.mustCall(t, td.Admin, "POST", "/api/v1/sign-in-links", signInLinkRequest{UserID: user, ExpiresIn: ttl}, 201), &l)
		return l
	}
	l := link("ann", "")
	if !strings.HasPrefix(l.Code, signInCodePrefix) || l.Path != "/console/#sign-in="+l.Code {
		t.Fatalf("link = %+v", l)
	}
	if d := time.Until(l.ExpiresAt); d < 14*time.Minute || d > 15*time.Minute {
		t.Errorf("link expires in %s, want 15m", d)
	}
	// Stored hashed only.
	rec, err := td.store.Token(l.ID)
	if err != nil || string(rec.Hash) != string(store.HashSecret(l.Code)) || rec.Name != signInLinkName {
		t.Fatalf("stored link %+v, %v", rec, err)
	}
	// The code is not a bearer token.
	if code, _ := td.call(t, l.Code, "GET", "/api/v1/whoami", nil); code != 401 {
		t.Errorf("whoami with the code as bearer = %d, want 401", code)
	}
	// A bearer token is not a code.
	if code, body := td.call(t, "", "POST", "/api/v1/sign-in", signInRequest{Code: agentTok}); code != 400 || !strings.Contains(string(body), `"field":"code"`) {
		t.Errorf("sign-in with a bearer token = %d %s, want 400 naming code", code, body)
	}

	// Redeemed once, concurrently: exactly one exchange succeeds.
	var wg sync.WaitGroup
	codes := make([]int, 8)
	bodies := make([][]byte, 8)
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i], bodies[i] = td.call(t, "", "POST", "/api/v1/sign-in", signInRequest{Code: l.Code})
		}()
	}
	wg.Wait()
	var session signInView
	won := 0
	for i, c := range codes {
		switch c {
		case 200:
			won++
			json.Unmarshal(bodies[i], &session)
		case 401:
		default:
			t.Errorf("exchange = %d %s", c, bodies[i])
		}
	}
	if won != 1 {
		t.Fatalf("%d exchanges of one code succeeded, want 1 (%v)", won, codes)
	}
	for i, c := range codes {
		var v any
		json.Unmarshal(bodies[i], &v)
		walkJSON("", v, func(p, why string) { t.Errorf("sign-in answer %d: %s: %s", c, p, why) })
	}
	if session.User.ID != "ann" || session.User.Role != "agent" || !strings.HasPrefix(session.Token, tokenPrefix) {
		t.Fatalf("session = %+v", session)
	}
	if d := time.Until(session.ExpiresAt); d < 11*time.Hour || d > signInSessionTTL {
		t.Errorf("session expires in %s, want %s", d, signInSessionTTL)
	}
	var who struct {
		User    struct{ ID string }
		TokenID string `json:"token_id"`
	}
	json.Unmarshal(td.mustCall(t, session.Token, "GET", "/api/v1/whoami", nil, 200), &who)
	if who.User.ID != "ann" || who.TokenID != session.TokenID {
		t.Errorf("whoami with the session = %+v", who)
	}

	// Expired, revoked and disabled users' links do not sign in; an
	// ingest user gets none.
	expired := store.Token{ID: "tok_expiredlink", UserID: "ann", Name: signInLinkName, CreatedAt: time.Now().Add(-time.Hour)}
	expired.ExpiresAt = expired.CreatedAt.Add(time.Minute)
	expiredCode := signInCodePrefix + "expired-code-for-the-test"
	expired.Hash = store.HashSecret(expiredCode)
	if err := td.store.CreateToken(context.Background(), expired); err != nil {
		t.Fatal(err)
	}
	revoked := link("ann", "1h")
	td.mustCall(t, td.Admin, "DELETE", "/api/v1/tokens/"+revoked.ID, nil, 204)
	td.mustCall(t, td.Admin, "POST", "/api/v1/users", userRequest{ID: "bob", Role: "supervisor", Queues: []string{"q1"}}, 201)
	disabled := link("bob", "1h")
	td.mustCall(t, td.Admin, "PATCH", "/api/v1/users/bob", map[string]any{"disabled": true}, 200)
	for name, code := range map[string]string{"used": l.Code, "expired": expiredCode, "revoked": revoked.Code, "disabled user": disabled.Code} {
		if c, body := td.call(t, "", "POST", "/api/v1/sign-in", signInRequest{Code: code}); c != 401 || !strings.Contains(string(body), errSignInCode) {
			t.Errorf("%s link: exchange = %d %s, want 401", name, c, body)
		}
	}
	for _, bad := range []struct {
		req   signInLinkRequest
		field string
	}{
		{signInLinkRequest{UserID: "feeder"}, "user_id"},
		{signInLinkRequest{UserID: "nobody"}, "user_id"},
		{signInLinkRequest{}, "user_id"},
		{signInLinkRequest{UserID: "ann", ExpiresIn: "25h"}, "expires_in"},
		{signInLinkRequest{UserID: "ann", ExpiresIn: "soon"}, "expires_in"},
	} {
		if c, body := td.call(t, td.Admin, "POST", "/api/v1/sign-in-links", bad.req); c != 400 || !strings.Contains(string(body), `"field":"`+bad.field+`"`) {
			t.Errorf("link %+v = %d %s, want 400 naming %s", bad.req, c, body, bad.field)
		}
	}

	// Creating and redeeming are audited under the link's record.
	var entries []store.AuditEntry
	json.Unmarshal(td.mustCall(t, td.Admin, "GET", "/api/v1/audit?limit=500", nil, 200), &entries)
	seen := map[string]string{}
	for _, e := range entries {
		if e.Target == "token:"+l.ID {
			seen[e.Action] = e.Actor
		}
	}
	if seen["sign_in_link.create"] != "admin" || seen["sign_in_link.redeem"] != "ann" {
		t.Errorf("audit of the link = %v", seen)
	}
}
