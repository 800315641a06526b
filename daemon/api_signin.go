package daemon

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/earshot/earshot/daemon/api"
	"github.com/earshot/earshot/store"
)

// One-time sign-in links. An administrator creates a link for a user; it
// carries a code (never a bearer token) in the URL's fragment, which
// browsers do not send to servers or in Referer headers. The console
// removes the code from the address bar and exchanges it, once, for a
// console session token.
//
// A code is stored like a token: a record in the token bucket holding only
// the SHA-256 of the code, with its expiry, so that the tokens list shows
// outstanding links and revoking one works as for any token. Its secret
// starts with signInCodePrefix, not tokenPrefix, so authenticate never
// accepts a code as a bearer token and the exchange never accepts a token
// as a code. Redeeming revokes the code record.
const (
	signInCodePrefix = "esl_"
	// signInLinkName names a code's record in the tokens list.
	signInLinkName = "sign-in link"
	// signInSessionName names the session token a code was exchanged for.
	signInSessionName = "console session"
	// defaultSignInTTL is how long a link is valid when the request does
	// not say; maxSignInTTL is the longest an administrator may ask for.
	defaultSignInTTL = 15 * time.Minute
	maxSignInTTL     = 24 * time.Hour
	// signInSessionTTL is how long the session token of a redeemed link
	// lives: a working day, after which the user asks for a new link.
	signInSessionTTL = 12 * time.Hour
	// consoleSignInPath is the console address a code is appended to.
	consoleSignInPath = "/console/#sign-in="
)

type (
	signInLinkRequest = api.SignInLinkRequest
	signInLinkView    = api.SignInLink
	signInRequest     = api.SignInRequest
	signInView        = api.SignInSession
)

func (d *Daemon) signInRoutes() []route {
	return []route{
		{"POST", "/api/v1/sign-in-links", adminOnly, "Create a one-time sign-in link for a user; the code is shown once", d.createSignInLink},
		{"POST", "/api/v1/sign-in", nil, "Exchange a sign-in link's one-time code for a console session token", d.signIn},
	}
}

// newSignInCode returns a fresh one-time code and an ID for its record.
func newSignInCode() (id, code string) {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand never fails on Linux
	var idb [8]byte
	_, _ = rand.Read(idb[:])
	return "tok_" + hex.EncodeToString(idb[:]), signInCodePrefix + base64.RawURLEncoding.EncodeToString(b[:])
}

func (d *Daemon) createSignInLink(w http.ResponseWriter, r *http.Request, p *Principal) {
	var req signInLinkRequest
	if !d.decodeJSON(w, r, &req) {
		return
	}
	ttl := defaultSignInTTL
	if req.ExpiresIn != "" {
		var err error
		if ttl, err = time.ParseDuration(req.ExpiresIn); err != nil || ttl <= 0 || ttl > maxSignInTTL {
			d.badRequest(w, r, 400, "expires_in must be a duration between 1s and 24h, such as 15m", "expires_in")
			return
		}
	}
	if req.UserID == "" {
		d.badRequest(w, r, 400, "user_id is required", "user_id")
		return
	}
	u, err := d.store.User(req.UserID)
	if err != nil {
		d.badRequest(w, r, 400, "unknown user "+req.UserID, "user_id")
		return
	}
	if u.Disabled || Role(u.Role) == RoleIngest {
		d.badRequest(w, r, 400, "user "+u.ID+" cannot sign in to the console (disabled, or an ingest user)", "user_id")
		return
	}
	id, code := newSignInCode()
	now := time.Now().UTC()
	t := store.Token{ID: id, UserID: u.ID, Name: signInLinkName, Hash: store.HashSecret(code), CreatedAt: now, ExpiresAt: now.Add(ttl)}
	if err := d.store.CreateToken(r.Context(), t, auditEntry(r, p, "sign_in_link.create", "token:"+id)); err != nil {
		d.storeError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, signInLinkView{ID: id, UserID: u.ID, Code: code, Path: consoleSignInPath + code, ExpiresAt: t.ExpiresAt})
}

// errSignInCode is the one answer to a code that does not sign in, whether
// unknown, used, revoked, expired or its user disabled.
const errSignInCode = "the sign-in code is not valid: it may be used, expired or revoked; ask an administrator for a new link"

func (d *Daemon) signIn(w http.ResponseWriter, r *http.Request, _ *Principal) {
	var req signInRequest
	if !d.decodeJSON(w, r, &req) {
		return
	}
	if !strings.HasPrefix(req.Code, signInCodePrefix) || len(req.Code) > 128 {
		d.badRequest(w, r, 400, "code must be the code of a sign-in link ("+signInCodePrefix+"…)", "code")
		return
	}
	// One exchange at a time, so that a code is redeemed once even when
	// two requests carry it together.
	d.signInMu.Lock()
	defer d.signInMu.Unlock()
	now := time.Now().UTC()
	link, err := d.store.TokenByHash(store.HashSecret(req.Code))
	if err != nil || link.Name != signInLinkName {
		writeProblemField(w, r, http.StatusUnauthorized, "sign-in-code", errSignInCode, "code")
		return
	}
	p, _ := principalFor(d.store, link, now)
	if p == nil || Role(p.User.Role) == RoleIngest {
		writeProblemField(w, r, http.StatusUnauthorized, "sign-in-code", errSignInCode, "code")
		return
	}
	redeem := store.AuditEntry{Actor: p.User.ID, Action: "sign_in_link.redeem", Target: "token:" + link.ID}
	if err := d.store.RevokeToken(r.Context(), link.ID, now, redeem); err != nil {
		d.storeError(w, r, err)
		return
	}
	session, secret, err := issueToken(r.Context(), d.store, store.Token{UserID: p.User.ID, Name: signInSessionName}, signInSessionTTL,
		store.AuditEntry{Actor: p.User.ID, Action: "token.create", Detail: map[string]string{"sign_in_link": link.ID}})
	if err != nil {
		if errors.Is(err, store.ErrNotFound) { // the user was deleted meanwhile
			writeProblemField(w, r, http.StatusUnauthorized, "sign-in-code", errSignInCode, "code")
			return
		}
		d.storeError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, signInView{Token: secret, TokenID: session.ID, ExpiresAt: session.ExpiresAt, User: viewUser(p.User)})
}
