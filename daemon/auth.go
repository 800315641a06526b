package daemon

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/earshot/earshot/store"
)

// tokenPrefix starts every API token secret, so that secret scanners and
// operators can recognise one.
const tokenPrefix = "es_"

// AdminTokenFile is the file, inside the data directory, where the first
// start writes the bootstrap administrator's token.
const AdminTokenFile = "admin.token"

// Principal is the authenticated caller of a request.
type Principal struct {
	User  store.User
	Token store.Token
}

// Role is the caller's role.
func (p *Principal) Role() Role { return Role(p.User.Role) }

// InQueue reports whether the caller is scoped to queue q (admins are
// scoped to every queue).
func (p *Principal) InQueue(q string) bool {
	return p.Role() == RoleAdmin || slices.Contains(p.User.Queues, q)
}

type principalKey struct{}

// PrincipalFrom returns the caller of a request that passed authentication.
func PrincipalFrom(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}

// newSecret returns a fresh token secret and an ID for it.
func newSecret() (id, secret string) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	var idb [8]byte
	_, _ = rand.Read(idb[:])
	return "tok_" + hex.EncodeToString(idb[:]), tokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
}

// issueToken creates a token for an existing user (tmpl names the user and
// the token, and may narrow an ingest token's queues and sources) and
// returns its secret, which is never stored.
func issueToken(ctx context.Context, st *store.Store, tmpl store.Token, ttl time.Duration, audit ...store.AuditEntry) (store.Token, string, error) {
	id, secret := newSecret()
	now := time.Now().UTC()
	t := store.Token{ID: id, UserID: tmpl.UserID, Name: tmpl.Name, Hash: store.HashSecret(secret), CreatedAt: now,
		Queues: tmpl.Queues, Sources: tmpl.Sources}
	if ttl > 0 {
		t.ExpiresAt = now.Add(ttl)
	}
	for i := range audit {
		audit[i].Target = "token:" + id
	}
	if err := st.CreateToken(ctx, t, audit...); err != nil {
		return store.Token{}, "", err
	}
	return t, secret, nil
}

// authenticate resolves the bearer token of r; reason says why it failed.
// With queryToken, a request without an Authorization header may carry the
// token as ?access_token=.
func authenticate(st *store.Store, r *http.Request, now time.Time, queryToken bool) (p *Principal, reason string) {
	h := r.Header.Get("Authorization")
	if h == "" && queryToken && r.URL.Query().Get("access_token") != "" {
		h = "Bearer " + r.URL.Query().Get("access_token")
	}
	if h == "" {
		return nil, "missing"
	}
	scheme, secret, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || !strings.HasPrefix(secret, tokenPrefix) || len(secret) > 128 || strings.ContainsAny(secret, " \t") {
		return nil, "malformed"
	}
	t, err := st.TokenByHash(store.HashSecret(secret))
	if err != nil {
		return nil, "unknown"
	}
	return principalFor(st, t, now)
}

// principalFor checks a stored token at now and returns its principal,
// or why it does not authenticate (revoked, expired, disabled).
func principalFor(st *store.Store, t store.Token, now time.Time) (p *Principal, reason string) {
	if t.Revoked() {
		return nil, "revoked"
	}
	if !t.ExpiresAt.IsZero() && now.After(t.ExpiresAt) {
		return nil, "expired"
	}
	u, err := st.User(t.UserID)
	if err != nil || u.Disabled {
		return nil, "disabled"
	}
	return &Principal{User: u, Token: t}, ""
}

// The ingest sources a token may be narrowed to. SIP calls carry no token:
// the SIP section of the configuration says which queues they may feed.
const (
	sourceAPI       = "api" // engagements and chat messages through the engagements API
	sourceWHIP      = "whip"
	sourceWebSocket = "websocket"
	sourceUpload    = "upload"
)

var ingestSources = []string{sourceAPI, sourceWHIP, sourceWebSocket, sourceUpload}

// errFeedScope refuses an engagement outside the caller's ingest scope.
var errFeedScope = errors.New("outside the token's ingest scope")

// mayFeed reports whether p may start or feed engagements of queue through
// source: administrators any; an ingest user the queues it belongs to,
// narrowed by its token's queues and sources; nobody else.
func (p *Principal) mayFeed(queue, source string) error {
	switch p.Role() {
	case RoleAdmin:
		return nil
	case RoleIngest:
	default:
		return errFeedScope
	}
	if !slices.Contains(p.User.Queues, queue) ||
		len(p.Token.Queues) > 0 && !slices.Contains(p.Token.Queues, queue) ||
		len(p.Token.Sources) > 0 && !slices.Contains(p.Token.Sources, source) {
		return errFeedScope
	}
	return nil
}

// bootstrapAdmin makes sure an administrator can reach a new installation:
// when no enabled admin user with a live token exists, it creates the user
// "admin" and a token, and writes the token to <dataDir>/admin.token (0600).
// It returns the file's path, or "" when nothing was needed.
func bootstrapAdmin(st *store.Store, dataDir string) (string, error) {
	ctx := context.Background()
	users, err := st.Users(ctx)
	if err != nil {
		return "", err
	}
	tokens, err := st.Tokens(ctx)
	if err != nil {
		return "", err
	}
	admins := map[string]bool{}
	for _, u := range users {
		if u.Role == string(RoleAdmin) && !u.Disabled {
			admins[u.ID] = true
		}
	}
	now := time.Now().UTC()
	for _, t := range tokens {
		if admins[t.UserID] && !t.Revoked() && (t.ExpiresAt.IsZero() || now.Before(t.ExpiresAt)) {
			return "", nil
		}
	}
	if _, err := st.User("admin"); errors.Is(err, store.ErrNotFound) {
		if err := st.CreateUser(ctx, store.User{ID: "admin", DisplayName: "Bootstrap administrator", Role: string(RoleAdmin), CreatedAt: now, UpdatedAt: now}); err != nil {
			return "", fmt.Errorf("daemon: create bootstrap admin: %w", err)
		}
	} else if err != nil {
		return "", err
	} else {
		u, _ := st.User("admin")
		u.Role, u.Disabled, u.UpdatedAt = string(RoleAdmin), false, now
		if err := st.UpdateUser(ctx, u); err != nil {
			return "", fmt.Errorf("daemon: restore bootstrap admin: %w", err)
		}
	}
	_, secret, err := issueToken(ctx, st, store.Token{UserID: "admin", Name: "bootstrap"}, 0, store.AuditEntry{Actor: "system", Action: "token.create", Detail: map[string]string{"reason": "bootstrap administrator"}})
	if err != nil {
		return "", fmt.Errorf("daemon: create bootstrap token: %w", err)
	}
	path := filepath.Join(dataDir, AdminTokenFile)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(secret+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("daemon: write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", fmt.Errorf("daemon: write %s: %w", path, err)
	}
	return path, nil
}

func contextWithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}
