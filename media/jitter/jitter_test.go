package jitter

import (
	"math/rand/v2"
	"slices"
	"testing"
)

type recorder struct{ seqs, late []uint16 }

// emit checks that the payload travels with its sequence number.
func (r *recorder) emit(seq uint16, p int) {
	if int(seq) != p {
		panic("payload separated from its sequence number")
	}
	r.seqs = append(r.seqs, seq)
}

func (r *recorder) push(b *Buffer[int], seqs ...uint16) {
	for _, s := range seqs {
		if b.Push(s, int(s)) {
			r.late = append(r.late, s)
		}
	}
}

func TestReorder(t *testing.T) {
	for _, tc := range []struct {
		name              string
		depth             int
		in                []uint16
		want, late        []uint16
		reordered, gaveUp int
		duplicates        int
		flushAtEnd        bool
	}{
		{name: "in order passes through", depth: 3, in: []uint16{1, 2, 3, 4}, want: []uint16{1, 2, 3, 4}},
		{name: "swapped pair", depth: 3, in: []uint16{1, 3, 2, 4}, want: []uint16{1, 2, 3, 4}, reordered: 1},
		{name: "late by three", depth: 3, in: []uint16{1, 3, 4, 5, 2, 6}, want: []uint16{1, 2, 3, 4, 5, 6}, reordered: 3},
		{name: "loss given up when the window fills", depth: 2, in: []uint16{1, 3, 4, 5, 6}, want: []uint16{1, 3, 4, 5, 6}, gaveUp: 1},
		{name: "too late after giving up", depth: 1, in: []uint16{1, 3, 4, 2, 5}, want: []uint16{1, 3, 4, 5}, late: []uint16{2}, gaveUp: 1},
		{name: "duplicate of a held packet dropped", depth: 3, in: []uint16{1, 3, 3, 2}, want: []uint16{1, 2, 3}, reordered: 1, duplicates: 1},
		{name: "wraparound", depth: 3, in: []uint16{65534, 0, 65535, 1}, want: []uint16{65534, 65535, 0, 1}, reordered: 1},
		{name: "wraparound, then a gap waited for and given up", depth: 3, in: []uint16{65534, 0, 65535, 1, 3, 4, 5, 6, 2, 7},
			want: []uint16{65534, 65535, 0, 1, 3, 4, 5, 6, 7}, late: []uint16{2}, reordered: 1, gaveUp: 1},
		{name: "restart jump", depth: 3, in: []uint16{10, 12, 5000, 5001}, want: []uint16{10, 12, 5000, 5001}},
		{name: "depth 0 never holds", depth: 0, in: []uint16{1, 3, 2, 4}, want: []uint16{1, 3, 4}, late: []uint16{2}},
		{name: "flush at the end", depth: 3, in: []uint16{1, 3, 4}, want: []uint16{1, 3, 4}, flushAtEnd: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r recorder
			b := New(tc.depth, r.emit)
			r.push(b, tc.in...)
			if tc.flushAtEnd {
				b.Flush()
			}
			if !slices.Equal(r.seqs, tc.want) || !slices.Equal(r.late, tc.late) {
				t.Errorf("emitted %v, late %v; want %v, %v", r.seqs, r.late, tc.want, tc.late)
			}
			if b.Pending() != 0 && tc.flushAtEnd {
				t.Errorf("%d packets still held after Flush", b.Pending())
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
	r.push(b, in...)
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
