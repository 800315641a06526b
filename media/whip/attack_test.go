package whip

import (
	"bytes"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestEngagementEndClosesSession: when the engagement ends on its own side
// (the daemon's hub: its media timeout, the API's end, a revoked token),
// the WHIP session and its peer connection are closed, counted.
func TestEngagementEndClosesSession(t *testing.T) {
	t.Parallel()
	e := testServer(t, nil)
	c, eng := e.publish(t, "ended")
	c.send(t, 1, 10, func(int) []byte { return bytes.Repeat([]byte{0x10, 0x90}, 80) })
	waitFor(t, "audio", func() bool { return eng.PE.Stats()["customer"].AudioMs >= 200 })
	eng.End()
	if err := eng.WaitClosed(t); err == nil {
		t.Error("engagement closed with nil, want the reason")
	}
	waitFor(t, "the session to end", func() bool { return e.srv.Sessions() == 0 })
	if got := testutil.ToFloat64(e.srv.m.ended.WithLabelValues("engagement_ended")); got != 1 {
		t.Errorf("sessions_ended_total{engagement_ended} = %v, want 1", got)
	}
	if e.srv.lookup(c.location[len("/whip/"):]) != nil {
		t.Error("the session can still be found")
	}
}

// TestPaddingDoesNotHoldSession: after its audio a client sends only
// padding-only packets (no payload); they are dropped and counted and do
// not hold off the idle timeout.
func TestPaddingDoesNotHoldSession(t *testing.T) {
	t.Parallel()
	const idle = time.Second
	e := testServer(t, func(c *Config) { c.IdleTimeout = idle })
	c, eng := e.publish(t, "padding")
	seq := c.send(t, 1, 10, func(int) []byte { return bytes.Repeat([]byte{0x10, 0x90}, 80) })
	waitFor(t, "audio", func() bool { return eng.PE.Stats()["customer"].AudioMs >= 200 })
	lastMedia := time.Now()
	stop := make(chan struct{})
	sent := make(chan int)
	go func() {
		n := 0
		defer func() { sent <- n }()
		for {
			select {
			case <-stop:
				return
			case <-time.After(idle / 10):
			}
			p := &rtp.Packet{Header: rtp.Header{Version: 2, Padding: true, PayloadType: 0, SequenceNumber: seq, Timestamp: uint32(seq) * 160, SSRC: 1234},
				PaddingSize: 32}
			if c.track.WriteRTP(p) != nil {
				return
			}
			seq++
			n++
		}
	}()
	select {
	case <-eng.Done():
	case <-time.After(10 * idle):
		t.Fatal("a session sending only padding was not ended by the idle timeout")
	}
	close(stop)
	n := <-sent
	if d := time.Since(lastMedia); d < idle {
		t.Errorf("ended %s after the last audio, before the idle timeout %s", d, idle)
	}
	if got := testutil.ToFloat64(e.srv.m.ended.WithLabelValues("idle_timeout")); got != 1 {
		t.Errorf("sessions_ended_total{idle_timeout} = %v, want 1", got)
	}
	if got := testutil.ToFloat64(e.srv.m.dropped.WithLabelValues("pcmu", "empty")); got == 0 || n == 0 {
		t.Errorf("%d padding packets sent, %v dropped as empty; want some of each", n, got)
	}
}

// TestSequenceRestart: a sender that restarts its sequence numbers (same
// SSRC, a jump of thousands, which SRTP allows forward) is not taken to
// have lost thousands of packets: the party sees the numbering carry on.
func TestSequenceRestart(t *testing.T) {
	t.Parallel()
	e := testServer(t, nil)
	c, eng := e.publish(t, "restart")
	tone := func(int) []byte { return bytes.Repeat([]byte{0x10, 0x90}, 80) }
	c.send(t, 100, 20, tone)
	c.send(t, 5100, 20, tone) // restarted
	waitFor(t, "the audio after the restart", func() bool { return eng.PE.Stats()["customer"].AudioMs >= 800 })
	if st := eng.PE.Stats()["customer"]; st.PacketsLate != 0 || st.PacketsLost != 0 || st.AudioMs != 800 {
		t.Errorf("pipeline stats: %d late, %d lost, %d ms audio; want 0, 0 and 800", st.PacketsLate, st.PacketsLost, st.AudioMs)
	}
}
