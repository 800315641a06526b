package wsstream

import (
	"encoding/binary"
	"errors"
	"io"
	"testing"
)

// chunks reads b in pieces of at most step bytes.
type chunks struct {
	b    []byte
	step int
}

func (c *chunks) Read(p []byte) (int, error) {
	if len(c.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), c.step)], c.b)
	c.b = c.b[n:]
	return n, nil
}

// guardRun reads stream through a frameGuard (in reads of step bytes) and
// returns the bytes it passed on and whether it refused a frame.
func guardRun(stream []byte, step int, limit int64) (int, bool) {
	g := &frameGuard{r: &chunks{b: stream, step: max(step, 1)}, limit: limit}
	buf := make([]byte, 4096)
	passed := 0
	for {
		n, err := g.Read(buf)
		passed += n
		switch {
		case errors.Is(err, errFrameTooBig):
			return passed, true
		case err != nil:
			return passed, false
		}
	}
}

// frameHeader is a client frame header announcing n payload bytes, masked
// with a zero key (which leaves the payload as is).
func frameHeader(opcode byte, fin bool, n uint64) []byte {
	h := []byte{opcode, 0x80}
	if fin {
		h[0] |= 0x80
	}
	switch {
	case n < 126:
		h[1] |= byte(n)
	case n <= 0xffff:
		h[1] |= 126
		h = binary.BigEndian.AppendUint16(h, uint16(n))
	default:
		h[1] |= 127
		h = binary.BigEndian.AppendUint64(h, n)
	}
	return append(h, 0, 0, 0, 0)
}

// appendFrame appends a client frame of n zero bytes.
func appendFrame(b []byte, opcode byte, fin bool, n int) []byte {
	return append(append(b, frameHeader(opcode, fin, uint64(n))...), make([]byte, n)...)
}

// framesFrom builds a stream of well-formed frames from fuzz input (three
// bytes a frame: kind and fin, then the length) and says where the first
// frame over the limit starts (-1 if none), by RFC 6455's rules: a text or
// binary frame starts a message, continuation frames add to it, control
// frames stand apart.
func framesFrom(in []byte, limit int64) ([]byte, int) {
	var out []byte
	refuseAt := -1
	var msg int64
	for len(in) >= 3 && len(out) < 1<<16 {
		kind, n := in[0], int(binary.BigEndian.Uint16(in[1:3]))%20000
		in = in[3:]
		fin := kind&0x80 != 0
		var op byte
		switch kind % 4 {
		case 0:
			op = 0x0
		case 1:
			op = 0x1
		case 2:
			op = 0x2
		default:
			op, n, fin = 0x9, n%126, true
		}
		if refuseAt < 0 {
			switch op {
			case 0x1, 0x2:
				msg = int64(n)
			case 0x0:
				msg += int64(n)
			}
			if op < 0x8 && msg > limit {
				refuseAt = len(out)
			}
		}
		out = appendFrame(out, op, fin, n)
	}
	return out, refuseAt
}

// FuzzFrameGuard: the guard never panics and gives the same verdict, at
// the same byte, however the stream is cut into reads; on a stream of
// well-formed frames it refuses exactly the first frame that takes its
// message over the limit, at that frame's first byte.
func FuzzFrameGuard(f *testing.F) {
	huge := []byte{0x82, 0xff, 0x40, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 'x'} // 2^62 bytes
	ok, _ := framesFrom([]byte{0x81, 0, 10, 0x03, 0, 4, 0x02, 0x10, 0, 0x80, 0x10, 0}, 1<<16)
	f.Add(huge, uint16(1), uint16(4095))
	f.Add(ok, uint16(5), uint16(8191))
	f.Add(append(ok, huge...), uint16(1000), uint16(65535))
	f.Add([]byte{0x02, 0x10, 0x00, 0x03, 0x00, 0x10, 0x00, 0x00, 0x82, 0x10, 0x00}, uint16(2), uint16(4095))
	f.Fuzz(func(t *testing.T, b []byte, step, limit uint16) {
		lim := int64(limit) + 1
		// A refused header that arrived over several reads had its first
		// bytes passed on already: at most a header's length less one.
		const split = 13
		wholeN, wholeRefused := guardRun(b, len(b), lim)
		cutN, cutRefused := guardRun(b, int(step), lim)
		if wholeRefused != cutRefused || cutN < wholeN || cutN > wholeN+split || !wholeRefused && cutN != wholeN {
			t.Fatalf("whole: %d bytes passed, refused %v; in reads of %d: %d bytes, refused %v", wholeN, wholeRefused, step, cutN, cutRefused)
		}
		stream, refuseAt := framesFrom(b, lim)
		n, refused := guardRun(stream, int(step), lim)
		switch {
		case refuseAt < 0 && (refused || n != len(stream)):
			t.Fatalf("well-formed frames within the limit: %d of %d bytes passed, refused %v", n, len(stream), refused)
		case refuseAt >= 0 && (!refused || n < refuseAt || n > refuseAt+split):
			t.Fatalf("the frame at %d is over the limit: %d bytes passed, refused %v", refuseAt, n, refused)
		}
	})
}
