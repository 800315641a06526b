package sip

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"

	"github.com/earshot/earshot/media/ingest"
	"github.com/earshot/earshot/media/pipeline"
)

// uac is a hand-written SIP client on a UDP socket, for requests no real
// client would send.
type uac struct {
	conn  *net.UDPConn
	srv   *net.UDPAddr
	n     int
	laddr string // overrides conn's address (TCP)
}

func newUAC(t *testing.T, srvAddr string) *uac {
	t.Helper()
	return newUACAt(t, srvAddr, net.IPv4(127, 0, 0, 1))
}

// newUACAt is a client on a given loopback address (127.0.0.2 stands for
// a host outside the allowed sources).
func newUACAt(t *testing.T, srvAddr string, ip net.IP) *uac {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: ip})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	a, err := net.ResolveUDPAddr("udp", srvAddr)
	if err != nil {
		t.Fatal(err)
	}
	return &uac{conn: c, srv: a}
}

func (u *uac) local() string {
	if u.laddr != "" {
		return u.laddr
	}
	return u.conn.LocalAddr().String()
}

// request builds a request; hdrs are extra header lines.
func (u *uac) request(method, callID, toTag string, cseq int, hdrs []string, ctype string, body string) string {
	u.n++
	var b strings.Builder
	fmt.Fprintf(&b, "%s sip:srs@%s SIP/2.0\r\n", method, u.srv)
	fmt.Fprintf(&b, "Via: SIP/2.0/UDP %s;branch=z9hG4bK-test-%s-%d\r\n", u.local(), strings.ReplaceAll(callID, "@", "."), u.n)
	fmt.Fprintf(&b, "From: <sip:+15550001111@%s>;tag=%s\r\n", u.local(), uacTag(callID))
	to := fmt.Sprintf("To: <sip:srs@%s>", u.srv)
	if toTag != "" {
		to += ";tag=" + toTag
	}
	b.WriteString(to + "\r\n")
	fmt.Fprintf(&b, "Call-ID: %s\r\nCSeq: %d %s\r\nMax-Forwards: 70\r\nContact: <sip:uac@%s>\r\n", callID, cseq, method, u.local())
	for _, h := range hdrs {
		b.WriteString(h + "\r\n")
	}
	if ctype != "" {
		b.WriteString("Content-Type: " + ctype + "\r\n")
	}
	fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n%s", len(body), body)
	return b.String()
}

// uacTag is the client's From tag in the dialog of a call.
func uacTag(callID string) string {
	return "uac-" + strings.NewReplacer("@", "-", ".", "-").Replace(callID)
}

func (u *uac) send(t *testing.T, msg string) {
	t.Helper()
	if _, err := u.conn.WriteToUDP([]byte(msg), u.srv); err != nil {
		t.Fatal(err)
	}
}

// final waits for the final response to the request with this Call-ID and
// CSeq number (skipping 1xx and retransmitted responses to earlier
// requests), and ACKs a refused INVITE.
func (u *uac) final(callID string, cseq uint32) (*sipmsg.Response, error) {
	buf := make([]byte, 65535)
	deadline := time.Now().Add(15 * time.Second)
	for {
		_ = u.conn.SetReadDeadline(deadline)
		n, err := u.conn.Read(buf)
		if err != nil {
			return nil, fmt.Errorf("no SIP response to %s: %w", callID, err)
		}
		m, err := sipmsg.ParseMessage(buf[:n])
		if err != nil {
			return nil, fmt.Errorf("unparsable response: %w", err)
		}
		res, ok := m.(*sipmsg.Response)
		if !ok || res.StatusCode < 200 || res.CallID().Value() != callID || res.CSeq().SeqNo != cseq {
			continue
		}
		if cs := res.CSeq(); cs.MethodName == sipmsg.INVITE && res.StatusCode >= 300 {
			to := res.To()
			ack := fmt.Sprintf("ACK sip:srs@%s SIP/2.0\r\nVia: %s\r\nFrom: %s\r\nTo: %s\r\nCall-ID: %s\r\nCSeq: %d ACK\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
				u.srv, res.Via().Value(), res.From().Value(), to.Value(), callID, cs.SeqNo)
			if _, err := u.conn.WriteToUDP([]byte(ack), u.srv); err != nil {
				return nil, err
			}
		}
		return res, nil
	}
}

