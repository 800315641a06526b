package whip

import (
	"bytes"
	"fmt"
	"path"
	"strings"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
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
	ss := e.srv.lookup(path.Base(c.location))
	if ss == nil {
		t.Fatalf("no session at %s", c.location)
	}
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
	ended := time.Now()
	close(stop)
	n := <-sent
	// The server's own time of the last audio it received (the client's
	// clock would run late of it on a loaded machine).
	lastMedia := time.Unix(0, ss.lastRTP.Load())
	if d := ended.Sub(lastMedia); d < idle {
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

// hostCandidates is an SDP fragment of n host candidates on loopback
// ports from port on, for m-section 0.
func hostCandidates(n, port int) string {
	var b strings.Builder
	b.WriteString("a=mid:0\r\n")
	for i := range n {
		fmt.Fprintf(&b, "a=candidate:%d 1 udp 2130706431 127.0.0.1 %d typ host\r\n", port+i, port+i)
	}
	return b.String()
}

// TestTooManyCandidates: a session takes at most maxRemoteCandidates ICE
// candidates from its client, offered and trickled together; an offer or
// a fragment taking it over is refused (400), counted, and the session
// goes on. Each candidate costs connectivity checks for the session's
// life, and there was no bound.
func TestTooManyCandidates(t *testing.T) {
	t.Parallel()
	e := testServer(t, nil)
	offer := pionOffer(t, []webrtc.RTPCodecParameters{pcmuCodec}, 1)
	if strings.Contains(offer, "a=candidate:") {
		t.Fatal("the offer has candidates already")
	}
	const frag = "application/trickle-ice-sdpfrag"

	// An offer with one candidate too many is refused.
	before := testutil.ToFloat64(e.srv.m.refused.WithLabelValues("bad_sdp"))
	crowded := offer + hostCandidates(maxRemoteCandidates+1, 20000)[len("a=mid:0\r\n"):]
	resp := authRequest(t, "POST", e.hs.URL+"/whip?engagement=crowded", "application/sdp", strings.NewReader(crowded))
	if resp.StatusCode != 400 || testutil.ToFloat64(e.srv.m.refused.WithLabelValues("bad_sdp")) != before+1 {
		t.Errorf("offer with %d candidates: %d, want 400 counted as bad_sdp", maxRemoteCandidates+1, resp.StatusCode)
	}

	// Trickled: up to the bound, then refused.
	location, _ := postOffer(t, e.hs.URL+"/whip?engagement=trickled", offer+hostCandidates(10, 20000)[len("a=mid:0\r\n"):])
	url := e.hs.URL + location
	if got := patch(t, url, frag, hostCandidates(maxRemoteCandidates-10, 21000)); got != 204 {
		t.Fatalf("PATCH up to %d candidates: %d, want 204", maxRemoteCandidates, got)
	}
	if got := patch(t, url, frag, hostCandidates(1, 22000)); got != 400 {
		t.Errorf("PATCH of one candidate more: %d, want 400", got)
	}
	if got := testutil.ToFloat64(e.srv.m.sessRefused.WithLabelValues("PATCH", "too_many_candidates")); got != 1 {
		t.Errorf("session_refusals_total{PATCH,too_many_candidates} = %v, want 1", got)
	}
	if got := patch(t, url, frag, "a=mid:0\r\n"); got != 204 {
		t.Errorf("PATCH without candidates after the refusal: %d, want 204", got)
	}
}
