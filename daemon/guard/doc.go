// Package guard keeps long-lived connections honest about who is on the
// other end. A connection that outlives the request that authenticated it
// (an event stream, a WebSocket media stream, a WHIP session, an upload
// being processed; later the console, the chat WebSocket and the widget)
// registers a re-check with Hold and runs under the context Hold returns.
// Whenever something changes who may do what (a token revoked, a user's
// role, queues or disabled state changed, a queue deleted, engagements
// purged) the owner calls Changed: every connection's check runs again at
// once, and the context of each one that no longer passes is cancelled
// with ErrWithdrawn as its cause. A token's expiry cancels it too, and Run
// re-checks everything periodically as a safety net for changes nobody
// announced.
//
// The package knows nothing of tokens or roles: the check is the
// caller's. It decides; the connection's owner ends the connection when
// its context is done (closing the stream, the socket, the session).
package guard