// try sends a request and returns its final response.
func (u *uac) try(msg string) (*sipmsg.Response, error) {
	if _, err := u.conn.WriteToUDP([]byte(msg), u.srv); err != nil {
		return nil, err
	}
	_, rest, _ := strings.Cut(msg, "Call-ID: ")
	id, _, _ := strings.Cut(rest, "\r\n")
	_, rest, _ = strings.Cut(msg, "CSeq: ")
	n, _, _ := strings.Cut(rest, " ")
	cseq, _ := strconv.ParseUint(n, 10, 32)
	return u.final(id, uint32(cseq))
}

// do sends a request and returns its final response.
func (u *uac) do(t *testing.T, msg string) *sipmsg.Response {
	t.Helper()
	res, err := u.try(msg)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func sdpOffer(port int, pts string, extra ...string) string {
	s := "v=0\r\no=uac 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
	s += fmt.Sprintf("m=audio %d RTP/AVP %s\r\n", port, pts)
	for _, e := range extra {
		s += e + "\r\n"
	}
	return s
}

const boundary = "b0undary"

func mpBody(parts ...[2]string) string {
	var b strings.Builder
	for _, p := range parts {
		fmt.Fprintf(&b, "--%s\r\nContent-Type: %s\r\n\r\n%s\r\n", boundary, p[0], p[1])
	}
	b.WriteString("--" + boundary + "--\r\n")
	return b.String()
}

// twoStreamsAt is a SIPREC offer of two sendonly PCMU streams, labels 1
// and 2, sent from 127.0.0.1 ports p1 and p2.
func twoStreamsAt(p1, p2 int) string {
	return "v=0\r\no=src 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
		fmt.Sprintf("m=audio %d RTP/AVP 0\r\na=label:1\r\na=sendonly\r\nm=audio %d RTP/AVP 0\r\na=label:2\r\na=sendonly\r\n", p1, p2)
}

// twoStreams is an offer for calls that get no RTP.
var twoStreams = twoStreamsAt(30000, 30002)

const metaUnknownStream = `<?xml version="1.0"?><recording xmlns="urn:ietf:params:xml:ns:recording:1">
<participant participant_id="p1"><nameID aor="sip:2001@pbx"/></participant>
<stream stream_id="s1"><label>1</label></stream><stream stream_id="s9"><label>9</label></stream>
<participantstreamassoc participant_id="p1"><send>s1</send></participantstreamassoc></recording>`

// TestBadSignalling: malformed SIP, bodies without SDP or with broken
// metadata, unsupported codecs, a source outside the allow-list, a busy
// pipeline: each gets its SIP response (or is dropped), a log line and a
// counted reason, and a good call placed afterwards works.
func TestBadSignalling(t *testing.T) {
	e := testServer(t, nil)
	u := newUAC(t, e.srv.UDPAddr())
	siprec := []string{"Require: siprec"}
	mp := "multipart/mixed;boundary=" + boundary
	cases := []struct {
		name   string
		hdrs   []string
		ctype  string
		body   string
		status int
		reason string
	}{
		{"multipart without SDP", siprec, mp, mpBody([2]string{"application/rs-metadata+xml", metaUnknownStream}), 415, "unsupported_body"},
		{"text body", nil, "text/plain", "hello", 415, "unsupported_body"},
		{"metadata names an unknown stream", siprec, mp, mpBody([2]string{"application/sdp", twoStreams},
			[2]string{"application/rs-metadata+xml", metaUnknownStream}), 400, "bad_body"},
		{"metadata not XML", siprec, mp, mpBody([2]string{"application/sdp", twoStreams},
			[2]string{"application/rs-metadata+xml", "<recording><participant"}), 400, "bad_body"},
		{"SDP garbage", nil, "application/sdp", "this is not SDP", 400, "bad_body"},
		{"only Opus", nil, "application/sdp", sdpOffer(30000, "111", "a=rtpmap:111 opus/48000/2"), 488, "not_acceptable"},
		{"SRTP profile", nil, "application/sdp", strings.Replace(sdpOffer(30000, "0"), "RTP/AVP", "RTP/SAVP", 1), 488, "not_acceptable"},
		{"no audio", nil, "application/sdp", strings.Replace(sdpOffer(30000, "0"), "m=audio", "m=video", 1), 488, "not_acceptable"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := e.counter(t, e.srv.m.refused.WithLabelValues(tc.reason))
			res := u.do(t, u.request("INVITE", "bad-"+strconv.Itoa(i)+"@test", "", 1, tc.hdrs, tc.ctype, tc.body))
			if res.StatusCode != tc.status {
				t.Errorf("status %d %s, want %d", res.StatusCode, res.Reason, tc.status)
			}
			if w := res.GetHeader("Warning"); tc.status != 415 && w == nil {
				t.Error("refusal without a Warning header naming the cause")
			}
			if got := e.counter(t, e.srv.m.refused.WithLabelValues(tc.reason)); got != before+1 {
				t.Errorf("refusals{reason=%s} = %v, want %v", tc.reason, got, before+1)
			}
		})
	}
	t.Run("malformed datagram", func(t *testing.T) {
		u.send(t, "INVITE this is not\r\nSIP at all\r\n\r\n")
		u.send(t, "\x00\x01garbage")
		deadline := time.Now().Add(5 * time.Second)
		for e.counter(t, e.srv.m.malformed) < 2 && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if got := e.counter(t, e.srv.m.malformed); got != 2 {
			t.Errorf("malformed messages = %v, want 2", got)
		}
		if res := u.do(t, u.request("OPTIONS", "opt@test", "", 1, nil, "", "")); res.StatusCode != 200 {
			t.Errorf("OPTIONS after garbage: %d, want 200", res.StatusCode)
		}
	})
	t.Run("busy", func(t *testing.T) {
		e.col.mu.Lock()
		e.col.refuse = fmt.Errorf("test: %w", pipeline.ErrBusy)
		e.col.mu.Unlock()
		defer func() {
			e.col.mu.Lock()
			e.col.refuse = nil
			e.col.mu.Unlock()
		}()
		res := u.do(t, u.request("INVITE", "busy@test", "", 1, nil, "application/sdp", sdpOffer(30000, "0")))
		if res.StatusCode != 486 {
			t.Errorf("status %d, want 486 Busy Here", res.StatusCode)
		}
		if e.srv.Calls() != 0 {
			t.Errorf("%d calls after refusal", e.srv.Calls())
		}
	})
	t.Run("unknown dialog", func(t *testing.T) {
		if res := u.do(t, u.request("BYE", "nosuch@test", "abc", 2, nil, "", "")); res.StatusCode != 481 {
			t.Errorf("BYE of no call: %d, want 481", res.StatusCode)
		}
	})
	// A good call still works.
	tag, _, eng := e.call(t, u, "good@test")
	e.hangUp(t, u, "good@test", tag, eng)
}

