package daemon

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/earshot/earshot/store"
)

// Long-lived connections and revocation.
//
// A request is authenticated once, when it arrives; a connection that
// outlives it (an event stream, a WebSocket media stream, a WHIP session,
// an upload being processed) must not outlive its caller's access. Every
// such connection calls holdPrincipal with the roles of its route and its
// own scope check, runs under the context it returns, and ends when that
// context is done (guard.Withdrawn tells a withdrawal from a normal end).
// Every successful change made through an administrator-only route (a
// token revoked, a user's role, queues or disabled state changed, a queue
// deleted, engagements purged) calls d.guard.Changed in wrap, which
// re-runs every check before the next request of that administrator; the
// token's expiry and a periodic sweep withdraw the rest. The console, the
// chat WebSocket and the widget use the same call.

// holdPrincipal registers a long-lived connection of p (kind names it in
// metrics) and returns the context it runs under, cancelled with cause
// guard.ErrWithdrawn as soon as the token no longer authenticates, the
// user's role is no longer one of roles, or still (the connection's own
// scope check, run with the re-read principal; nil for none) fails.
func (d *Daemon) holdPrincipal(parent context.Context, kind string, p *Principal, roles []Role, still func(ctx context.Context, fresh *Principal) error) (context.Context, func()) {
	tokenID := p.Token.ID
	check := func(ctx context.Context) error {
		t, err := d.store.Token(tokenID)
		if err != nil {
			return fmt.Errorf("token %s: %w", tokenID, err)
		}
		fresh, reason := principalFor(d.store, t, time.Now())
		if fresh == nil {
			return fmt.Errorf("token %s: %s", tokenID, reason)
		}
		if !slices.Contains(roles, fresh.Role()) {
			return fmt.Errorf("user %s: role %s", fresh.User.ID, fresh.Role())
		}
		if still != nil {
			return still(ctx, fresh)
		}
		return nil
	}
	return d.guard.Hold(parent, kind, p.Token.ExpiresAt, check)
}

// changesAccess reports whether a successful call of rt may change who
// may do what, so that long-lived connections are checked again: every
// change through an administrator-only route does.
func (rt route) changesAccess(method string) bool {
	return method != http.MethodGet && slices.Equal(rt.Roles, adminOnly)
}

// currentEngagement reads an engagement as it is now: from the hub while
// it is held there, else from the store (a purged one is not found).
func (d *Daemon) currentEngagement(ctx context.Context, id string) (store.Engagement, error) {
	if l, ok := d.hub.Get(id); ok {
		return l.Engagement(), nil
	}
	return d.store.Engagement(ctx, id)
}

// errOutOfScope is the check failure of a connection whose engagement
// left the caller's scope.
var errOutOfScope = errors.New("engagement outside the caller's scope")

// stillSees is the scope check of a reader of engagement id.
func (d *Daemon) stillSees(id string) func(context.Context, *Principal) error {
	return func(ctx context.Context, fresh *Principal) error {
		e, err := d.currentEngagement(ctx, id)
		if err != nil {
			return fmt.Errorf("engagement %s: %w", id, err)
		}
		if !fresh.canSee(e) {
			return errOutOfScope
		}
		return nil
	}
}

// feedConn is one ingest connection (a WebSocket stream, a WHIP session
// being set up): the daemon's route handler puts it in the request's
// context, the opener records the engagement it opened, and the
// connection's check reads its queue.
type feedConn struct {
	source string
	mu     sync.Mutex
	// +checklocks:mu
	eng *ingestEngagement
}

type feedConnKey struct{}

func withFeedConn(ctx context.Context, fc *feedConn) context.Context {
	return context.WithValue(ctx, feedConnKey{}, fc)
}

func feedConnFrom(ctx context.Context) *feedConn {
	fc, _ := ctx.Value(feedConnKey{}).(*feedConn)
	return fc
}

func (fc *feedConn) set(e *ingestEngagement) {
	fc.mu.Lock()
	fc.eng = e
	fc.mu.Unlock()
}

func (fc *feedConn) engagement() *ingestEngagement {
	fc.mu.Lock()
	defer fc.mu.Unlock()
	return fc.eng
}

// stillFeeds is the scope check of an ingest connection: once it has an
// engagement, its caller must still be allowed to feed that queue.
func (fc *feedConn) stillFeeds(_ context.Context, fresh *Principal) error {
	if e := fc.engagement(); e != nil {
		return fresh.mayFeed(e.live.Engagement().Queue, fc.source)
	}
	return nil
}
