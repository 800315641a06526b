package whip

import (
	"bytes"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
)

func patch(t *testing.T, url, ctype, body string) int {
	t.Helper()
	req, _ := http.NewRequest("PATCH", url, strings.NewReader(body))
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestTrickleICE posts an offer without candidates and trickles the
// client's candidates with PATCH (RFC 9725 section 4.3); the session
// connects and carries audio. Bad PATCHes are refused.
func TestTrickleICE(t *testing.T) {
	e := testServer(t, nil)
	pc, tr := newClientPC(t, pcmuCodec)
	cands := make(chan string, 16)
	pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		if c != nil {
			cands <- c.ToJSON().Candidate
		}
	})
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
	if strings.Contains(offer.SDP, "a=candidate") {
		t.Fatal("offer already has candidates")
	}
	if err := pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	location, answer := postOffer(t, e.hs.URL+"/whip", offer.SDP)
	// Only the allowed candidates are offered: loopback, ports 40000-40999.
	cre := regexp.MustCompile(`a=candidate:\S+ \d+ (\S+) \d+ (\S+) (\d+) typ`)
	found := cre.FindAllStringSubmatch(answer, -1)
	if len(found) == 0 {
		t.Fatalf("answer has no candidates:\n%s", answer)
	}
	for _, m := range found {
		port, _ := strconv.Atoi(m[3])
		if m[1] != "udp" && m[1] != "UDP" || m[2] != "127.0.0.1" || port < 40000 || port > 40999 {
			t.Errorf("candidate %s %s:%s outside the configured interfaces, addresses and ports", m[1], m[2], m[3])
		}
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		t.Fatal(err)
	}
	url := e.hs.URL + location
	const frag = "application/trickle-ice-sdpfrag"
	for _, tc := range []struct {
		name, url, ctype, body string
		want                   int
	}{
		{"unknown session", e.hs.URL + "/whip/nosuch", frag, "a=mid:0\r\n", 404},
		{"wrong content type", url, "application/sdp", "a=mid:0\r\n", 415},
		{"ICE restart", url, frag, "a=ice-ufrag:other\r\na=ice-pwd:otherpasswordotherpassword\r\n", 422},
		{"bad candidate", url, frag, "a=mid:0\r\na=candidate:nonsense\r\n", 400},
	} {
		if got := patch(t, tc.url, tc.ctype, tc.body); got != tc.want {
			t.Errorf("%s: PATCH = %d, want %d", tc.name, got, tc.want)
		}
	}
	sent := 0
	for sent == 0 {
		select {
		case c := <-cands:
			if got := patch(t, url, frag, "a=mid:0\r\na="+c+"\r\n"); got != 204 {
				t.Fatalf("PATCH candidate: %d, want 204", got)
			}
			sent++
		case <-time.After(20 * time.Second):
			t.Fatal("no client candidate gathered")
		}
	}
	select {
	case <-connected:
	case <-time.After(30 * time.Second):
		t.Fatal("not connected after trickling candidates")
	}
	c := &pionClient{pc: pc, track: tr, location: location}
	c.send(t, 1, 10, func(int) []byte { return bytes.Repeat([]byte{0x10, 0x90}, 80) })
	var eng *recEngagement
	select {
	case eng = <-e.col.opened:
	case <-time.After(10 * time.Second):
		t.Fatal("no engagement opened")
	}
	waitFor(t, "audio", func() bool { return eng.Party("customer").Seconds() >= 0.2 })

	// Shutdown ends the session; the engagement is closed without error.
	if err := e.srv.Close(); err != nil {
		t.Fatal(err)
	}
	if err := eng.WaitClosed(t); err != nil {
		t.Errorf("engagement closed with %v at shutdown, want nil", err)
	}
	if got := patch(t, url, frag, "a=mid:0\r\n"); got != 404 {
		t.Errorf("PATCH after shutdown: %d, want 404", got)
	}
}
