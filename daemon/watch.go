package daemon

import (
	"sync"
	"time"
)

// Long-lived connections (the chat WebSocket, the widget's connection)
// re-check who is on the other end when what they may do changes. A
// changeNotifier is the signal: each change closes the current channel and
// opens a new one; a connection waits on C() and re-checks its principal
// (token, user, role, queues; for the widget: the bot's key, publication,
// origins and the virtual_agent feature) when it closes, and every
// recheckInterval in any case (tokens expire without a change).
//
// The daemon notifies after every successful change of tokens, users,
// queues and feature settings (api.go's wrap, by route) and after every
// change of a bot.
type changeNotifier struct {
	mu sync.Mutex
	// +checklocks:mu
	ch chan struct{}
}

// recheckInterval bounds how long an expired token keeps a connection.
const recheckInterval = 30 * time.Second

func newChangeNotifier() *changeNotifier { return &changeNotifier{ch: make(chan struct{})} }

// C is closed at the next change.
func (n *changeNotifier) C() <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.ch
}

// Notify signals a change.
func (n *changeNotifier) Notify() {
	n.mu.Lock()
	close(n.ch)
	n.ch = make(chan struct{})
	n.mu.Unlock()
}

// principalRoutes are the routes whose successful changes can change what
// a principal may do.
var principalRoutes = map[string]bool{
	"PUT /api/v1/users/{id}": true, "DELETE /api/v1/users/{id}": true, "DELETE /api/v1/tokens/{id}": true,
	"DELETE /api/v1/queues/{id}":                                true,
	"PUT /api/v1/settings/features/account/{feature}":           true,
	"PUT /api/v1/settings/features/queues/{queue}/{feature}":    true,
	"PUT /api/v1/settings/features/users/{user}/{feature}":      true,
	"DELETE /api/v1/settings/features/account/{feature}":        true,
	"DELETE /api/v1/settings/features/queues/{queue}/{feature}": true,
	"DELETE /api/v1/settings/features/users/{user}/{feature}":   true,
}
