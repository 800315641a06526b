package tts

import "sync"

// Queue carries sample chunks from an engine's synthesis thread to the
// goroutine that hands them to the caller, so that a slow receiver never
// stalls an engine shared with other calls while it holds the engine's
// lock. It holds at most one chunk of text's audio (engines synthesise
// text a sentence at a time), so it needs no bound of its own. Push and
// Close are called by the producer, Next by one consumer.
type Queue struct {
	mu     sync.Mutex
	chunks [][]int16
	closed bool
	err    error
	ready  chan struct{}
}

// NewQueue returns an empty queue.
func NewQueue() *Queue { return &Queue{ready: make(chan struct{}, 1)} }

// Push appends a chunk (the queue keeps it; the producer must not reuse it).
func (q *Queue) Push(pcm []int16) {
	q.mu.Lock()
	q.chunks = append(q.chunks, pcm)
	q.mu.Unlock()
	q.signal()
}

// Close ends the stream with err (nil when complete).
func (q *Queue) Close(err error) {
	q.mu.Lock()
	q.closed, q.err = true, err
	q.mu.Unlock()
	q.signal()
}

func (q *Queue) signal() {
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

// Next waits for chunks and returns those queued; done is true (with the
// producer's error) once the queue is closed and drained.
func (q *Queue) Next() (chunks [][]int16, done bool, err error) {
	for {
		q.mu.Lock()
		chunks, q.chunks = q.chunks, nil
		closed, err := q.closed, q.err
		q.mu.Unlock()
		if len(chunks) > 0 {
			return chunks, false, nil
		}
		if closed {
			return nil, true, err
		}
		<-q.ready
	}
}
