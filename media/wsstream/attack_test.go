package wsstream

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// rawWS is a WebSocket client on a bare TCP connection that writes frames
// by hand, for frames no library would send.
type rawWS struct {
	conn net.Conn
	r    *bufio.Reader
}

func dialRaw(t *testing.T, e *env, query string) *rawWS {
	t.Helper()
	addr := strings.TrimPrefix(e.hs.URL, "http://")
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	fmt.Fprintf(c, "GET /ws%s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"+
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n", query, addr, testToken)
	r := bufio.NewReader(c)
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %s", resp.Status)
	}
	return &rawWS{conn: c, r: r}
}

// header writes a masked frame header announcing n payload bytes.
func (w *rawWS) header(opcode byte, fin bool, n uint64) error {
	_, err := w.conn.Write(frameHeader(opcode, fin, n))
	return err
}

// frame writes a whole masked frame.
func (w *rawWS) frame(opcode byte, fin bool, payload []byte) error {
	if err := w.header(opcode, fin, uint64(len(payload))); err != nil {
		return err
	}
	_, err := w.conn.Write(payload)
	return err
}

// closeStatus reads frames until the server's close frame and returns its
// status, or -1 if the connection ends without one.
func (w *rawWS) closeStatus(within time.Duration) (websocket.StatusCode, error) {
	_ = w.conn.SetReadDeadline(time.Now().Add(within))
	for {
		var h [2]byte
		if _, err := io.ReadFull(w.r, h[:]); err != nil {
			return -1, err
		}
		n := int(h[1] & 0x7f)
		switch n {
		case 126:
			var l [2]byte
			io.ReadFull(w.r, l[:])
			n = int(binary.BigEndian.Uint16(l[:]))
		case 127:
			return -1, errors.New("server sent a huge frame")
		}
		p := make([]byte, n)
		if _, err := io.ReadFull(w.r, p); err != nil {
			return -1, err
		}
		if h[0]&0x0f == 0x8 && n >= 2 {
			return websocket.StatusCode(binary.BigEndian.Uint16(p)), nil
		}
	}
}

// TestHugeFrameRefusedAtOnce: a frame announcing 2^62 bytes (or 2^64-1, or
// a fragment that takes its message over the limit) is refused when its
// header arrives, with status 1009, counted, long before the idle
// timeout; it used to hold the stream until then.
func TestHugeFrameRefusedAtOnce(t *testing.T) {
	const idle = 20 * time.Second
	e := testServer(t, func(c *Config) { c.IdleTimeout = idle; c.MaxMessageBytes = 4096 })
	for _, tc := range []struct {
		name string
		send func(w *rawWS) error
	}{
		{"2^62 bytes", func(w *rawWS) error {
			if err := w.header(0x2, true, 1<<62); err != nil {
				return err
			}
			_, err := w.conn.Write([]byte("a few bytes and then nothing"))
			return err
		}},
		{"2^64-1 bytes", func(w *rawWS) error { return w.header(0x1, true, 1<<64-1) }},
		{"limit plus one", func(w *rawWS) error { return w.header(0x2, true, 4097) }},
		{"fragments over the limit", func(w *rawWS) error {
			if err := w.frame(0x1, false, []byte(strings.Repeat(" ", 3000))); err != nil {
				return err
			}
			if err := w.frame(0x9, true, []byte("ping")); err != nil { // control frames do not count
				return err
			}
			return w.header(0x0, true, 2000)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := testutil.ToFloat64(e.srv.m.ended.WithLabelValues("oversized"))
			w := dialRaw(t, e, "?format=pcm")
			start := time.Now()
			if err := tc.send(w); err != nil {
				t.Fatal(err)
			}
			st, err := w.closeStatus(idle / 2)
			if err != nil || st != websocket.StatusMessageTooBig {
				t.Fatalf("close status %v (%v), want 1009 before the idle timeout", st, err)
			}
			t.Logf("refused after %s", time.Since(start).Round(time.Millisecond))
			waitFor(t, "the stream to end", func() bool {
				return testutil.ToFloat64(e.srv.m.ended.WithLabelValues("oversized")) == before+1
			})
		})
	}
	// A message at the limit, in fragments, is fine.
	w := dialRaw(t, e, "?engagement=edge&format=pcm&rate=8000")
	if err := w.frame(0x2, false, make([]byte, 2048)); err != nil {
		t.Fatal(err)
	}
	if err := w.frame(0x0, true, make([]byte, 2048)); err != nil {
		t.Fatal(err)
	}
	eng := e.col.get(t, "edge")
	waitFor(t, "the message's audio", func() bool { return eng.PE.Stats()["mixed"].AudioMs == 256 })
	if err := w.frame(0x8, true, []byte{0x03, 0xe8}); err != nil {
		t.Fatal(err)
	}
	if err := eng.WaitClosed(t); err != nil {
		t.Errorf("closed with %v, want nil", err)
	}
}

