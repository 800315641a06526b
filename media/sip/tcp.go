package sip

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"
)

// SIP over TCP and TLS: the server bounds who may hold connections, for
// how long they may stay idle, and how large a message may be, before the
// SIP stack reads them.

// connLimiter admits TCP connections: from the allowed sources only, at
// most MaxTCPConnectionsPerSource from one address and MaxTCPConnections
// in all. Refused connections are closed at once (before any TLS
// handshake) and counted.
type connLimiter struct {
	s  *Server
	mu sync.Mutex
	// +checklocks:mu
	bySource map[netip.Addr]int
	// +checklocks:mu
	total int
}

func newConnLimiter(s *Server) *connLimiter {
	return &connLimiter{s: s, bySource: map[netip.Addr]int{}}
}

func (l *connLimiter) wrap(ln net.Listener) net.Listener { return &limitedListener{Listener: ln, l: l} }

// admit takes a slot for a connection from a; "" if admitted, else the
// refusal reason.
func (l *connLimiter) admit(a netip.Addr) string {
	if !l.s.allowed(a) {
		return "forbidden_source"
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.total >= l.s.cfg.MaxTCPConnections:
		return "too_many_connections"
	case l.bySource[a] >= l.s.cfg.MaxTCPConnectionsPerSource:
		return "too_many_from_source"
	}
	l.total++
	l.bySource[a]++
	l.s.m.tcpConns.Set(float64(l.total))
	return ""
}

func (l *connLimiter) release(a netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total--
	if l.bySource[a]--; l.bySource[a] <= 0 {
		delete(l.bySource, a)
	}
	l.s.m.tcpConns.Set(float64(l.total))
}

// open returns the number of admitted connections.
func (l *connLimiter) open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.total
}

type limitedListener struct {
	net.Listener
	l *connLimiter
}

// Accept returns the next admitted connection; refused ones never reach
// the caller.
func (ll *limitedListener) Accept() (net.Conn, error) {
	for {
		c, err := ll.Listener.Accept()
		if err != nil {
			return nil, err
		}
		a := remoteAddr(c)
		if reason := ll.l.admit(a); reason != "" {
			ll.l.s.m.tcpRefused.WithLabelValues(reason).Inc()
			ll.l.s.log.Debug("SIP connection refused", "remote", c.RemoteAddr().String(), "reason", reason)
			_ = c.Close()
			continue
		}
		return &admittedConn{Conn: c, release: func() { ll.l.release(a) }}, nil
	}
}

func remoteAddr(c net.Conn) netip.Addr {
	if ap, err := netip.ParseAddrPort(c.RemoteAddr().String()); err == nil {
		return ap.Addr().Unmap()
	}
	return netip.Addr{}
}

// admittedConn gives its slot back when closed.
type admittedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *admittedConn) Close() error {
	c.once.Do(c.release)
	return c.Conn.Close()
}

// streamListener wraps the listener the SIP stack serves (TCP, or TLS
// over admitted TCP) so that each connection is read through a sipConn.
func (s *Server) streamListener(ln net.Listener) net.Listener {
	return &sipListener{Listener: ln, s: s}
}

type sipListener struct {
	net.Listener
	s *Server
}

func (sl *sipListener) Accept() (net.Conn, error) {
	c, err := sl.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &sipConn{Conn: c, s: sl.s, scan: msgScanner{limit: sl.s.cfg.MaxMessageBytes}}, nil
}

// errConnClosed ends the SIP stack's reading of a connection the server
// closed (idle, too large); the reason is counted.
var errConnClosed = errors.New("sip: connection closed by the server")

// sipConn is one SIP stream connection as the stack reads it: a read that
// waits longer than the idle timeout closes it (unless a call it carried
// is in progress), and a message larger than MaxMessageBytes is answered
// with 513 Message Too Large and closes it: a stream has no message
// boundary to resume at.
//
// A message's start line and headers reach the stack only once they are
// complete: until the empty line that ends them they are held here, at
// most MaxMessageBytes of them. The stack parses each header line as it
// arrives, and what it allocates for them is several times their size,
// so headers that never end would otherwise cost up to a few times the
// limit before the cut, more or less depending on how TCP split them
// into reads. Held, they cost their own size, and nothing of a message
// refused for its headers is parsed at all. Bodies pass through.
type sipConn struct {
	net.Conn
	s    *Server
	scan msgScanner
	// hold is the stream's bytes not yet handed to the stack: its first
	// ready bytes may be handed, the rest are a header section still
	// being received.
	hold  []byte
	ready int
	// err, once set, is returned by every read; only the stack's reader
	// goroutine reads and sets it (and hold).
	err error
}

// holdReuse is the largest hold buffer a connection keeps between
// messages; a larger one (a message of many headers) is dropped once
// handed over, so that idle connections do not keep it.
const holdReuse = 4 << 10

