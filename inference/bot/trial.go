package bot

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"sync"
	"time"
)

// Trials holds test conversations with bots' drafts: an administrator
// tries a draft before publishing it. A trial lives in memory only (it
// is no engagement, nothing of it is stored), belongs to the user who
// started it, and is forgotten after it has been idle for the idle
// window; at most max are open at once.
type Trials struct {
	max  int
	idle time.Duration
	now  func() time.Time

	mu sync.Mutex
	// +checklocks:mu
	open map[string]*trial
}

type trial struct {
	bot   string
	owner string

	mu sync.Mutex // one turn at a time
	// +checklocks:mu
	sess *Session
	// +checklocks:mu
	last time.Time
}

// Errors of trials.
var (
	ErrTrialNotFound = errors.New("bot: no such test conversation (it ended, expired or belongs to someone else)")
	ErrTrialsFull    = errors.New("bot: too many test conversations open")
)

// NewTrials returns an empty set of at most max trials, each forgotten
// after idle without a message.
func NewTrials(max int, idle time.Duration) *Trials {
	return &Trials{max: max, idle: idle, now: time.Now, open: map[string]*trial{}}
}

// Start opens a trial of e for owner and returns its ID and the
// greeting. Expired trials are dropped first.
func (ts *Trials) Start(botID, owner string, e *Engine) (string, Turn, error) {
	now := ts.now()
	ts.mu.Lock()
	defer ts.mu.Unlock()
	ts.expire(now)
	if len(ts.open) >= ts.max {
		return "", Turn{}, ErrTrialsFull
	}
	var b [12]byte
	rand.Read(b[:])
	id := "try_" + hex.EncodeToString(b[:])
	s := e.NewSession(id, now)
	tr := &trial{bot: botID, owner: owner, sess: s, last: now}
	ts.open[id] = tr
	return id, s.Greeting(), nil
}

// Say hands the customer's text to trial id of bot botID owned by owner
// and returns the bot's turn. A trial whose conversation ended (handed
// over or closed) answers nothing more and is forgotten.
func (ts *Trials) Say(ctx context.Context, botID, owner, id, text string) (Turn, error) {
	now := ts.now()
	ts.mu.Lock()
	ts.expire(now)
	tr, ok := ts.open[id]
	ts.mu.Unlock()
	if !ok || tr.bot != botID || tr.owner != owner {
		return Turn{}, ErrTrialNotFound
	}
	tr.mu.Lock()
	t := tr.sess.Handle(ctx, Input{Text: text, Time: now})
	tr.last = now
	active := tr.sess.Active()
	tr.mu.Unlock()
	if !active {
		ts.mu.Lock()
		delete(ts.open, id)
		ts.mu.Unlock()
	}
	return t, nil
}

// End forgets trial id of bot botID owned by owner.
func (ts *Trials) End(botID, owner, id string) error {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	tr, ok := ts.open[id]
	if !ok || tr.bot != botID || tr.owner != owner {
		return ErrTrialNotFound
	}
	delete(ts.open, id)
	return nil
}

// Forget drops every trial of a bot (its draft changed, or it was
// deleted).
func (ts *Trials) Forget(botID string) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	for id, tr := range ts.open {
		if tr.bot == botID {
			delete(ts.open, id)
		}
	}
}

// Len is the number of open trials.
func (ts *Trials) Len() int {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return len(ts.open)
}

// +checklocks:ts.mu
func (ts *Trials) expire(now time.Time) {
	for id, tr := range ts.open {
		if !tr.mu.TryLock() {
			continue // in a turn: not idle
		}
		idle := now.Sub(tr.last) > ts.idle
		tr.mu.Unlock()
		if idle {
			delete(ts.open, id)
		}
	}
}