// TestForbiddenSource: with an allow-list that excludes loopback, INVITE
// and OPTIONS get 403 and nothing is opened.
func TestForbiddenSource(t *testing.T) {
	e := testServer(t, func(c *Config) { c.AllowedSources = []string{"10.0.0.0/8", "192.0.2.7"} })
	u := newUAC(t, e.srv.UDPAddr())
	for _, m := range []string{"INVITE", "OPTIONS"} {
		res := u.do(t, u.request(m, "forbidden-"+m+"@test", "", 1, nil, "application/sdp", sdpOffer(30000, "0")))
		if res.StatusCode != 403 {
			t.Errorf("%s from 127.0.0.1: %d, want 403", m, res.StatusCode)
		}
	}
	if got := e.counter(t, e.srv.m.refused.WithLabelValues("forbidden_source")); got != 2 {
		t.Errorf("refusals{forbidden_source} = %v, want 2", got)
	}
	select {
	case <-e.col.opened:
		t.Error("an engagement was opened for a forbidden source")
	default:
	}
}

// TestDigestAuth: with digest users, an INVITE is challenged (401), a wrong
// password is refused (403), the right one is accepted.
func TestDigestAuth(t *testing.T) {
	e := testServer(t, func(c *Config) { c.DigestUsers = map[string]string{"sbc1": "s3cret"} })
	u := newUAC(t, e.srv.UDPAddr())
	offer := sdpOffer(30000, "0")
	res := u.do(t, u.request("INVITE", "auth@test", "", 1, nil, "application/sdp", offer))
	if res.StatusCode != 401 {
		t.Fatalf("INVITE without credentials: %d, want 401", res.StatusCode)
	}
	chal, err := digest.ParseChallenge(res.GetHeader("WWW-Authenticate").Value())
	if err != nil {
		t.Fatal(err)
	}
	uri := "sip:srs@" + u.srv.String()
	auth := func(pass string) string {
		cr, err := digest.Digest(chal, digest.Options{Method: "INVITE", URI: uri, Username: "sbc1", Password: pass, Count: 1, Cnonce: "0a4f113b"})
		if err != nil {
			t.Fatal(err)
		}
		return "Authorization: " + cr.String()
	}
	if res := u.do(t, u.request("INVITE", "auth2@test", "", 2, []string{auth("wrong")}, "application/sdp", offer)); res.StatusCode != 403 {
		t.Errorf("wrong password: %d, want 403", res.StatusCode)
	}
	res = u.do(t, u.request("INVITE", "auth3@test", "", 3, []string{auth("s3cret")}, "application/sdp", offer))
	if res.StatusCode != 200 {
		t.Fatalf("right password: %d %s", res.StatusCode, res.Reason)
	}
	e.col.next(t)
	for _, r := range []string{"auth_required", "auth_failed"} {
		if got := e.counter(t, e.srv.m.refused.WithLabelValues(r)); got != 1 {
			t.Errorf("refusals{%s} = %v, want 1", r, got)
		}
	}
}