func (c *sipConn) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	for {
		if c.ready > 0 {
			return c.handOver(p), nil
		}
		_ = c.Conn.SetReadDeadline(time.Now().Add(c.s.cfg.TCPIdleTimeout))
		n, err := c.Conn.Read(p)
		if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() && n == 0 {
			if c.s.hasCallFrom(c.RemoteAddr().String()) {
				continue // a call's BYE may come late on this connection
			}
			return 0, c.fail("idle_timeout", nil)
		}
		if n == 0 {
			if len(c.hold) > 0 && err != nil {
				// The peer ended inside a header section: those bytes are
				// no message, and the stack learns of the end.
				c.hold, c.ready = nil, 0
			}
			return 0, err
		}
		if v := c.scan.feed(p[:n]); v != "" {
			return 0, c.fail(v, c.scan.tooLarge())
		}
		from := len(c.hold) + n // where the unfinished header section begins, if any
		if c.scan.inHeaders() {
			from = 0 // it began in an earlier read, and is held
			if c.scan.from >= 0 {
				from = len(c.hold) + c.scan.from
			}
		}
		if len(c.hold) == 0 && from == n {
			return n, err // nothing held: the read goes to the stack as it is
		}
		c.hold = c.grow(c.hold, n)
		c.hold = append(c.hold, p[:n]...)
		c.ready = from
		if c.ready > 0 {
			return c.handOver(p), nil // an error comes again on the next read
		}
		if err != nil {
			c.hold, c.ready = nil, 0
			return 0, err
		}
	}
}

// handOver copies the ready bytes that fit into p and drops them from
// hold.
func (c *sipConn) handOver(p []byte) int {
	n := copy(p, c.hold[:c.ready])
	rest := copy(c.hold, c.hold[n:])
	c.hold, c.ready = c.hold[:rest], c.ready-n
	if rest == 0 && cap(c.hold) > holdReuse {
		c.hold = nil
	}
	return n
}

// grow makes room for n more bytes in b, doubling its capacity but never
// past what a held header section and one read can need, so that the
// allocations for a section of the largest allowed size sum to about
// twice that size.
func (c *sipConn) grow(b []byte, n int) []byte {
	need := len(b) + n
	if need <= cap(b) {
		return b
	}
	size := max(2*cap(b), 512)
	if ceiling := c.scan.limit + n; size > ceiling {
		size = ceiling
	}
	size = max(size, need)
	nb := make([]byte, len(b), size)
	copy(nb, b)
	return nb
}

// fail closes the connection for reason, after sending answer if any.
func (c *sipConn) fail(reason string, answer []byte) error {
	c.err = errConnClosed
	c.s.m.tcpClosed.WithLabelValues(reason).Inc()
	if reason == "too_large" {
		c.s.m.refused.WithLabelValues("too_large").Inc()
		c.s.log.Warn("SIP request refused", "status", 513, "reason", reason, "remote", c.RemoteAddr().String(),
			"call_id", c.scan.callID(), "answered", answer != nil, "limit", c.s.cfg.MaxMessageBytes)
	}
	if answer != nil {
		_ = c.Conn.SetWriteDeadline(time.Now().Add(time.Second))
		_, _ = c.Conn.Write(answer)
	}
	_ = c.Conn.Close()
	return c.err
}

// hasCallFrom reports whether a call whose INVITE came from source
// (host:port) is in progress or still being answered (opening its
// engagement can outlast a short idle timeout).
func (s *Server) hasCallFrom(source string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, from := range s.starting {
		if from == source {
			return true
		}
	}
	for _, c := range s.calls {
		if c.peer.source == source {
			return true
		}
	}
	return false
}

// msgScanner follows the message boundaries of a SIP byte stream (RFC
// 3261 section 18.3: headers up to an empty line, then Content-Length
// bytes of body) to find a message larger than limit as soon as its size
// is known. It keeps the few header lines a 513 answer needs, bounded.
type msgScanner struct {
	limit int

	inBody  bool
	body    int64 // body bytes still to come
	size    int64 // bytes of the current message so far (headers), or in all once the length is known
	started bool  // the current message has begun (keep-alive CRLFs before it are not part of it)
	line    []byte
	long    bool // the current line outgrew maxLine
	// start is the start line ("" until read, or if too long to keep);
	// lines the header lines kept for an answer.
	start     string
	startSeen bool
	lines     []string
	kept      int
	clen      int64
	// from is where, in the last chunk fed, the message whose start line
	// or headers are still being received began; -1 if it began in an
	// earlier chunk. Meaningful while inHeaders.
	from int
}

// maxLine bounds the part of a header line the scanner keeps; maxKept the
// header lines kept for an answer.
const (
	maxLine = 1024
	maxKept = 8 << 10
)

