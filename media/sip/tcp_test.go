package sip

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// dialFrom opens a TCP connection to addr from a loopback address.
func dialFrom(t *testing.T, ip net.IP, addr string) *net.TCPConn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: ip}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*net.TCPConn)
}

// closedBy reports whether the server closed c within d (a read returns
// EOF or a reset rather than timing out).
func closedBy(c net.Conn, d time.Duration) bool {
	_ = c.SetReadDeadline(time.Now().Add(d))
	_, err := c.Read(make([]byte, 1))
	var ne net.Error
	return err != nil && !(errors.As(err, &ne) && ne.Timeout())
}

// TestTCPFromOutsideClosedAtOnce: 1,500 TCP connections from an address
// outside the allowed sources (100 open at a time) are each closed on
// arrival, counted, and none stays open; such connections used to be held
// for more than 30 s.
func TestTCPFromOutsideClosedAtOnce(t *testing.T) {
	e := testServer(t, func(c *Config) { c.AllowedSources = []string{"10.0.0.0/8"} })
	const total, batch = 1500, 100
	start := time.Now()
	for done := 0; done < total; done += batch {
		var (
			wg   sync.WaitGroup
			mu   sync.Mutex
			open int
		)
		for range batch {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, err := net.DialTimeout("tcp", e.srv.TCPAddr(), 5*time.Second)
				if err != nil {
					return // refused before accept: not held either
				}
				defer c.Close()
				if !closedBy(c, 5*time.Second) {
					mu.Lock()
					open++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if open > 0 {
			t.Fatalf("%d connections from outside the allowed sources still open after 5 s", open)
		}
	}
	t.Logf("%d connections refused in %s", total, time.Since(start).Round(time.Millisecond))
	if got := e.counter(t, e.srv.m.tcpRefused.WithLabelValues("forbidden_source")); got != total {
		t.Errorf("tcp_connections_refused_total{forbidden_source} = %v, want %d", got, total)
	}
	if n := e.srv.tcpConns.open(); n != 0 {
		t.Errorf("%d connections admitted", n)
	}
}

// TestTCPConnectionCaps: at most max_tcp_connections_per_source from one
// address and max_tcp_connections in all; the rest are closed on arrival
// and counted, and a closed connection's slot is free again.
func TestTCPConnectionCaps(t *testing.T) {
	e := testServer(t, func(c *Config) { c.MaxTCPConnections, c.MaxTCPConnectionsPerSource = 8, 5 })
	one, two := net.IPv4(127, 0, 0, 1), net.IPv4(127, 0, 0, 2)
	var first []*net.TCPConn
	for range 5 {
		first = append(first, dialFrom(t, one, e.srv.TCPAddr()))
	}
	waitFor(t, "five admitted connections", func() bool { return e.srv.tcpConns.open() == 5 })
	if c := dialFrom(t, one, e.srv.TCPAddr()); !closedBy(c, 5*time.Second) {
		t.Error("a sixth connection from one address stayed open")
	}
	for range 3 {
		dialFrom(t, two, e.srv.TCPAddr())
	}
	waitFor(t, "eight admitted connections", func() bool { return e.srv.tcpConns.open() == 8 })
	if c := dialFrom(t, two, e.srv.TCPAddr()); !closedBy(c, 5*time.Second) {
		t.Error("a ninth connection stayed open")
	}
	for _, c := range first {
		if closedBy(c, 50*time.Millisecond) {
			t.Error("an admitted connection was closed")
		}
	}
	first[0].Close()
	waitFor(t, "the closed connection's slot", func() bool { return e.srv.tcpConns.open() == 7 })
	if c := dialFrom(t, one, e.srv.TCPAddr()); closedBy(c, 200*time.Millisecond) {
		t.Error("a connection was refused although a slot was free")
	}
	for reason, want := range map[string]float64{"too_many_from_source": 1, "too_many_connections": 1} {
		if got := e.counter(t, e.srv.m.tcpRefused.WithLabelValues(reason)); got != want {
			t.Errorf("tcp_connections_refused_total{%s} = %v, want %v", reason, got, want)
		}
	}
}

// TestTCPIdle: a connection that sends nothing is closed after the idle
// timeout and counted; CRLF keep-alives keep one open, and so does a call
// in progress, whose BYE then arrives on it.
func TestTCPIdle(t *testing.T) {
	const idle = 400 * time.Millisecond
	e := testServer(t, func(c *Config) { c.TCPIdleTimeout = idle })
	silent := dialFrom(t, net.IPv4(127, 0, 0, 1), e.srv.TCPAddr())
	alive := dialFrom(t, net.IPv4(127, 0, 0, 1), e.srv.TCPAddr())
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(idle / 4)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if _, err := alive.Write([]byte("\r\n\r\n")); err != nil {
					return
				}
			}
		}
	}()
	if !closedBy(silent, 10*idle) {
		t.Error("a silent connection was not closed after the idle timeout")
	}
	// Keep-alives answer with CRLF; read them until well past the timeout.
	_ = alive.SetReadDeadline(time.Now().Add(3 * idle))
	_, err := io.Copy(io.Discard, alive)
	if ne, ok := errors.AsType[net.Error](err); !ok || !ne.Timeout() {
		t.Errorf("a connection sending keep-alives ended: %v", err)
	}
	close(stop)
	wg.Wait()
	if got := e.counter(t, e.srv.m.tcpClosed.WithLabelValues("idle_timeout")); got != 1 {
		t.Errorf("tcp_connections_closed_total{idle_timeout} = %v, want 1", got)
	}

	// A call's connection outlives the idle timeout.
	tc := newTCPClient(t, dialFrom(t, net.IPv4(127, 0, 0, 1), e.srv.TCPAddr()))
	tag, eng := tc.call(t, e, "tcpidle@test")
	time.Sleep(3 * idle) // what is tested is that nothing happens meanwhile
	tc.hangUp(t, "tcpidle@test", tag, eng)
}