// TestBadRTP: packets with an unnegotiated payload type, from a second
// source while the first is sending, or malformed, are dropped and counted;
// the stream's own packets all reach the party.
func TestBadRTP(t *testing.T) {
	e := testServer(t, nil)
	u := newUAC(t, e.srv.UDPAddr())
	good, other := newRTPSender(t, 0), newRTPSender(t, 0)
	res := u.do(t, u.request("INVITE", "rtp@test", "", 1, nil, "application/sdp", sdpOffer(good.port(), "0")))
	if res.StatusCode != 200 {
		t.Fatalf("INVITE: %d", res.StatusCode)
	}
	eng := e.col.next(t)
	port := e.streamPort(t, "rtp@test", "index:0")
	dst := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port))
	good.dst, other.dst = dst, dst
	payload := make([]byte, 160)
	for i := range payload {
		payload[i] = 0xff // mu-law silence
	}
	for i := range 50 {
		good.send(t, 0, payload, false)
		switch i % 10 {
		case 3:
			good.send(t, 8, payload, false) // PCMA was not negotiated
		case 5:
			other.send(t, 0, payload, false) // another source
		case 7:
			if _, err := good.conn.WriteToUDPAddrPort([]byte{0x80, 0, 1}, dst); err != nil {
				t.Fatal(err)
			}
		}
		good.seq++
		good.ts += 160
		time.Sleep(5 * time.Millisecond) // the sender's pacing: a stream, not a burst
	}
	// Every packet sent has been taken or dropped before the BYE.
	want := map[string]float64{"payload_type": 5, "unexpected_source": 5, "malformed": 5}
	deadline := time.Now().Add(10 * time.Second)
	for {
		n, _ := eng.Party(ingest.PartyMixed).Packets()
		done := n >= 50
		for reason, w := range want {
			done = done && e.counter(t, e.srv.m.dropped.WithLabelValues(reason)) >= w
		}
		if done || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	tag, _ := res.To().Params.Get("tag")
	if res := u.do(t, u.request("BYE", "rtp@test", tag, 2, nil, "", "")); res.StatusCode != 200 {
		t.Errorf("BYE: %d", res.StatusCode)
	}
	eng.WaitClosed(t)
	for reason, want := range want {
		if got := e.counter(t, e.srv.m.dropped.WithLabelValues(reason)); got != want {
			t.Errorf("dropped{%s} = %v, want %v", reason, got, want)
		}
	}
	if n, backs := eng.Party(ingest.PartyMixed).Packets(); n != 50 || backs != 0 {
		t.Errorf("party got %d packets (%d out of order), want 50 in order", n, backs)
	}
}