// TestMarksDoNotHoldStream: a Twilio stream that sends only marks after
// its audio is closed at the idle timeout; marks and other non-media
// messages used to keep a stream (and its slot) for good.
func TestMarksDoNotHoldStream(t *testing.T) {
	const idle = time.Second
	e := testServer(t, func(c *Config) { c.IdleTimeout = idle })
	c := e.dial(t, "?engagement=marks")
	tw := &twilioClient{t: t, c: c}
	tw.start("inbound")
	tw.media("inbound", 1, 0, make([]byte, 160))
	// The idle clock runs from when the server has handled the audio
	// (opening the engagement may take a while on a loaded machine).
	eng := e.col.get(t, "marks")
	waitFor(t, "the audio", func() bool { return eng.PE.Stats()["customer"].AudioMs == 20 })
	lastMedia := time.Now()
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(idle / 5):
			}
			m := fmt.Sprintf(`{"event":"mark","streamSid":"MZ1","mark":{"name":"m%d"}}`, i)
			if c.Write(context.Background(), websocket.MessageText, []byte(m)) != nil {
				return
			}
		}
	}()
	if st := closeStatus(t, c); st != websocket.StatusPolicyViolation {
		t.Errorf("close status %v, want 1008 (idle)", st)
	}
	// Marks used to hold the stream for good; the bound is loose for a
	// loaded machine.
	if d := time.Since(lastMedia); d > 10*idle {
		t.Errorf("closed %s after the last media, idle timeout %s", d, idle)
	}
	waitFor(t, "streams_ended_total{idle_timeout}", func() bool {
		return testutil.ToFloat64(e.srv.m.ended.WithLabelValues("idle_timeout")) == 1
	})
	if err := eng.WaitClosed(t); err == nil {
		t.Error("engagement closed without a reason, want the idle timeout")
	}
}

// TestEngagementEndClosesStream: when the engagement ends on its own side
// (the hub), the stream is closed (1000) and counted; when the request
// ends (the daemon ending it, e.g. for a revoked token) it is closed with
// 1008. The stream used to keep its slot after the hub had ended the
// engagement. The opener sees the request's values (its caller).
func TestEngagementEndClosesStream(t *testing.T) {
	e := testServer(t, nil)
	for _, tc := range []struct {
		id     string
		end    func(eng *recEngagement)
		status websocket.StatusCode
		reason string
	}{
		{"hub", func(eng *recEngagement) { eng.End() }, websocket.StatusNormalClosure, "engagement_ended"},
		{"request", func(*recEngagement) {
			cancel, _ := e.cancels.Load("request")
			cancel.(context.CancelCauseFunc)(errors.New("token revoked"))
		}, websocket.StatusPolicyViolation, "request_ended"},
	} {
		t.Run(tc.id, func(t *testing.T) {
			c := e.dial(t, "?engagement="+tc.id)
			tw := &twilioClient{t: t, c: c}
			tw.start("inbound")
			tw.media("inbound", 1, 0, make([]byte, 160))
			eng := e.col.get(t, tc.id)
			if eng.caller != "ingest-user" {
				t.Errorf("the opener saw caller %q in its context, want the request's", eng.caller)
			}
			tc.end(eng)
			if st := closeStatus(t, c); st != tc.status {
				t.Errorf("close status %v, want %v", st, tc.status)
			}
			eng.WaitClosed(t)
			waitFor(t, "streams_ended_total{"+tc.reason+"}", func() bool {
				return testutil.ToFloat64(e.srv.m.ended.WithLabelValues(tc.reason)) == 1
			})
		})
	}
	waitFor(t, "no stream left", func() bool { return e.srv.Streams() == 0 })
}