// TestTCPIdleWhileAnswering: a connection whose INVITE is still being
// answered (its engagement slow to open) is not idle: it used to be
// closed when the open outlasted the idle timeout, and the caller saw
// the connection end instead of a 200.
func TestTCPIdleWhileAnswering(t *testing.T) {
	const idle = 300 * time.Millisecond
	e := testServer(t, func(c *Config) { c.TCPIdleTimeout = idle })
	e.col.mu.Lock()
	e.col.gate, e.col.entered = make(chan struct{}), make(chan struct{}, 1)
	e.col.mu.Unlock()
	// The opener is released once the connection has been quiet for
	// three idle timeouts while its INVITE waits.
	go func() {
		select {
		case <-e.col.entered:
			time.Sleep(3 * idle) // what is tested is that the connection outlives this
		case <-time.After(10 * time.Second):
		}
		close(e.col.gate)
	}()
	tc := newTCPClient(t, dialFrom(t, net.IPv4(127, 0, 0, 1), e.srv.TCPAddr()))
	tag, eng := tc.call(t, e, "slowopen@test")
	if got := e.counter(t, e.srv.m.tcpClosed.WithLabelValues("idle_timeout")); got != 0 {
		t.Errorf("tcp_connections_closed_total{idle_timeout} = %v, want 0", got)
	}
	tc.hangUp(t, "slowopen@test", tag, eng)
}

// call places a plain call over the connection and returns the server's
// To tag and the engagement.
func (c *tcpClient) call(t *testing.T, e *env, id string) (string, *recEngagement) {
	t.Helper()
	snd := newRTPSender(t, 0)
	res := c.do(t, c.u.request("INVITE", id, "", 1, nil, "application/sdp", sdpOffer(snd.port(), "0")))
	if res.code != 200 {
		t.Fatalf("INVITE %s over TCP: %d", id, res.code)
	}
	return res.tag, e.col.next(t)
}

// hangUp ends a call with BYE on the connection and waits for its
// engagement.
func (c *tcpClient) hangUp(t *testing.T, id, tag string, eng *recEngagement) {
	t.Helper()
	if res := c.do(t, c.u.request("BYE", id, tag, 2, nil, "", "")); res.code != 200 {
		t.Errorf("BYE %s over TCP: %d", id, res.code)
	}
	if err := eng.WaitClosed(t); err != nil {
		t.Errorf("%s closed with %v after BYE, want nil", id, err)
	}
}

// tcpClient speaks SIP over one TCP connection.
type tcpClient struct {
	conn net.Conn
	r    *bufio.Reader
	u    *uac
}