// TestRTPTimeoutAndHold: a call whose RTP never comes ends with an error
// after the setup timeout; a held call (re-INVITE with a=inactive) does
// not, and a metadata update reaches the engagement.
func TestRTPTimeoutAndHold(t *testing.T) {
	e := testServer(t, func(c *Config) { c.RTPTimeout, c.SetupTimeout = time.Second, time.Second })
	su := newUAC(t, e.srv.UDPAddr())
	res := su.do(t, su.request("INVITE", "silent@test", "", 1, nil, "application/sdp", sdpOffer(30000, "0")))
	if res.StatusCode != 200 {
		t.Fatalf("INVITE: %d", res.StatusCode)
	}
	silentTag, _ := res.To().Params.Get("tag")
	silent := e.col.next(t)
	// The server ends the silent call with a BYE to the client's Contact.
	byeSeen := make(chan error, 1)
	go func() {
		buf := make([]byte, 65535)
		_ = su.conn.SetReadDeadline(time.Now().Add(20 * time.Second))
		for {
			n, from, err := su.conn.ReadFromUDP(buf)
			if err != nil {
				byeSeen <- fmt.Errorf("no BYE from the server: %w", err)
				return
			}
			m, err := sipmsg.ParseMessage(buf[:n])
			req, ok := m.(*sipmsg.Request)
			if err != nil || !ok || req.Method != sipmsg.BYE {
				continue
			}
			ft, _ := req.From().Params.Get("tag")
			tt, _ := req.To().Params.Get("tag")
			if req.CallID().Value() != "silent@test" || ft != silentTag || tt != uacTag("silent@test") {
				byeSeen <- fmt.Errorf("BYE for call %q from tag %q to tag %q, want silent@test, %q, %q", req.CallID().Value(), ft, tt, silentTag, uacTag("silent@test"))
				return
			}
			_, _ = su.conn.WriteToUDP([]byte(sipmsg.NewResponseFromRequest(req, 200, "OK", nil).String()), from)
			byeSeen <- nil
			return
		}
	}()
	u := newUAC(t, e.srv.UDPAddr())

	mp := "multipart/mixed;boundary=" + boundary
	meta := func(name string) string {
		return `<recording xmlns="urn:ietf:params:xml:ns:recording:1"><participant participant_id="p1"><nameID aor="sip:2001@pbx"><name>` + name +
			`</name></nameID></participant><participant participant_id="p2"><nameID aor="sip:+4930123@pstn"/></participant>` +
			`<stream stream_id="s1"><label>1</label></stream><stream stream_id="s2"><label>2</label></stream>` +
			`<participantstreamassoc participant_id="p1"><send>s1</send></participantstreamassoc>` +
			`<participantstreamassoc participant_id="p2"><send>s2</send></participantstreamassoc></recording>`
	}
	rec := []string{"Require: siprec"}
	res = u.do(t, u.request("INVITE", "held@test", "", 1, rec, mp, mpBody([2]string{"application/sdp", twoStreams},
		[2]string{"application/rs-metadata+xml", meta("Agent One")})))
	if res.StatusCode != 200 {
		t.Fatalf("SIPREC INVITE: %d %s", res.StatusCode, res.Reason)
	}
	held := e.col.next(t)
	if got := held.meta.Parties; len(got) != 2 || got[0] != ingest.PartyAgent || got[1] != ingest.PartyCustomer {
		t.Errorf("parties %v, want [agent customer]", got)
	}
	tag, _ := res.To().Params.Get("tag")
	hold := strings.ReplaceAll(twoStreams, "a=sendonly", "a=inactive")
	res = u.do(t, u.request("INVITE", "held@test", tag, 2, rec, mp, mpBody([2]string{"application/sdp", hold},
		[2]string{"application/rs-metadata+xml", meta("Agent Two")})))
	if res.StatusCode != 200 {
		t.Fatalf("re-INVITE: %d %s", res.StatusCode, res.Reason)
	}
	if body := string(res.Body()); strings.Count(body, "a=inactive") != 2 {
		t.Errorf("hold answer does not hold both streams:\n%s", body)
	}
	silent.WaitClosed(t)
	if err := <-byeSeen; err != nil {
		t.Error(err)
	}
	if silent.Err() == nil {
		t.Error("silent call closed without a reason, want the RTP timeout")
	}
	if got := e.counter(t, e.srv.m.ended.WithLabelValues("rtp_timeout")); got != 1 {
		t.Errorf("calls ended by RTP timeout = %v, want 1", got)
	}
	select {
	case <-held.Done():
		t.Error("a held call was ended by the RTP timeout")
	default:
	}
	held.mu.Lock()
	updates := held.updates
	held.mu.Unlock()
	if len(updates) != 1 || updates[0][0].Name != "Agent Two" || updates[0][0].Party != "agent" {
		t.Errorf("metadata updates %+v, want one naming Agent Two as the agent", updates)
	}
	// The hold reached the engagement, party by party; the streams'
	// usual sendonly resumes them.
	held.waitHolds(t, "agent:true", "customer:true")
	res = u.do(t, u.request("INVITE", "held@test", tag, 3, rec, mp, mpBody([2]string{"application/sdp", twoStreams},
		[2]string{"application/rs-metadata+xml", meta("Agent Two")})))
	if res.StatusCode != 200 {
		t.Fatalf("resuming re-INVITE: %d %s", res.StatusCode, res.Reason)
	}
	held.waitHolds(t, "agent:true", "customer:true", "agent:false", "customer:false")
	if res := u.do(t, u.request("BYE", "held@test", tag, 4, nil, "", "")); res.StatusCode != 200 {
		t.Errorf("BYE: %d", res.StatusCode)
	}
	held.WaitClosed(t)
	if held.Err() != nil {
		t.Errorf("held call closed with %v after BYE, want nil", held.Err())
	}
}