// feed scans a chunk; it returns "" while every message fits, else the
// violation: "too_large", or "malformed" when the stream cannot be framed
// (an unreadable Content-Length).
func (m *msgScanner) feed(b []byte) string {
	m.from = -1
	for i := 0; i < len(b); {
		if m.inBody {
			n := int64(len(b) - i)
			if n > m.body {
				n = m.body
			}
			m.body -= n
			i += int(n)
			if m.body == 0 {
				m.reset()
			}
			continue
		}
		c := b[i]
		i++
		if !m.started {
			if c == '\r' || c == '\n' {
				continue // keep-alive
			}
			m.started, m.from = true, i-1
		}
		m.size++
		if m.size > int64(m.limit) {
			return "too_large"
		}
		if c != '\n' {
			if len(m.line) < maxLine {
				m.line = append(m.line, c)
			} else {
				m.long = true
			}
			continue
		}
		line := bytes.TrimSuffix(m.line, []byte("\r"))
		long := m.long
		m.line, m.long = m.line[:0], false
		if len(line) != 0 {
			if v := m.header(line, long); v != "" {
				return v
			}
			continue
		}
		// The empty line ends the headers.
		if m.size+m.clen > int64(m.limit) {
			return "too_large"
		}
		if m.clen == 0 {
			m.reset()
			continue
		}
		m.inBody, m.body = true, m.clen
	}
	return ""
}

// inHeaders reports whether the stream is inside a message's start line
// or headers.
func (m *msgScanner) inHeaders() bool { return m.started && !m.inBody }

// header takes one header line (or the start line). It copies only the
// lines it keeps: other lines (padding, say) cost no allocation.
func (m *msgScanner) header(line []byte, long bool) string {
	if !m.startSeen {
		m.startSeen = true
		if !long {
			m.start = string(line)
		}
		return ""
	}
	name, value, ok := bytes.Cut(line, []byte(":"))
	if !ok {
		return ""
	}
	name = bytes.TrimSpace(name)
	switch {
	case headerIs(name, "content-length", "l"):
		n, err := strconv.ParseInt(string(bytes.TrimSpace(value)), 10, 64)
		if long || err != nil || n < 0 {
			return "malformed"
		}
		if n > int64(m.limit) {
			m.clen = n
			return "too_large"
		}
		m.clen = n
	case headerIs(name, "via", "v", "from", "f", "to", "t", "call-id", "i", "cseq"):
		if !long {
			m.keep(string(line))
		}
	}
	return ""
}

// headerIs reports whether a header name is one of names (lower case),
// ignoring case.
func headerIs(name []byte, names ...string) bool {
	for _, n := range names {
		if len(name) == len(n) && strings.EqualFold(string(name), n) {
			return true
		}
	}
	return false
}

func (m *msgScanner) keep(line string) {
	if m.kept+len(line) <= maxKept {
		m.lines = append(m.lines, line)
		m.kept += len(line)
	}
}

func (m *msgScanner) reset() {
	*m = msgScanner{limit: m.limit, line: m.line[:0], from: m.from}
}

// callID returns the Call-ID of the message scanned, if kept.
func (m *msgScanner) callID() string {
	for _, l := range m.lines {
		if name, v, ok := strings.Cut(l, ":"); ok {
			if n := strings.ToLower(strings.TrimSpace(name)); n == "call-id" || n == "i" {
				return strings.TrimSpace(v)
			}
		}
	}
	return ""
}

// tooLarge returns the 513 response to the message being scanned, or nil
// when it is not a request or the headers a response needs were not seen.
func (m *msgScanner) tooLarge() []byte {
	return tooLargeResponse(m.start, m.lines, m.limit)
}

// tooLargeResponse builds 513 Message Too Large (RFC 3261 section
// 21.5.14) from a request's start line and header lines: its Via, From,
// To (with a tag), Call-ID and CSeq. nil if start is not a request line or
// a header is missing.
func tooLargeResponse(start string, lines []string, limit int) []byte {
	if f := strings.Fields(start); len(f) != 3 || !strings.HasPrefix(f[2], "SIP/") {
		return nil
	}
	var b bytes.Buffer
	b.WriteString("SIP/2.0 513 Message Too Large\r\n")
	need := map[string]bool{"via": true, "from": true, "to": true, "call-id": true, "cseq": true}
	compact := map[string]string{"v": "via", "f": "from", "t": "to", "i": "call-id"}
	for _, l := range lines {
		name, v, _ := strings.Cut(l, ":")
		n := strings.ToLower(strings.TrimSpace(name))
		if full, ok := compact[n]; ok {
			n = full
		}
		v = strings.TrimSpace(v)
		if n == "to" && !strings.Contains(strings.ToLower(v), ";tag=") {
			v += ";tag=" + newTag()
		}
		delete(need, n)
		fmt.Fprintf(&b, "%s: %s\r\n", headerName[n], v)
	}
	if len(need) > 0 {
		return nil
	}
	fmt.Fprintf(&b, "Warning: 399 earshot \"message larger than %d bytes\"\r\nContent-Length: 0\r\n\r\n", limit)
	if _, err := sipmsg.ParseMessage(b.Bytes()); err != nil {
		return nil // the request's headers do not make a response
	}
	return b.Bytes()
}

var headerName = map[string]string{"via": "Via", "from": "From", "to": "To", "call-id": "Call-ID", "cseq": "CSeq"}
