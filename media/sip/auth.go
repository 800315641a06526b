package sip

import (
	"crypto/hmac"
	"crypto/md5" // #nosec G501 -- SIP digest authentication requires MD5 (RFC 3261)
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
)

// errAuth is the one cause every failed authentication reports to the
// client: an unknown user, a wrong password, another realm, a request URI
// that does not match, and a broken header read the same.
var errAuth = errors.New("sip: authentication failed")

// nonceLifetime bounds the age of a digest nonce.
const nonceLifetime = 5 * time.Minute

// maxNonces bounds the nonces remembered; the oldest go first (a client
// holding one gets a new challenge).
const maxNonces = 4096

// nonces remembers the digest nonces the server issued and what each has
// been used for, so that a captured Authorization header cannot be used
// again: with qop, each use must carry a higher nonce count than the last;
// without qop, a nonce is good once.
type nonces struct {
	mu sync.Mutex
	// +checklocks:mu
	byNonce map[string]*nonceUse
	// order holds the nonces in the order they were issued.
	// +checklocks:mu
	order []string
}

type nonceUse struct {
	issued time.Time
	nc     uint64 // the highest nonce count accepted; 0 before the first use
	used   bool
}

func newNonces() *nonces { return &nonces{byNonce: map[string]*nonceUse{}} }

// issue records a new nonce, forgetting expired ones and, beyond
// maxNonces, the oldest.
func (n *nonces) issue(nonce string, now time.Time) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.byNonce[nonce] = &nonceUse{issued: now}
	n.order = append(n.order, nonce)
	for len(n.order) > 0 {
		old := n.byNonce[n.order[0]]
		if len(n.byNonce) <= maxNonces && old != nil && now.Sub(old.issued) < nonceLifetime {
			break
		}
		delete(n.byNonce, n.order[0])
		n.order = n.order[1:]
	}
}

// nonceState is what a presented nonce is.
type nonceState int

const (
	nonceFresh  nonceState = iota // issued, unexpired, this count not used
	nonceStale                    // unknown (expired, forgotten, or not ours)
	nonceReplay                   // its count was used already
)

// check tells whether a nonce may be used with nonce count nc (0 without
// qop); use records the use once the credentials have been verified.
func (n *nonces) check(nonce string, nc uint64, now time.Time) nonceState {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.stateLocked(nonce, nc, now)
}

// +checklocks:n.mu
func (n *nonces) stateLocked(nonce string, nc uint64, now time.Time) nonceState {
	u := n.byNonce[nonce]
	switch {
	case u == nil || now.Sub(u.issued) >= nonceLifetime:
		return nonceStale
	case nc == 0 && u.used, nc != 0 && nc <= u.nc:
		return nonceReplay
	}
	return nonceFresh
}

// use records a verified use; false if another request used the same
// count meanwhile.
func (n *nonces) use(nonce string, nc uint64, now time.Time) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.stateLocked(nonce, nc, now) != nonceFresh {
		return false
	}
	u := n.byNonce[nonce]
	u.used = true
	u.nc = max(u.nc, nc)
	return true
}

// newNonce returns a nonce carrying its creation time, signed with the
// server secret, and remembers it.
func (s *Server) newNonce(now time.Time) string {
	n := s.newNonceAt(strconv.FormatInt(now.UnixNano(), 16))
	s.nonces.issue(n, now)
	return n
}

// nonceSigned reports whether a nonce carries the server's signature (a
// cheap check before the nonce table).
func (s *Server) nonceSigned(n string) bool {
	ts, _, ok := strings.Cut(n, ".")
	return ok && hmac.Equal([]byte(n), []byte(s.newNonceAt(ts)))
}

func (s *Server) newNonceAt(ts string) string {
	mac := hmac.New(sha256.New, s.secret[:])
	mac.Write([]byte(ts))
	return ts + "." + hex.EncodeToString(mac.Sum(nil)[:16])
}

