// Package jitter reorders the RTP packets of one stream within a small
// window, so that packets overtaken on the network are decoded in order
// instead of being counted late and dropped.
//
// Packets in order pass straight through: the buffer adds no delay unless
// a sequence number is missing, and then at most Depth packets' worth
// while it waits for the missing one. A gap still open when the window is
// full is given up as lost (the pipeline fills it with silence from the
// timestamps).
package jitter

// Packet is one RTP packet's sequence number, timestamp and payload.
type Packet struct {
	Seq     uint16
	TS      uint32
	Payload []byte
}

// restartJump is a sequence jump treated as a new stream (a sender
// restart or a bogus sequence number) rather than a loss.
const restartJump = 1000

// Buffer reorders the packets of one stream. It is not safe for concurrent
// use: one reader goroutine owns it.
type Buffer struct {
	depth   int
	emit    func(Packet)
	started bool
	next    uint16 // sequence number expected next
	held    map[uint16]Packet

	// Counters since creation.
	Reordered  int // packets that arrived early and were put back in order
	Duplicates int // packets received twice (the second is dropped)
	GaveUp     int // gaps given up as lost because the window filled
}

// New returns a buffer that holds at most depth early packets and passes
// packets in order to emit. depth 0 disables reordering.
func New(depth int, emit func(Packet)) *Buffer {
	return &Buffer{depth: depth, emit: emit, held: map[uint16]Packet{}}
}

// Push hands one received packet to the buffer. The payload is kept while
// the packet is held, so it must not be reused by the caller.
func (b *Buffer) Push(p Packet) {
	if !b.started {
		b.started, b.next = true, p.Seq
	}
	d := int16(p.Seq - b.next)
	switch {
	case d == 0:
		b.emit(p)
		b.next++
		b.drain(true)
	case d < 0:
		if d > -restartJump {
			// Older than what was emitted: the pipeline counts it late.
			b.emit(p)
			return
		}
		b.restart(p)
	case int(d) >= restartJump:
		b.restart(p)
	default: // early: a gap before it
		if _, dup := b.held[p.Seq]; dup {
			b.Duplicates++
			return
		}
		if b.depth == 0 {
			b.next = p.Seq
			b.emit(p)
			b.next++
			return
		}
		b.held[p.Seq] = p
		if len(b.held) > b.depth {
			b.GaveUp++
			b.skipToHeld()
		}
	}
}

// Flush emits every held packet in order (at the end of the stream).
func (b *Buffer) Flush() {
	for len(b.held) > 0 {
		b.skipToHeld()
	}
}

// drain emits the held packets that are now in order; reordered says
// whether they waited for a packet that came late (rather than for one
// given up as lost).
func (b *Buffer) drain(reordered bool) {
	for {
		p, ok := b.held[b.next]
		if !ok {
			return
		}
		delete(b.held, b.next)
		if reordered {
			b.Reordered++
		}
		b.emit(p)
		b.next++
	}
}

// skipToHeld gives up the gap before the oldest held packet and emits
// from there.
func (b *Buffer) skipToHeld() {
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

// restart emits what is held and starts over at p.
func (b *Buffer) restart(p Packet) {
	b.Flush()
	b.next = p.Seq
	b.emit(p)
	b.next++
}
