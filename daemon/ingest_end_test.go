package daemon

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/earshot/earshot/store"
)

// sipClient is a hand-written SIP client on a UDP socket.
type sipClient struct {
	conn *net.UDPConn
	dst  *net.UDPAddr
}

func newSIPClient(t *testing.T, srv string) *sipClient {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	dst, err := net.ResolveUDPAddr("udp", srv)
	if err != nil {
		t.Fatal(err)
	}
	return &sipClient{conn: c, dst: dst}
}

// invite places a plain call whose one PCMU stream (direction dir) comes
// from mediaPort, and returns the server's To tag.
func (c *sipClient) invite(t *testing.T, callID string, mediaPort int, dir string) string {
	t.Helper()
	body := fmt.Sprintf("v=0\r\no=x 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio %d RTP/AVP 0\r\na=%s\r\n", mediaPort, dir)
	msg := fmt.Sprintf("INVITE sip:srs@%s SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bK-%s\r\nFrom: <sip:+4930123@pstn>;tag=c1\r\n"+
		"To: <sip:srs@%s>\r\nCall-ID: %s\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\nContact: <sip:c@%s>\r\n"+
		"Content-Type: application/sdp\r\nContent-Length: %d\r\n\r\n%s",
		c.dst, c.conn.LocalAddr(), callID, c.dst, callID, c.conn.LocalAddr(), len(body), body)
	if _, err := c.conn.WriteToUDP([]byte(msg), c.dst); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 8192)
	_ = c.conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	for {
		n, err := c.conn.Read(buf)
		if err != nil {
			t.Fatalf("no answer to the INVITE: %v", err)
		}
		r := string(buf[:n])
		if strings.HasPrefix(r, "SIP/2.0 1") {
			continue
		}
		if !strings.HasPrefix(r, "SIP/2.0 200") {
			line, _, _ := strings.Cut(r, "\r\n")
			t.Fatalf("INVITE: %s", line)
		}
		_, after, _ := strings.Cut(r, "\r\nTo: ")
		toLine, _, _ := strings.Cut(after, "\r\n")
		_, tag, _ := strings.Cut(toLine, "tag=")
		tag, _, _ = strings.Cut(tag, ";")
		ack := fmt.Sprintf("ACK sip:srs@%s SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bK-ack-%s\r\nFrom: <sip:+4930123@pstn>;tag=c1\r\n"+
			"To: <sip:srs@%s>;tag=%s\r\nCall-ID: %s\r\nCSeq: 1 ACK\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n", c.dst, c.conn.LocalAddr(), callID, c.dst, tag, callID)
		_, _ = c.conn.WriteToUDP([]byte(ack), c.dst)
		return tag
	}
}

// awaitBye waits for the server's BYE and answers it; it returns when the
// BYE came.
func (c *sipClient) awaitBye(t *testing.T, within time.Duration) time.Time {
	t.Helper()
	buf := make([]byte, 8192)
	_ = c.conn.SetReadDeadline(time.Now().Add(within))
	for {
		n, from, err := c.conn.ReadFromUDP(buf)
		if err != nil {
			t.Fatalf("no BYE from the server: %v", err)
		}
		r := string(buf[:n])
		if !strings.HasPrefix(r, "BYE ") {
			continue
		}
		at := time.Now()
		var hdrs []string
		for _, l := range strings.Split(r, "\r\n") {
			name, _, _ := strings.Cut(l, ":")
			switch strings.ToLower(name) {
			case "via", "from", "to", "call-id", "cseq":
				hdrs = append(hdrs, l)
			}
		}
		_, _ = c.conn.WriteToUDP([]byte("SIP/2.0 200 OK\r\n"+strings.Join(hdrs, "\r\n")+"\r\nContent-Length: 0\r\n\r\n"), from)
		return at
	}
}

