package tts

import (
	"context"
	"sync"
	"sync/atomic"
)

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
	stop   atomic.Bool
}

// Stop tells the producer that nobody is listening any more.
func (q *Queue) Stop() { q.stop.Store(true) }

// Stopped reports whether the consumer stopped; a producer checks it (in
// an engine's audio callback) to abandon synthesis.
func (q *Queue) Stopped() bool { return q.stop.Load() }

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

// Stream is the skeleton of a streaming engine: speak synthesises each
// sentence in turn on a goroutine of its own (holding whatever lock its
// engine needs), pushing samples at the engine's native rate into q and
// checking q.Stopped() and ctx between pieces; the chunks reach fn on the
// caller's goroutine at outRate, so a slow receiver never holds an
// engine's lock. inRate reports the native rate once the first samples
// were pushed. Stream returns when every sentence was spoken and handed
// on, or with ctx's, speak's or fn's error; the goroutine has ended by
// then.
func Stream(ctx context.Context, sentences []string, speak func(sentence string, q *Queue) error,
	inRate func() int, outRate int, fn func([]int16) error) error {
	q := NewQueue()
	done := make(chan struct{})
	go func() {
		defer close(done)
		var err error
		for _, s := range sentences {
			if err = ctx.Err(); err != nil || q.Stopped() {
				break
			}
			if err = speak(s, q); err != nil {
				break
			}
		}
		if err == nil {
			err = ctx.Err()
		}
		q.Close(err)
	}()
	err := q.drain(ctx, inRate, outRate, fn)
	if err != nil {
		q.Stop()
	}
	<-done
	return err
}

func (q *Queue) drain(ctx context.Context, inRate func() int, outRate int, fn func([]int16) error) error {
	var out *Output
	for {
		chunks, done, err := q.Next()
		if done {
			if err != nil {
				return err
			}
			if out != nil {
				return out.Flush()
			}
			return nil
		}
		if out == nil {
			if out, err = NewOutput(inRate(), outRate, fn); err != nil {
				return err
			}
		}
		for _, c := range chunks {
			if err := ctx.Err(); err != nil {
				return err
			}
			if err := out.Write(c); err != nil {
				return err
			}
		}
	}
}
