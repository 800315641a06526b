package wsstream

import (
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/earshot/earshot/media/ingest/ingesttest"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestResourceBounds: a message of the largest size the configuration
// allows (max_message_bytes at its default) is served; one ten times
// larger, sent whole in one frame or in fragments each under the limit,
// is refused with 1009 and makes the server allocate less than four
// times the limit: it is refused when the header that takes it over the
// limit arrives, never read whole (fragments up to the limit are
// gathered in a buffer that grows by doubling: about 2.3 times the limit
// allocated in all). Allocations are the whole process's
// (TotalAlloc), so the bound holds what the server held at most.
func TestResourceBounds(t *testing.T) {
	e := testServer(t, nil)
	allowed := int(DefaultConfig().MaxMessageBytes)
	const bound = 4 // times the allowed size

	t.Run("allowed", func(t *testing.T) {
		w := dialRaw(t, e, "?engagement=largest&format=pcm&rate=8000")
		if err := w.frame(0x2, true, make([]byte, allowed)); err != nil {
			t.Fatal(err)
		}
		eng := e.col.get(t, "largest")
		want := int64(allowed / 16) // 8 kHz 16-bit mono: 16 bytes a millisecond
		waitFor(t, "the message's audio", func() bool { return eng.PE.Stats()["mixed"].AudioMs == want })
		if err := w.frame(0x8, true, []byte{0x03, 0xe8}); err != nil {
			t.Fatal(err)
		}
		if err := eng.WaitClosed(t); err != nil {
			t.Errorf("closed with %v, want nil", err)
		}
	})

	payload := make([]byte, 10*allowed)
	for _, tc := range []struct {
		name string
		send func(w *rawWS) error
	}{
		{"one frame", func(w *rawWS) error { return w.frame(0x2, true, payload) }},
		{"fragments", func(w *rawWS) error {
			half := allowed / 2
			for i := 0; i < 20; i++ {
				op := byte(0x0)
				if i == 0 {
					op = 0x2
				}
				if err := w.frame(op, i == 19, payload[i*half:(i+1)*half]); err != nil {
					return err
				}
			}
			return nil
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The allocations are the whole process's: a goroutine of
			// another stream may allocate in the window too. The least of
			// up to three attempts is held to the bound; a server that
			// read the message whole would allocate its ten times the
			// limit on every attempt.
			var least uint64
			for attempt := 0; attempt < 3; attempt++ {
				alloc := refuse(t, e, tc.send)
				t.Logf("%d bytes sent, %d KiB allocated meanwhile (bound %d KiB)", len(payload), alloc>>10, bound*allowed>>10)
				if attempt == 0 || alloc < least {
					least = alloc
				}
				if least <= uint64(bound*allowed) {
					break
				}
			}
			if least > uint64(bound*allowed) {
				t.Errorf("%d bytes allocated refusing a %d-byte message, want under %d", least, len(payload), bound*allowed)
			}
		})
	}
}

// refuse sends an oversized message with send on a new stream, checks
// that it is refused with 1009 and counted, and returns the bytes the
// process allocated meanwhile.
func refuse(t *testing.T, e *env, send func(w *rawWS) error) uint64 {
	t.Helper()
	w := dialRaw(t, e, "?format=pcm&rate=8000")
	before := testutil.ToFloat64(e.srv.m.ended.WithLabelValues("oversized"))
	var st websocket.StatusCode
	alloc := ingesttest.Allocated(func() {
		_ = w.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
		werr := send(w) // the server may close before it is all sent
		var err error
		if st, err = w.closeStatus(10 * time.Second); err != nil {
			t.Errorf("no close frame: %v (write: %v)", err, werr)
		}
		waitFor(t, "the stream to end", func() bool {
			return testutil.ToFloat64(e.srv.m.ended.WithLabelValues("oversized")) == before+1
		})
	})
	if st != websocket.StatusMessageTooBig {
		t.Errorf("close status %v, want 1009", st)
	}
	return alloc
}