// liveEngagement waits for the one engagement of a queue and returns it.
func liveEngagement(t *testing.T, td *testDaemon, queue string) store.Engagement {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var list []store.Engagement
		json.Unmarshal(td.mustCall(t, td.Admin, "GET", "/api/v1/engagements?queue="+queue, nil, 200), &list)
		if len(list) == 1 {
			return list[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("engagements of %s = %+v, want one", queue, list)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestSIPCallEndsWithItsEngagement: ending a SIP call's engagement
// through the API ends the call: the server sends BYE, frees the call and
// counts it. The hub used to mark engagements ended while their calls
// went on.
func TestSIPCallEndsWithItsEngagement(t *testing.T) {
	td := startDaemon(t, func(c *Config) { c.Media.Engine = "none" })
	td.mustCall(t, td.Admin, "POST", "/api/v1/queues", queueRequest{ID: "support"}, 201)
	s := startSIP(t, td, func(c *SIPConfig) { c.DefaultQueue = "support" })
	c := newSIPClient(t, s.srv.UDPAddr())
	c.invite(t, "end-by-api@test", 30000, "sendonly")
	e := liveEngagement(t, td, "support")
	td.mustCall(t, td.Admin, "POST", "/api/v1/engagements/"+e.ID+"/end", nil, 202)
	c.awaitBye(t, 20*time.Second)
	waitEnded(t, td, e.ID)
	deadline := time.Now().Add(10 * time.Second)
	for s.srv.Calls() != 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := s.srv.Calls(); n != 0 {
		t.Errorf("%d calls in progress after the engagement ended", n)
	}
	if got := metricValue(t, td, `earshot_sip_calls_ended_total{reason="engagement_ended"}`); got != "1" {
		t.Errorf("calls ended with their engagement = %q, want 1", got)
	}
}

// TestSIPHoldOutlivesMediaTimeout: a call on hold keeps its engagement
// past the hub's media timeout (the hold is the call's own business, up to
// the hold timeout) and is then ended with a BYE at the hold timeout.
func TestSIPHoldOutlivesMediaTimeout(t *testing.T) {
	const mediaTimeout, hold = 3 * time.Second, 6 * time.Second
	td := startDaemon(t, func(c *Config) {
		c.Engagements.MediaTimeout = Duration(mediaTimeout)
		// No recogniser to load: the engagement's clock starts before the
		// call is answered, and loading one takes seconds.
		c.Media.Engine = "none"
	})
	td.mustCall(t, td.Admin, "POST", "/api/v1/queues", queueRequest{ID: "support"}, 201)
	s := startSIP(t, td, func(c *SIPConfig) { c.DefaultQueue, c.HoldTimeout = "support", hold })
	c := newSIPClient(t, s.srv.UDPAddr())
	start := time.Now()
	c.invite(t, "held@test", 30000, "inactive")
	e := liveEngagement(t, td, "support")
	bye := c.awaitBye(t, 20*time.Second)
	if d := bye.Sub(start); d < hold {
		t.Errorf("the held call ended after %s, before the hold timeout %s (the hub's media timeout is %s)", d.Round(time.Millisecond), hold, mediaTimeout)
	}
	waitEnded(t, td, e.ID)
	if got := metricValue(t, td, `earshot_sip_calls_ended_total{reason="hold_timeout"}`); got != "1" {
		_, body := td.call(t, "", "GET", "/metrics", nil)
		t.Errorf("calls ended by the hold timeout = %q, want 1; %s", got, regexp.MustCompile(`(?m)^earshot_(sip_calls_ended|engagements_ended)_total.*$`).FindAllString(string(body), -1))
	}
}

// TestStreamEndsWithItsEngagement: ending a WebSocket stream's engagement
// through the API closes the stream (1000) and counts it; a stream used to
// keep its slot after the hub had ended the engagement.
func TestStreamEndsWithItsEngagement(t *testing.T) {
	td := startDaemon(t, func(c *Config) { c.Media.Engine = "none" })
	td.mustCall(t, td.Admin, "POST", "/api/v1/queues", queueRequest{ID: "cards"}, 201)
	tok := td.tokenFor(t, "twilio", RoleIngest, "cards")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(td.URL, "http")+"/api/v1/ingest/stream?access_token="+tok, nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer ws.CloseNow()
	for i, m := range []string{
		`{"event":"start","sequenceNumber":"1","start":{"streamSid":"MZ9","callSid":"CA9","tracks":["inbound"],` +
			`"customParameters":{"queue":"cards"},"mediaFormat":{"encoding":"audio/x-mulaw","sampleRate":8000,"channels":1}}}`,
		`{"event":"media","sequenceNumber":"2","media":{"track":"inbound","chunk":"1","timestamp":"0","payload":"` +
			base64.StdEncoding.EncodeToString([]byte(strings.Repeat("\xff", 160))) + `"}}`,
	} {
		if err := ws.Write(ctx, websocket.MessageText, []byte(m)); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
	}
	e := liveEngagement(t, td, "cards")
	td.mustCall(t, td.Admin, "POST", "/api/v1/engagements/"+e.ID+"/end", nil, 202)
	for {
		if _, _, err := ws.Read(ctx); err != nil {
			if st := websocket.CloseStatus(err); st != websocket.StatusNormalClosure {
				t.Errorf("stream closed with %v (%v), want 1000", st, err)
			}
			break
		}
	}
	waitEnded(t, td, e.ID)
	deadline := time.Now().Add(10 * time.Second)
	for metricValue(t, td, `earshot_wsstream_streams_ended_total{reason="engagement_ended"}`) != "1" {
		if time.Now().After(deadline) {
			t.Fatal("streams ended with their engagement not counted")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
