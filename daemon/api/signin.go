package api

import "time"

// SignInLinkRequest is the body of POST /sign-in-links.
type SignInLinkRequest struct {
	UserID string `json:"user_id"`
	// ExpiresIn is a Go duration ("15m", at most "24h"); empty means 15m.
	ExpiresIn string `json:"expires_in"`
}

// SignInLink is a created one-time sign-in link. Code (and Path, which
// carries it) appear only in this answer: the daemon stores the code's
// hash.
type SignInLink struct {
	ID        string    `json:"id"` // the link's record in the tokens list
	UserID    string    `json:"user_id"`
	Code      string    `json:"code"`
	Path      string    `json:"path"` // the console address with the code in its fragment
	ExpiresAt time.Time `json:"expires_at"`
}

// SignInRequest is the body of POST /sign-in.
type SignInRequest struct {
	Code string `json:"code"`
}

// SignInSession is the console session a sign-in code was exchanged for.
type SignInSession struct {
	Token     string    `json:"token"`
	TokenID   string    `json:"token_id"`
	ExpiresAt time.Time `json:"expires_at"`
	User      User      `json:"user"`
}
