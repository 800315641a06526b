package sip

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/earshot/earshot/media/ingest/ingesttest"
)

// paddedInvite is an INVITE for call id whose SDP offer (RTP to port) is
// padded with attribute lines so that the whole message, as sent over TCP,
// is exactly size bytes.
func paddedInvite(t *testing.T, u *uac, id string, port, size int) string {
	t.Helper()
	offer := sdpOffer(port, "0")
	pad := 0
	for range 3 { // the Content-Length's digits move with the padding
		body := offer + padLines(pad)
		msg := u.request("INVITE", id, "", 1, nil, "application/sdp", body)
		u.n-- // the same branch each round
		if len(msg) == size {
			return strings.Replace(msg, "SIP/2.0/UDP ", "SIP/2.0/TCP ", 1)
		}
		pad += size - len(msg)
	}
	t.Fatalf("no INVITE of exactly %d bytes", size)
	return ""
}

// padLines is n bytes (at least 10) of SDP attribute lines
// ("a=x-pad:ppp...\r\n"), at most 100 bytes each.
func padLines(n int) string {
	var b strings.Builder
	for n > 0 {
		l := min(n, 100)
		if rest := n - l; rest > 0 && rest < 10 {
			l = n - 10
		}
		b.WriteString("a=x-pad:" + strings.Repeat("p", l-len("a=x-pad:\r\n")) + "\r\n")
		n -= l
	}
	return b.String()
}

// TestResourceBounds: over TCP, an INVITE of the largest size the
// configuration allows (max_message_bytes, at its default and maximum
// 65535) is served; one ten times larger, sent whole (its body announced,
// or its headers never ending), is refused with 513 or a close and makes
// the server allocate less than three times the allowed size: it is cut
// off at the limit, never read whole. Over UDP a datagram cannot exceed
// 64 KiB, and larger ones than the server reads are refused in
// TestTCPTooLarge. Allocations are the whole process's (TotalAlloc), so
// the bound holds what the server held at most.
func TestResourceBounds(t *testing.T) {
	e := testServer(t, nil)
	allowed := DefaultConfig().MaxMessageBytes
	if e.srv.cfg.MaxMessageBytes != allowed || allowed != 65535 {
		t.Fatalf("max_message_bytes %d, default %d: the test sends the default, the largest allowed", e.srv.cfg.MaxMessageBytes, allowed)
	}
	const bound = 3 // times the allowed size

	t.Run("allowed", func(t *testing.T) {
		tc := newTCPClient(t, dialFrom(t, net.IPv4(127, 0, 0, 1), e.srv.TCPAddr()))
		snd := newRTPSender(t, 0)
		msg := paddedInvite(t, tc.u, "largest@bounds", snd.port(), allowed)
		res := tc.do(t, msg)
		if res.code != 200 {
			t.Fatalf("INVITE of %d bytes: %d, want 200", len(msg), res.code)
		}
		tc.hangUp(t, "largest@bounds", res.tag, e.col.next(t))
	})

	for _, tc := range []struct {
		name  string
		msg   func(t *testing.T, u *uac) string
		piece int // bytes per write; 0 sends the message in one write
	}{
		{"announced body", func(t *testing.T, u *uac) string {
			return paddedInvite(t, u, "tenfold@bounds", 30000, 10*allowed)
		}, 0},
		{"endless headers", func(_ *testing.T, _ *uac) string {
			return "INVITE sip:srs@x SIP/2.0\r\n" + strings.Repeat("X-Pad: "+strings.Repeat("p", 90)+"\r\n", 10*allowed/99)
		}, 0},
		// In small writes the server reads the headers in many small
		// pieces: the way a stack that parses as it reads would allocate
		// most.
		{"endless headers in small writes", func(_ *testing.T, _ *uac) string {
			return "INVITE sip:srs@x SIP/2.0\r\n" + strings.Repeat("X-Pad: "+strings.Repeat("p", 90)+"\r\n", 10*allowed/99)
		}, 500},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The figure includes what the test's own client and the
			// process's other goroutines allocate meanwhile, which only
			// adds: the least of three refusals is the server's cost.
			var code int
			best := ^uint64(0)
			var msgLen int
			for attempt := 0; attempt < 3; attempt++ {
				c := dialFrom(t, net.IPv4(127, 0, 0, 1), e.srv.TCPAddr())
				cl := newTCPClient(t, c)
				msg := []byte(tc.msg(t, cl.u))
				msgLen = len(msg)
				before := e.counter(t, e.srv.m.tcpClosed.WithLabelValues("too_large"))
				alloc := ingesttest.Allocated(func() {
					_ = c.SetWriteDeadline(time.Now().Add(10 * time.Second))
					werr := writePieces(c, msg, tc.piece) // the server may close before it is all sent
					if res, err := cl.read(); err == nil {
						code = res.code
					} else if werr == nil && !closedBy(c, 5*time.Second) {
						t.Errorf("no answer (%v) and the connection left open", err)
					}
				})
				// Polled outside the measure: reading the counter allocates.
				waitFor(t, "the connection's close to be counted", func() bool {
					return e.counter(t, e.srv.m.tcpClosed.WithLabelValues("too_large")) == before+1
				})
				best = min(best, alloc)
				if code != 0 && code != 513 {
					break
				}
			}
			alloc := best
			if code != 0 && code != 513 {
				t.Errorf("answer %d, want 513 or none", code)
			}
			t.Logf("%d bytes sent, answer %d, %d KiB allocated meanwhile (bound %d KiB)", msgLen, code, alloc>>10, bound*allowed>>10)
			if alloc > uint64(bound*allowed) {
				t.Errorf("%d bytes allocated refusing a %d-byte message, want under %d", alloc, msgLen, bound*allowed)
			}
		})
	}
}

// writePieces writes msg to c in writes of piece bytes (all at once if
// piece is 0), stopping at the first error.
func writePieces(c net.Conn, msg []byte, piece int) error {
	if piece <= 0 {
		piece = len(msg)
	}
	for i := 0; i < len(msg); i += piece {
		if _, err := c.Write(msg[i:min(i+piece, len(msg))]); err != nil {
			return err
		}
	}
	return nil
}
