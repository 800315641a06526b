package jitter

import (
	"math/rand/v2"
	"slices"
	"testing"
)

type recorder struct{ seqs []uint16 }

func (r *recorder) emit(p Packet) { r.seqs = append(r.seqs, p.Seq) }

func push(b *Buffer, seqs ...uint16) {
	for _, s := range seqs {
		b.Push(Packet{Seq: s, TS: uint32(s) * 160, Payload: []byte{byte(s)}})
	}
}

func TestReorder(t *testing.T) {
	for _, tc := range []struct {
		name              string
		depth             int
		in                []uint16
		want              []uint16
		reordered, gaveUp int
		duplicates        int
		flushAtEnd        bool
	}{
		{name: "in order passes through", depth: 3, in: []uint16{1, 2, 3, 4}, want: []uint16{1, 2, 3, 4}},
		{name: "swapped pair", depth: 3, in: []uint16{1, 3, 2, 4}, want: []uint16{1, 2, 3, 4}, reordered: 1},
		{name: "late by three", depth: 3, in: []uint16{1, 3, 4, 5, 2, 6}, want: []uint16{1, 2, 3, 4, 5, 6}, reordered: 3},
		{name: "loss given up when the window fills", depth: 2, in: []uint16{1, 3, 4, 5, 6}, want: []uint16{1, 3, 4, 5, 6}, gaveUp: 1},
		{name: "too late after giving up goes through (counted late downstream)", depth: 1, in: []uint16{1, 3, 4, 2, 5}, want: []uint16{1, 3, 4, 2, 5}, gaveUp: 1},
		{name: "duplicate of a held packet dropped", depth: 3, in: []uint16{1, 3, 3, 2}, want: []uint16{1, 2, 3}, reordered: 1, duplicates: 1},
		{name: "wraparound", depth: 3, in: []uint16{65534, 0, 65535, 1}, want: []uint16{65534, 65535, 0, 1}, reordered: 1},
		{name: "restart jump", depth: 3, in: []uint16{10, 12, 5000, 5001}, want: []uint16{10, 12, 5000, 5001}},
		{name: "depth 0 never holds", depth: 0, in: []uint16{1, 3, 2, 4}, want: []uint16{1, 3, 2, 4}},
		{name: "flush at the end", depth: 3, in: []uint16{1, 3, 4}, want: []uint16{1, 3, 4}, flushAtEnd: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r recorder
			b := New(tc.depth, r.emit)
			push(b, tc.in...)
			if tc.flushAtEnd {
				b.Flush()
			}
			if !slices.Equal(r.seqs, tc.want) {
				t.Errorf("emitted %v, want %v", r.seqs, tc.want)
			}
			if b.Reordered != tc.reordered || b.GaveUp != tc.gaveUp || b.Duplicates != tc.duplicates {
				t.Errorf("reordered %d, gave up %d, duplicates %d; want %d, %d, %d",
					b.Reordered, b.GaveUp, b.Duplicates, tc.reordered, tc.gaveUp, tc.duplicates)
			}
		})
	}
}

// TestShuffledWithinDepth: any displacement of up to depth positions comes
// out fully ordered, and nothing is lost or emitted twice.
func TestShuffledWithinDepth(t *testing.T) {
	const n, depth = 2000, 4
	in := make([]uint16, n)
	for i := range in {
		in[i] = uint16(60000 + i) // crosses the wraparound
	}
	rng := rand.New(rand.NewPCG(1, 2))
	// The first packet sets the start (one overtaking it would count as
	// late), so the shuffles begin after it.
	for i := 1; i+depth < n; i += depth + 1 {
		rng.Shuffle(depth+1, func(a, b int) { in[i+a], in[i+b] = in[i+b], in[i+a] })
	}
	var r recorder
	b := New(depth, r.emit)
	push(b, in...)
	b.Flush()
	if len(r.seqs) != n {
		t.Fatalf("emitted %d packets, want %d", len(r.seqs), n)
	}
	for i, s := range r.seqs {
		if s != uint16(60000+i) {
			t.Fatalf("position %d: seq %d, want %d", i, s, uint16(60000+i))
		}
	}
	if b.GaveUp != 0 {
		t.Errorf("gave up %d gaps in a lossless stream", b.GaveUp)
	}
}