type tcpResponse struct {
	code int
	tag  string
	head string
}

func newTCPClient(t *testing.T, conn net.Conn) *tcpClient {
	srv, _ := net.ResolveUDPAddr("udp", conn.RemoteAddr().String())
	return &tcpClient{conn: conn, r: bufio.NewReader(conn), u: &uac{srv: srv, laddr: conn.LocalAddr().String()}}
}

// do sends a request (its Via made TCP) and reads responses until a
// final one.
func (c *tcpClient) do(t *testing.T, msg string) tcpResponse {
	t.Helper()
	msg = strings.Replace(msg, "SIP/2.0/UDP ", "SIP/2.0/TCP ", 1)
	if _, err := c.conn.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	for {
		res, err := c.read()
		if err != nil {
			t.Fatal(err)
		}
		if res.code >= 200 {
			return res
		}
	}
}

// read reads one response.
func (c *tcpClient) read() (tcpResponse, error) {
	_ = c.conn.SetReadDeadline(time.Now().Add(15 * time.Second))
	var res tcpResponse
	length := 0
	for {
		line, err := c.r.ReadString('\n')
		if err != nil {
			return res, err
		}
		line = strings.TrimRight(line, "\r\n")
		if res.head == "" && line == "" {
			continue // keep-alive
		}
		if line == "" {
			break
		}
		res.head += line + "\n"
		if strings.HasPrefix(line, "SIP/2.0 ") {
			fmt.Sscanf(line, "SIP/2.0 %d", &res.code)
		}
		name, v, _ := strings.Cut(line, ":")
		switch strings.ToLower(name) {
		case "content-length":
			fmt.Sscanf(strings.TrimSpace(v), "%d", &length)
		case "to":
			if _, tag, ok := strings.Cut(v, "tag="); ok {
				res.tag, _, _ = strings.Cut(tag, ";")
			}
		}
	}
	_, err := io.CopyN(io.Discard, c.r, int64(length))
	return res, err
}

// TestTCPTooLarge: a message larger than max_message_bytes over TCP is
// answered with 513 Message Too Large and its connection closed, counted
// (such messages used to be reset with no answer and no count); headers
// that never end are cut off the same way; UDP datagrams too large for the
// stack's buffer are answered with 513 too.
func TestTCPTooLarge(t *testing.T) {
	e := testServer(t, nil)
	head := func(callID string, clen int, extra string) string {
		return fmt.Sprintf("INVITE sip:srs@%s SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bK-big-%s\r\n"+
			"From: <sip:a@b>;tag=f1\r\nTo: <sip:srs@c>\r\nCall-ID: %s\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n%s"+
			"Content-Type: application/sdp\r\nContent-Length: %d\r\n\r\n", e.srv.TCPAddr(), callID, callID, extra, clen)
	}
	t.Run("body", func(t *testing.T) {
		c := dialFrom(t, net.IPv4(127, 0, 0, 1), e.srv.TCPAddr())
		tc := newTCPClient(t, c)
		// The announced body alone is over the limit: refused before it comes.
		if _, err := c.Write([]byte(head("big1@test", 70000, ""))); err != nil {
			t.Fatal(err)
		}
		res, err := tc.read()
		if err != nil {
			t.Fatalf("no answer: %v", err)
		}
		if res.code != 513 || !strings.Contains(res.head, "Call-ID: big1@test") || !strings.Contains(res.head, "CSeq: 1 INVITE") {
			t.Errorf("answer:\n%s\nwant 513 for call big1@test", res.head)
		}
		if !closedBy(c, 5*time.Second) {
			t.Error("connection left open after 513")
		}
	})
	t.Run("headers and body", func(t *testing.T) {
		c := dialFrom(t, net.IPv4(127, 0, 0, 1), e.srv.TCPAddr())
		tc := newTCPClient(t, c)
		body := strings.Repeat("a=x-pad\r\n", 6000) // 54000 bytes
		msg := head("big2@test", len(body), "X-Pad: "+strings.Repeat("p", 12000)+"\r\n") + body
		if _, err := c.Write([]byte(msg)); err != nil && !errors.Is(err, io.EOF) {
			t.Logf("write: %v (the server may close first)", err)
		}
		if res, err := tc.read(); err != nil || res.code != 513 {
			t.Errorf("answer %d %v, want 513", res.code, err)
		}
	})
	t.Run("endless headers", func(t *testing.T) {
		c := dialFrom(t, net.IPv4(127, 0, 0, 1), e.srv.TCPAddr())
		msg := "INVITE sip:srs@x SIP/2.0\r\n" + strings.Repeat("X-Pad: "+strings.Repeat("p", 100)+"\r\n", 700)
		_, _ = c.Write([]byte(msg))
		if !closedBy(c, 5*time.Second) {
			t.Error("a connection sending 70 KB of headers stayed open")
		}
	})
	if got := e.counter(t, e.srv.m.tcpClosed.WithLabelValues("too_large")); got != 3 {
		t.Errorf("tcp_connections_closed_total{too_large} = %v, want 3", got)
	}
	t.Run("udp", func(t *testing.T) {
		u := newUAC(t, e.srv.UDPAddr())
		body := strings.Repeat("a=x-pad\r\n", 4000) // 36000 bytes: more than the stack reads
		msg := u.request("INVITE", "bigudp@test", "", 1, nil, "application/sdp", sdpOffer(30000, "0")+body)
		if res := u.do(t, msg); res.StatusCode != 513 {
			t.Errorf("oversized datagram: %d, want 513", res.StatusCode)
		}
	})
	if got := e.counter(t, e.srv.m.refused.WithLabelValues("too_large")); got != 4 {
		t.Errorf("refusals{too_large} = %v, want 4", got)
	}
	// A good call over TCP still works.
	tc := newTCPClient(t, dialFrom(t, net.IPv4(127, 0, 0, 1), e.srv.TCPAddr()))
	tag, eng := tc.call(t, e, "fine@test")
	tc.hangUp(t, "fine@test", tag, eng)
}

