package sip

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
)

var errAuth = errors.New("sip: authentication failed")

// nonceLifetime bounds the age of a digest nonce.
const nonceLifetime = 5 * time.Minute

// newNonce returns a nonce carrying its creation time, signed with the
// server secret: no state is kept per challenge.
func (s *Server) newNonce(now time.Time) string {
	return s.newNonceAt(strconv.FormatInt(now.Unix(), 16))
}

func (s *Server) nonceValid(n string, now time.Time) bool {
	ts, _, ok := strings.Cut(n, ".")
	if !ok || !hmac.Equal([]byte(n), []byte(s.newNonceAt(ts))) {
		return false
	}
	sec, err := strconv.ParseInt(ts, 16, 64)
	return err == nil && now.Sub(time.Unix(sec, 0)) < nonceLifetime && now.Unix() >= sec-5
}

func (s *Server) newNonceAt(ts string) string {
	mac := hmac.New(sha256.New, s.secret[:])
	mac.Write([]byte(ts))
	return ts + "." + hex.EncodeToString(mac.Sum(nil)[:16])
}

func md5hex(parts ...string) string {
	h := md5.Sum([]byte(strings.Join(parts, ":")))
	return hex.EncodeToString(h[:])
}

// authorize checks digest credentials (RFC 3261 section 22, RFC 2617 MD5)
// when users are configured; false after it sent 401 or 403.
func (s *Server) authorize(req *sipmsg.Request, tx sipmsg.ServerTransaction) bool {
	if len(s.cfg.DigestUsers) == 0 {
		return true
	}
	now := time.Now()
	h := req.GetHeader("Authorization")
	challenge := func(stale bool) {
		v := fmt.Sprintf(`Digest realm="%s", nonce="%s", algorithm=MD5, qop="auth"`, s.cfg.DigestRealm, s.newNonce(now))
		if stale {
			v += ", stale=true"
		}
		s.respond(req, tx, 401, "Unauthorized", "auth_required", nil, sipmsg.NewHeader("WWW-Authenticate", v))
	}
	if h == nil {
		challenge(false)
		return false
	}
	cr, err := digest.ParseCredentials(h.Value())
	if err != nil {
		s.respond(req, tx, 403, "Forbidden", "auth_failed", fmt.Errorf("%w: unreadable Authorization header", errAuth))
		return false
	}
	if !s.nonceValid(cr.Nonce, now) {
		challenge(true)
		return false
	}
	pass, ok := s.cfg.DigestUsers[cr.Username]
	if !ok || cr.Realm != s.cfg.DigestRealm || (cr.Algorithm != "" && !strings.EqualFold(cr.Algorithm, "MD5")) {
		s.respond(req, tx, 403, "Forbidden", "auth_failed", fmt.Errorf("%w: unknown user or realm", errAuth))
		return false
	}
	ha1 := md5hex(cr.Username, cr.Realm, pass)
	ha2 := md5hex(string(req.Method), cr.URI)
	want := md5hex(ha1, cr.Nonce, ha2)
	if cr.QOP != "" {
		want = md5hex(ha1, cr.Nonce, fmt.Sprintf("%08x", cr.Nc), cr.Cnonce, cr.QOP, ha2)
	}
	if subtle.ConstantTimeCompare([]byte(want), []byte(strings.ToLower(cr.Response))) != 1 {
		s.respond(req, tx, 403, "Forbidden", "auth_failed", fmt.Errorf("%w: wrong credentials for user %q", errAuth, cr.Username))
		return false
	}
	return true
}
