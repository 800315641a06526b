package kb

import "slices"

// Scope is the set of queues whose articles a reader may receive. Articles
// without a queue are for every reader. The zero Scope admits only those,
// so a caller that forgets to say who reads gets less, never more.
type Scope struct {
	// All admits the articles of every queue (administrators).
	All bool
	// Queues admits the articles of these queues.
	Queues []string
}

// AllQueues is the scope of a reader who may see every article.
func AllQueues() Scope { return Scope{All: true} }

// QueueScope is the scope of a reader of the given queues; empty names
// are ignored.
func QueueScope(queues ...string) Scope {
	return Scope{Queues: slices.DeleteFunc(slices.Clone(queues), func(q string) bool { return q == "" })}
}

// Admits reports whether an article of queue (empty: every queue) is in
// the scope.
func (s Scope) Admits(queue string) bool {
	return queue == "" || s.All || slices.Contains(s.Queues, queue)
}

// Narrow restricts the scope to one queue: its articles and those for
// every queue. ok is false when the queue is outside the scope.
func (s Scope) Narrow(queue string) (narrowed Scope, ok bool) {
	if queue == "" || !s.Admits(queue) {
		return Scope{}, false
	}
	return QueueScope(queue), true
}