// TestTCPTransport: the server answers over TCP too (an INVITE with
// Content-Length framing, then BYE on the same connection).
func TestTCPTransport(t *testing.T) {
	e := testServer(t, nil)
	conn, err := net.Dial("tcp", e.srv.TCPAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	srvAddr, _ := net.ResolveUDPAddr("udp", e.srv.TCPAddr())
	u := &uac{srv: srvAddr, laddr: conn.LocalAddr().String()}
	// The request builder writes UDP Via lines; TCP needs its own.
	fix := func(m string) string { return strings.Replace(m, "SIP/2.0/UDP ", "SIP/2.0/TCP ", 1) }
	read := func() *sipmsg.Response {
		t.Helper()
		_ = conn.SetReadDeadline(time.Now().Add(15 * time.Second))
		var buf []byte
		tmp := make([]byte, 8192)
		for {
			n, err := conn.Read(tmp)
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			buf = append(buf, tmp[:n]...)
			for {
				head, rest, ok := strings.Cut(string(buf), "\r\n\r\n")
				if !ok {
					break
				}
				cl := 0
				for l := range strings.Lines(head) {
					if k, v, ok := strings.Cut(strings.TrimSpace(l), ":"); ok && strings.EqualFold(k, "Content-Length") {
						cl, _ = strconv.Atoi(strings.TrimSpace(v))
					}
				}
				if len(rest) < cl {
					break
				}
				msg := head + "\r\n\r\n" + rest[:cl]
				buf = []byte(rest[cl:])
				m, err := sipmsg.ParseMessage([]byte(msg))
				if err != nil {
					t.Fatalf("parse: %v", err)
				}
				if res, ok := m.(*sipmsg.Response); ok && res.StatusCode >= 200 {
					return res
				}
			}
		}
	}
	if _, err := conn.Write([]byte(fix(u.request("INVITE", "tcp@test", "", 1, nil, "application/sdp", sdpOffer(30000, "0"))))); err != nil {
		t.Fatal(err)
	}
	res := read()
	if res.StatusCode != 200 || !strings.Contains(string(res.Body()), "a=recvonly") {
		t.Fatalf("INVITE over TCP: %d\n%s", res.StatusCode, res.Body())
	}
	eng := e.col.next(t)
	tag, _ := res.To().Params.Get("tag")
	if _, err := conn.Write([]byte(fix(u.request("BYE", "tcp@test", tag, 2, nil, "", "")))); err != nil {
		t.Fatal(err)
	}
	if res := read(); res.StatusCode != 200 {
		t.Errorf("BYE over TCP: %d", res.StatusCode)
	}
	eng.WaitClosed(t)
	if eng.Err() != nil {
		t.Errorf("closed with %v, want nil", eng.Err())
	}
}

// TestReinviteAddsStream: a re-INVITE that adds an audio stream gets a new
// port in the answer and a new party, whose RTP is recorded.
func TestReinviteAddsStream(t *testing.T) {
	e := testServer(t, nil)
	u := newUAC(t, e.srv.UDPAddr())
	res := u.do(t, u.request("INVITE", "grow@test", "", 1, nil, "application/sdp", sdpOffer(30000, "0")))
	if res.StatusCode != 200 {
		t.Fatalf("INVITE: %d", res.StatusCode)
	}
	eng := e.col.next(t)
	tag, _ := res.To().Params.Get("tag")
	snd := newRTPSender(t, 0)
	offer := sdpOffer(30000, "0") + fmt.Sprintf("m=audio %d RTP/AVP 8\r\na=sendonly\r\n", snd.port())
	res = u.do(t, u.request("INVITE", "grow@test", tag, 2, nil, "application/sdp", offer))
	if res.StatusCode != 200 {
		t.Fatalf("re-INVITE: %d", res.StatusCode)
	}
	ports := answerPorts(string(res.Body()))
	if len(ports) != 2 || ports[0] != e.streamPort(t, "grow@test", "index:0") || ports[1] == 0 {
		t.Fatalf("answer ports %v, want the first stream's port kept and a new one", ports)
	}
	snd.dst = netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(ports[1]))
	for range 10 {
		snd.send(t, 8, make([]byte, 160), false)
		snd.seq++
		snd.ts += 160
	}
	deadline := time.Now().Add(5 * time.Second)
	for eng.Party(ingest.PartyCustomer).Seconds() < 0.2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if got := eng.Party(ingest.PartyCustomer); got == nil || got.Format.Codec != "pcma" || got.Seconds() != 0.2 {
		t.Errorf("added party: %+v, want customer with 0.2 s of PCMA", got)
	}
	if res := u.do(t, u.request("BYE", "grow@test", tag, 3, nil, "", "")); res.StatusCode != 200 {
		t.Errorf("BYE: %d", res.StatusCode)
	}
	eng.WaitClosed(t)
}

// answerPorts returns the ports of the m=audio lines of an SDP answer.
func answerPorts(sdpText string) []int {
	var out []int
	for l := range strings.Lines(sdpText) {
		if f := strings.Fields(l); len(f) > 1 && f[0] == "m=audio" {
			p, _ := strconv.Atoi(f[1])
			out = append(out, p)
		}
	}
	return out
}