// TestMsgScanner follows message boundaries in a byte stream fed in
// pieces of every size.
func TestMsgScanner(t *testing.T) {
	req := func(clen int, body string) string {
		return fmt.Sprintf("INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\nf: <sip:x@y>;tag=1\r\nTo: <sip:a@b>\r\n"+
			"i: c1@h\r\nCSeq: 7 INVITE\r\nl: %d\r\n\r\n%s", clen, body)
	}
	cases := []struct {
		name   string
		stream string
		limit  int
		want   string
		answer bool
	}{
		{"two messages and keep-alives", "\r\n\r\n" + req(5, "hello") + "\r\n" + req(0, "") + "\r\n\r\n", 4096, "", false},
		{"body over the limit", req(5000, ""), 4096, "too_large", true},
		{"headers and body over the limit", req(4000, strings.Repeat("x", 4000)), 4096, "too_large", true},
		{"second message over the limit", req(3, "abc") + req(9000, ""), 4096, "too_large", true},
		{"endless headers", "INVITE sip:a@b SIP/2.0\r\n" + strings.Repeat("X: y\r\n", 2000), 4096, "too_large", false},
		{"unreadable length", "INVITE sip:a@b SIP/2.0\r\nContent-Length: ten\r\n\r\n", 4096, "malformed", false},
		{"2^62 length", "INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK2\r\nFrom: <sip:f@h>;tag=1\r\nTo: <sip:t@h>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\nContent-Length: 4611686018427387904\r\n\r\n", 4096, "too_large", true},
		{"a response", "SIP/2.0 200 OK\r\nVia: v\r\nFrom: f\r\nTo: t\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\nContent-Length: 9000\r\n\r\n", 4096, "too_large", false},
	}
	for _, tc := range cases {
		for _, step := range []int{1, 7, 100, len(tc.stream)} {
			sc := msgScanner{limit: tc.limit}
			got := ""
			for i := 0; i < len(tc.stream) && got == ""; i += step {
				got = sc.feed([]byte(tc.stream[i:min(i+step, len(tc.stream))]))
			}
			if got != tc.want {
				t.Errorf("%s (pieces of %d): %q, want %q", tc.name, step, got, tc.want)
				continue
			}
			ans := sc.tooLarge()
			if (ans != nil) != tc.answer {
				t.Errorf("%s (pieces of %d): answer %q, want one: %v", tc.name, step, ans, tc.answer)
			}
			if ans != nil && (!strings.HasPrefix(string(ans), "SIP/2.0 513 ") || !strings.Contains(string(ans), ";tag=")) {
				t.Errorf("%s: answer %q", tc.name, ans)
			}
		}
	}
}

