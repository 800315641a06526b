package whip

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/earshot/earshot/media/codec"
	"github.com/pion/ice/v4"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// pionClient is a WHIP publisher built on pion: a real WebRTC stack whose
// RTP the test writes packet by packet, to send what browsers never do.
type pionClient struct {
	pc       *webrtc.PeerConnection
	track    *webrtc.TrackLocalStaticRTP
	location string
	answer   string
}

func dialPion(t *testing.T, whipURL string, codec webrtc.RTPCodecParameters) *pionClient {
	t.Helper()
	return dialPionWith(t, whipURL, codec, nil)
}

// dialPionWith is dialPion with a hook on the peer connection before the
// offer is made (OnTrack, say).
func dialPionWith(t *testing.T, whipURL string, codec webrtc.RTPCodecParameters, hook func(*webrtc.PeerConnection)) *pionClient {
	t.Helper()
	pc, tr := newClientPC(t, codec)
	if hook != nil {
		hook(pc)
	}
	connected := make(chan struct{})
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateConnected {
			close(connected)
		}
	})
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	<-gathered
	location, answer := postOffer(t, whipURL, pc.LocalDescription().SDP)
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-connected:
	case <-time.After(30 * time.Second):
		t.Fatal("pion client not connected within 30 s")
	}
	return &pionClient{pc: pc, track: tr, location: location, answer: answer}
}

// postOffer POSTs an offer and returns the Location and the answer.
func postOffer(t *testing.T, whipURL, offer string) (string, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", whipURL, strings.NewReader(offer))
	req.Header.Set("Content-Type", "application/sdp")
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Fatalf("POST: %d %s", resp.StatusCode, body)
	}
	return resp.Header.Get("Location"), string(body)
}

// newClientPC returns a loopback-only pion peer connection with one audio
// track (track id "customer").
func newClientPC(t *testing.T, codec webrtc.RTPCodecParameters) (*webrtc.PeerConnection, *webrtc.TrackLocalStaticRTP) {
	t.Helper()
	me := &webrtc.MediaEngine{}
	if err := me.RegisterCodec(codec, webrtc.RTPCodecTypeAudio); err != nil {
		t.Fatal(err)
	}
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetInterfaceFilter(func(n string) bool { return n == "lo" })
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	pc, err := webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithSettingEngine(se)).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	tr, err := webrtc.NewTrackLocalStaticRTP(codec.RTPCodecCapability, "customer", "call")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pc.AddTrack(tr); err != nil {
		t.Fatal(err)
	}
	return pc, tr
}

// send writes n PCMU packets of 20 ms starting at seq (timestamps follow),
// paced at 10 ms so the test stays short.
func (c *pionClient) send(t *testing.T, seq uint16, n int, payload func(i int) []byte) uint16 {
	t.Helper()
	for i := range n {
		p := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: seq, Timestamp: uint32(seq) * 160, SSRC: 1234},
			Payload: payload(i)}
		if err := c.track.WriteRTP(p); err != nil {
			t.Fatal(err)
		}
		seq++
		time.Sleep(10 * time.Millisecond)
	}
	return seq
}

// TestBadRTP sends oversized RTP payloads inside a real SRTP session and
// raw garbage datagrams to the server's ICE port: the bad packets are
// dropped and counted, the session keeps its audio and goes on decoding,
// and a second session is served meanwhile.
func TestBadRTP(t *testing.T) {
	t.Parallel()
	e := testServer(t, nil)
	c, eng := e.publish(t, "bad")
	tone := func(int) []byte { return bytes.Repeat([]byte{0x10, 0x90}, 80) } // loud square wave
	seq := c.send(t, 100, 25, tone)
	waitFor(t, "first audio", func() bool { return eng.Party("customer").Seconds() >= 0.4 })
	before := eng.Party("customer").Seconds()

	// Oversized: 1300-byte payloads (over max_payload_bytes 1200, under the MTU).
	seq = c.send(t, seq, 5, func(int) []byte { return bytes.Repeat([]byte{0x55}, 1300) })
	// Garbage straight to the ICE/DTLS/SRTP port.
	m := regexp.MustCompile(`a=candidate:\S+ 1 udp \d+ 127\.0\.0\.1 (\d+) typ host`).FindStringSubmatch(c.answer)
	if m == nil {
		t.Fatalf("no loopback candidate in answer:\n%s", c.answer)
	}
	conn, err := net.Dial("udp", "127.0.0.1:"+m[1])
	if err != nil {
		t.Fatal(err)
	}
	for i := range 200 {
		junk := bytes.Repeat([]byte{byte(i), 0x80, 0x00, byte(i * 7)}, 1+i%300)
		junk[0] = 0x80 // looks like RTP
		_, _ = conn.Write(junk)
	}
	conn.Close()

	// A second session is served while the first is being hit.
	other, otherEng := e.publish(t, "other")
	other.send(t, 1, 10, tone)
	waitFor(t, "second session audio", func() bool { return otherEng.Party("customer").Seconds() >= 0.15 })

	// The first session goes on.
	c.send(t, seq, 25, tone)
	waitFor(t, "audio after the bad packets", func() bool { return eng.Party("customer").Seconds() >= before+0.4 })
	if got := testutil.ToFloat64(e.srv.m.dropped.WithLabelValues(string(codec.PCMU), "oversized")); got != 5 {
		t.Errorf("oversized drops = %v, want 5", got)
	}
	// The pipeline fills the 5 dropped packets with silence: the timeline
	// stays whole.
	st := eng.PE.Stats()["customer"]
	if st.AudioMs != (25+25)*20 || st.SilenceMs != 5*20 {
		t.Errorf("pipeline stats: %d ms audio, %d ms silence, want %d and %d", st.AudioMs, st.SilenceMs, (25+25)*20, 5*20)
	}
	if e.srv.Sessions() != 2 {
		t.Errorf("%d sessions, want 2 still open", e.srv.Sessions())
	}
	select {
	case <-eng.Done():
		t.Fatalf("first session closed: %v", eng.Err())
	default:
	}
}

