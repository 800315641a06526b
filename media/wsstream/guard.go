package wsstream

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
)

// errFrameTooBig ends a stream whose frame announces more than the read
// limit.
var errFrameTooBig = errors.New("wsstream: frame larger than the message limit")

// guardWriter hands the WebSocket library a connection read through a
// frameGuard when it hijacks the request.
type guardWriter struct {
	http.ResponseWriter
	limit int64
}

func (g guardWriter) Unwrap() http.ResponseWriter { return g.ResponseWriter }

// Hijack takes the connection from the server and wraps its reads; bytes
// the server had already buffered go through the guard too.
func (g guardWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, brw, err := http.NewResponseController(g.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	buffered, _ := brw.Reader.Peek(brw.Reader.Buffered())
	fg := &frameGuard{Conn: c, r: io.MultiReader(bytes.NewReader(bytes.Clone(buffered)), c), limit: g.limit}
	return fg, bufio.NewReadWriter(bufio.NewReader(fg), brw.Writer), nil
}

// frameGuard follows the frames a client sends (RFC 6455 section 5.2) and
// fails the read that brings the header of a data frame whose announced
// length, or the total of its message's fragments, exceeds the limit:
// before any of its payload is read. The WebSocket library counts payload
// bytes as they arrive, so a frame announcing 2^62 bytes would otherwise
// hold the stream until the idle timeout.
type frameGuard struct {
	net.Conn
	r     io.Reader
	limit int64

	hdr    [14]byte
	hn     int   // header bytes seen
	remain int64 // payload bytes of the current frame still to come
	msg    int64 // payload bytes of the current message so far
	err    error
}

// Read passes on the frames before a refused one (the messages they
// complete are served); the read after them fails.
func (g *frameGuard) Read(p []byte) (int, error) {
	if g.err != nil {
		return 0, g.err
	}
	n, err := g.r.Read(p)
	if keep, ferr := g.scan(p[:n]); ferr != nil {
		g.err = ferr
		if keep > 0 {
			return keep, nil
		}
		return 0, ferr
	}
	return n, err
}

// scan follows frame boundaries through b; on a refused frame it returns
// the error and how many bytes of b come before that frame's header.
func (g *frameGuard) scan(b []byte) (int, error) {
	start := 0 // where the header being read began in b
	for i := 0; i < len(b); {
		if g.remain > 0 {
			k := min(int64(len(b)-i), g.remain)
			g.remain -= k
			i += int(k)
			continue
		}
		if g.hn == 0 {
			start = i
		}
		g.hdr[g.hn] = b[i]
		g.hn++
		i++
		if g.hn < 2 || g.hn < headerLen(g.hdr[1]) {
			continue
		}
		if err := g.frame(); err != nil {
			return start, err
		}
	}
	return len(b), nil
}

// headerLen is the length of a frame header whose second byte is b1.
func headerLen(b1 byte) int {
	n := 2
	switch b1 & 0x7f {
	case 126:
		n += 2
	case 127:
		n += 8
	}
	if b1&0x80 != 0 {
		n += 4 // masking key
	}
	return n
}

// frame takes a complete header.
func (g *frameGuard) frame() error {
	h := g.hdr[:g.hn]
	g.hn = 0
	opcode := h[0] & 0x0f
	var length uint64
	switch l := h[1] & 0x7f; l {
	case 126:
		length = uint64(binary.BigEndian.Uint16(h[2:4]))
	case 127:
		length = binary.BigEndian.Uint64(h[2:10])
	default:
		length = uint64(l)
	}
	if length > 1<<62 {
		return fmt.Errorf("%w: a frame announces %d bytes", errFrameTooBig, length)
	}
	switch opcode {
	case 0x1, 0x2: // text, binary: a new message
		g.msg = int64(length)
	case 0x0: // continuation
		g.msg += int64(length)
	}
	if opcode < 0x8 && g.msg > g.limit {
		return fmt.Errorf("%w: a message of at least %d bytes, at most %d", errFrameTooBig, g.msg, g.limit)
	}
	g.remain = int64(length)
	return nil
}