// TestSipConnHoldsHeaders: the stack reading a stream through a sipConn
// gets every byte, in order, but no byte of a message's start line and
// headers before the connection has received their empty line, however
// the peer's writes cut the stream and whatever the stack's buffer size.
// A message refused for its headers reaches the stack not at all.
func TestSipConnHoldsHeaders(t *testing.T) {
	e := testServer(t, nil)
	req := func(id string, body string) string {
		return fmt.Sprintf("INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK%s\r\nFrom: <sip:x@y>;tag=1\r\n"+
			"To: <sip:a@b>\r\nCall-ID: %s\r\nCSeq: 1 INVITE\r\nl: %d\r\n\r\n%s", id, id, len(body), body)
	}
	stream := "\r\n\r\n" + req("m1", "hello") + "\r\n" + req("m2", "") + req("m3", strings.Repeat("v=0\r\n", 300)) + "\r\n\r\n"
	// The header sections: from a message's first byte to the end of its
	// empty line.
	var inside [][2]int
	for off := 0; ; {
		i := strings.Index(stream[off:], "INVITE ")
		if i < 0 {
			break
		}
		start := off + i
		end := start + strings.Index(stream[start:], "\r\n\r\n") + 4
		inside = append(inside, [2]int{start, end})
		off = end
	}
	if len(inside) != 3 {
		t.Fatalf("%d messages in the stream, want 3", len(inside))
	}

	// read serves the stream written in pieces of step through a sipConn
	// read with a buffer of size bytes; it returns what the reader got and
	// the error that ended it.
	read := func(t *testing.T, stream string, step, size int, check func(handed, received int)) (string, error) {
		srv, peer := net.Pipe()
		t.Cleanup(func() { srv.Close(); peer.Close() })
		go func() {
			for i := 0; i < len(stream); i += step {
				if _, err := peer.Write([]byte(stream[i:min(i+step, len(stream))])); err != nil {
					return
				}
			}
			peer.Close()
		}()
		rc := &countingConn{Conn: srv}
		sc := &sipConn{Conn: rc, s: e.srv, scan: msgScanner{limit: e.srv.cfg.MaxMessageBytes}}
		var got strings.Builder
		buf := make([]byte, size)
		for {
			n, err := sc.Read(buf)
			got.Write(buf[:n])
			if n > 0 && check != nil {
				check(got.Len(), rc.n)
			}
			if err != nil {
				return got.String(), err
			}
		}
	}

	for _, step := range []int{1, 7, 100, 1000, len(stream)} {
		for _, size := range []int{5, 64, 32768} {
			got, err := read(t, stream, step, size, func(handed, received int) {
				for _, in := range inside {
					if handed > in[0] && received < in[1] {
						t.Fatalf("pieces of %d, buffer %d: %d bytes handed to the stack with %d received, inside the headers at %d-%d",
							step, size, handed, received, in[0], in[1])
					}
				}
			})
			if !errors.Is(err, io.EOF) {
				t.Errorf("pieces of %d, buffer %d: ended with %v, want EOF", step, size, err)
			}
			if got != stream {
				t.Errorf("pieces of %d, buffer %d: the reader got %d bytes, not the stream's %d", step, size, len(got), len(stream))
			}
		}
	}

	endless := req("ok", "body") + "INVITE sip:srs@x SIP/2.0\r\n" + strings.Repeat("X-Pad: "+strings.Repeat("p", 90)+"\r\n", 1000)
	for _, step := range []int{99, 4096, len(endless)} {
		got, err := read(t, endless, step, 32768, nil)
		if !errors.Is(err, errConnClosed) {
			t.Errorf("endless headers in pieces of %d: ended with %v, want the server's close", step, err)
		}
		if want := req("ok", "body"); got != want {
			t.Errorf("endless headers in pieces of %d: the reader got %d bytes, want only the first message's %d", step, len(got), len(want))
		}
	}
}

// countingConn counts the bytes read from it.
type countingConn struct {
	net.Conn
	n int
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.n += n
	return n, err
}