// TestTimeouts ends a session that never connects and one that connects
// but sends no audio; each sink is closed with the reason, and counted.
func TestTimeouts(t *testing.T) {
	t.Parallel()
	e := testServer(t, func(c *Config) {
		c.ConnectTimeout = time.Second
		c.IdleTimeout = time.Second
	})
	// Never connects: the offer is posted, the answer ignored.
	req, _ := http.NewRequest("POST", e.hs.URL+"/whip", strings.NewReader(pionOffer(t, []webrtc.RTPCodecParameters{opusCodec}, 1)))
	req.Header.Set("Content-Type", "application/sdp")
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 201 {
		t.Fatalf("POST: %v %v", err, resp)
	}
	resp.Body.Close()
	s1 := <-e.col.opened
	// Connects, sends nothing.
	dialPion(t, e.hs.URL+"/whip", pcmuCodec)
	s2 := <-e.col.opened
	for _, tc := range []struct {
		eng    *recEngagement
		reason string
	}{{s1, "connect_timeout"}, {s2, "idle_timeout"}} {
		select {
		case <-tc.eng.Done():
		case <-time.After(30 * time.Second):
			t.Fatalf("%s: engagement not closed", tc.reason)
		}
		if tc.eng.Err() == nil {
			t.Errorf("%s: engagement closed with nil error", tc.reason)
		}
	}
	waitFor(t, "sessions ended", func() bool { return e.srv.Sessions() == 0 })
	for _, r := range []string{"connect_timeout", "idle_timeout"} {
		if got := testutil.ToFloat64(e.srv.m.ended.WithLabelValues(r)); got != 1 {
			t.Errorf("sessions_ended_total{reason=%s} = %v, want 1", r, got)
		}
	}
}

// TestLongPackets sends 40 ms PCMU packets (as GStreamer does) over a real
// WebRTC session: no gap is seen and every sample arrives.
func TestLongPackets(t *testing.T) {
	t.Parallel()
	e := testServer(t, nil)
	c, eng := e.publish(t, "long")
	for i := range 25 {
		p := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: uint16(7 + i), Timestamp: uint32(1000 + 320*i), SSRC: 99},
			Payload: bytes.Repeat([]byte{0x10, 0x90}, 160)}
		if err := c.track.WriteRTP(p); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	waitFor(t, "audio", func() bool { return eng.PE.Stats()["customer"].AudioMs >= 1000 })
	st := eng.PE.Stats()["customer"]
	if st.AudioMs != 1000 || st.SilenceMs != 0 || st.PacketsLost != 0 {
		t.Errorf("stats %+v, want 1000 ms audio, no silence, no loss", st)
	}
}

// TestReorderedRTP sends packets with neighbours swapped, as a network
// path change does: the jitter buffer puts them back in order, so none is
// late, no silence is inserted and the audio is whole.
func TestReorderedRTP(t *testing.T) {
	t.Parallel()
	e := testServer(t, nil)
	c, eng := e.publish(t, "reorder")
	const n = 40
	order := make([]uint16, 0, n)
	for i := uint16(0); i < n; i += 2 {
		order = append(order, 101+i, 100+i) // each pair swapped
	}
	for _, seq := range order {
		p := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: seq, Timestamp: uint32(seq) * 160, SSRC: 77},
			Payload: bytes.Repeat([]byte{byte(seq), 0x90}, 80)}
		if err := c.track.WriteRTP(p); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	waitFor(t, "the audio", func() bool { return eng.PE.Stats()["customer"].AudioMs >= (n-1)*20 })
	st := eng.PE.Stats()["customer"]
	// The first packet sent (101) sets the stream's start, so 100 comes
	// too late; every later pair is reordered.
	if st.PacketsLate != 1 || st.PacketsLost != 0 || st.SilenceMs != 0 || st.AudioMs != (n-1)*20 {
		t.Errorf("pipeline stats: %d late, %d lost, %d ms silence, %d ms audio; want 1, 0, 0, %d",
			st.PacketsLate, st.PacketsLost, st.SilenceMs, st.AudioMs, (n-1)*20)
	}
	if got := testutil.ToFloat64(e.srv.m.reordered.WithLabelValues(string(codec.PCMU))); got != n/2-1 {
		t.Errorf("reordered = %v, want %d", got, n/2-1)
	}
}
