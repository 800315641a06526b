// Package jitter reorders the RTP packets of one stream within a small
// window, so that packets overtaken on the network are decoded in order
// instead of being dropped as late. WHIP tracks and SIP RTP streams use it.
//
// Packets in order pass straight through: the buffer adds no delay unless
// a sequence number is missing, and then at most Depth packets' worth
// while it waits for the missing one (or until the reader's idle flush).
// A gap still open when the window is full is given up as lost; the
// pipeline fills it with silence from the timestamps.
package jitter

// RestartJump is a sequence jump treated as a new stream (a sender
// restart or a bogus sequence number) rather than a loss: the buffer
// follows the new numbering, and its user should not count the jump as
// lost packets.
const RestartJump = 1000

// Buffer reorders packets of type T by their 16-bit RTP sequence number.
// It is not safe for concurrent use: one reader goroutine owns it.
type Buffer[T any] struct {
	depth   int
	emit    func(seq uint16, p T)
	started bool
	next    uint16 // sequence number expected next
	held    map[uint16]T

	// Counters since creation.
	Reordered  int // packets that waited for an overtaken one, then went out in order
	Duplicates int // packets received twice while held (the second is dropped)
	GaveUp     int // gaps given up as lost because the window filled
}

// New returns a buffer that holds at most depth early packets and passes
// packets in order to emit. depth 0 disables reordering.
func New[T any](depth int, emit func(seq uint16, p T)) *Buffer[T] {
	return &Buffer[T]{depth: depth, emit: emit, held: map[uint16]T{}}
}

// Push hands one received packet to the buffer and reports whether it was
// late: older than packets already passed on. A late packet is not
// emitted; the caller counts or drops it. A held packet is kept as is, so
// its memory must not be reused by the caller.
func (b *Buffer[T]) Push(seq uint16, p T) (late bool) {
	if !b.started {
		b.started, b.next = true, seq
	}
	d := int16(seq - b.next)
	switch {
	case d == 0:
		b.emit(seq, p)
		b.next++
		b.drain(true)
	case d < 0 && d > -RestartJump:
		return true
	case d < 0 || int(d) >= RestartJump:
		b.Flush()
		b.next = seq
		b.emit(seq, p)
		b.next++
	default: // early: a gap before it
		if _, dup := b.held[seq]; dup {
			b.Duplicates++
			return false
		}
		if b.depth == 0 {
			b.next = seq
			b.emit(seq, p)
			b.next++
			return false
		}
		b.held[seq] = p
		if len(b.held) > b.depth {
			b.GaveUp++
			b.skipToHeld()
		}
	}
	return false
}

// Pending is the number of packets held.
func (b *Buffer[T]) Pending() int { return len(b.held) }

// Flush emits every held packet in order, giving up the gaps between
// them: at the end of the stream, or when the stream has been idle long
// enough that the missing packets will not come.
func (b *Buffer[T]) Flush() {
	for len(b.held) > 0 {
		b.skipToHeld()
	}
}

// drain emits the held packets that are now in order; reordered says
// whether they waited for a packet that came late (rather than for one
// given up as lost).
func (b *Buffer[T]) drain(reordered bool) {
	for {
		p, ok := b.held[b.next]
		if !ok {
			return
		}
		delete(b.held, b.next)
		if reordered {
			b.Reordered++
		}
		b.emit(b.next, p)
		b.next++
	}
}

// skipToHeld gives up the gap before the oldest held packet and emits
// from there.
func (b *Buffer[T]) skipToHeld() {
	oldest, found := uint16(0), false
	for s := range b.held {
		if !found || int16(s-oldest) < 0 {
			oldest, found = s, true
		}
	}
	if !found {
		return
	}
	b.next = oldest
	b.drain(false)
}