func md5hex(parts ...string) string {
	h := md5.Sum([]byte(strings.Join(parts, ":"))) // #nosec G401 -- SIP digest authentication is MD5 by RFC 3261/2617; nonces are single-use
	return hex.EncodeToString(h[:])
}

// sameURI reports whether the digest's uri names the request's
// Request-URI (scheme, user, host and port; parameters aside).
func sameURI(digestURI string, r sipmsg.Uri) bool {
	var u sipmsg.Uri
	if err := sipmsg.ParseUri(digestURI, &u); err != nil {
		return false
	}
	return strings.EqualFold(u.Scheme, r.Scheme) && u.User == r.User && strings.EqualFold(u.Host, r.Host) && u.Port == r.Port
}

// authorize checks digest credentials (RFC 3261 section 22, RFC 2617 MD5)
// when users are configured; false after it sent 401 or 403. Every
// failure of the credentials themselves gets the same 403; a stale or
// replayed nonce gets a new challenge.
func (s *Server) authorize(req *sipmsg.Request, tx sipmsg.ServerTransaction) bool {
	if len(s.cfg.DigestUsers) == 0 {
		return true
	}
	now := time.Now()
	h := req.GetHeader("Authorization")
	challenge := func(stale bool, reason string) {
		v := fmt.Sprintf(`Digest realm="%s", nonce="%s", algorithm=MD5, qop="auth"`, s.cfg.DigestRealm, s.newNonce(now))
		if stale {
			v += ", stale=true"
		}
		s.respond(req, tx, 401, "Unauthorized", reason, nil, sipmsg.NewHeader("WWW-Authenticate", v))
	}
	if h == nil {
		challenge(false, "auth_required")
		return false
	}
	// why is logged, never sent: the client learns only that it failed.
	fail := func(why string) bool {
		s.log.Warn("SIP authentication failed", "call_id", callID(req), "remote", req.Source(), "why", why)
		s.respond(req, tx, 403, "Forbidden", "auth_failed", errAuth)
		return false
	}
	cr, err := digest.ParseCredentials(h.Value())
	if err != nil {
		return fail("unreadable Authorization header")
	}
	nc := uint64(0)
	if cr.QOP != "" {
		if !strings.EqualFold(cr.QOP, "auth") || cr.Nc <= 0 || cr.Cnonce == "" {
			return fail("qop, nc or cnonce not usable")
		}
		nc = uint64(cr.Nc)
	}
	if !s.nonceSigned(cr.Nonce) {
		challenge(true, "auth_stale")
		return false
	}
	switch s.nonces.check(cr.Nonce, nc, now) {
	case nonceStale:
		challenge(true, "auth_stale")
		return false
	case nonceReplay:
		challenge(true, "auth_replay")
		return false
	}
	pass, known := s.cfg.DigestUsers[cr.Username]
	if !known {
		// The same work as for a known user, so that timing does not tell
		// the two apart.
		pass = s.dummyPassword
	}
	ha1 := md5hex(cr.Username, cr.Realm, pass)
	ha2 := md5hex(string(req.Method), cr.URI)
	want := md5hex(ha1, cr.Nonce, ha2)
	if cr.QOP != "" {
		want = md5hex(ha1, cr.Nonce, fmt.Sprintf("%08x", cr.Nc), cr.Cnonce, cr.QOP, ha2)
	}
	match := subtle.ConstantTimeCompare([]byte(want), []byte(strings.ToLower(cr.Response))) == 1
	switch {
	case !known:
		return fail("unknown user")
	case cr.Realm != s.cfg.DigestRealm || (cr.Algorithm != "" && !strings.EqualFold(cr.Algorithm, "MD5")):
		return fail("another realm or algorithm")
	case !match:
		return fail(fmt.Sprintf("wrong credentials for user %q", cr.Username))
	case !sameURI(cr.URI, req.Recipient):
		return fail("digest uri differs from the Request-URI")
	case !s.nonces.use(cr.Nonce, nc, now):
		challenge(true, "auth_replay")
		return false
	}
	return true
}
