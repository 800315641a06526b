package sip

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"

	"github.com/earshot/earshot/media/ingest"
	"github.com/earshot/earshot/media/pipeline"
)

// Attacks on the SIP server from a client inside the allowed sources (or
// outside them where the test says so): each case of the security review
// of SIP and RTP ingest, with hand-written clients on raw sockets (and
// SIPp where a real client's behaviour matters, in sipp_test.go).

// nLines is an offer of n sendonly PCMU audio streams.
func nLines(n int) string {
	s := "v=0\r\no=uac 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
	for i := range n {
		s += fmt.Sprintf("m=audio %d RTP/AVP 0\r\na=sendonly\r\n", 30000+2*i)
	}
	return s
}

// statusError tells a status code that differs from the one expected.
type statusError struct {
	got, want int
	reason    string
}

func (e statusError) Error() string {
	return fmt.Sprintf("status %d %s, want %d", e.got, e.reason, e.want)
}

// flood sends n requests built by msg(u, i) from `clients` concurrent
// clients and checks every final status; it returns the first error.
func flood(t *testing.T, addr string, clients, n int, want int, msg func(u *uac, i int) string) error {
	t.Helper()
	us := make([]*uac, clients)
	for i := range us {
		us[i] = newUAC(t, addr)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	for c, u := range us {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := c; i < n; i += clients {
				res, err := u.try(msg(u, i))
				if err == nil && res.StatusCode != want {
					err = statusError{res.StatusCode, want, res.Reason}
				}
				if err != nil {
					mu.Lock()
					if first == nil {
						first = fmt.Errorf("request %d: %w", i, err)
					}
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}

// TestRefusedInvitesReturnPorts: 1,000 INVITEs of every kind of refusal,
// from ten clients at once (60 audio lines; four lines and a busy
// pipeline; four lines and a refused engagement; four lines and a refused
// party; four lines with only two port pairs bindable; broken metadata; no
// supported codec; a Call-ID in use; too many calls), each get their
// response and leave every RTP port pair of the range free; a normal call
// works afterwards. One such refusal used to keep its ports for good.
func TestRefusedInvitesReturnPorts(t *testing.T) {
	const perKind, clients = 1000, 10
	e := testServer(t, func(c *Config) { c.MaxCalls = clients })
	total := e.srv.ports.total
	siprec := []string{"Require: siprec"}
	mp := "multipart/mixed;boundary=" + boundary
	refused := func(reason string) float64 { return e.counter(t, e.srv.m.refused.WithLabelValues(reason)) }
	kinds := []struct {
		name   string
		setup  func(t *testing.T) func()
		hdrs   []string
		ctype  string
		body   string
		status int
		reason string
	}{
		{name: "60 audio lines", ctype: "application/sdp", body: nLines(60), status: 488, reason: "too_many_streams"},
		{name: "busy", ctype: "application/sdp", body: nLines(4), status: 486, reason: "busy",
			setup: func(*testing.T) func() {
				e.col.set(fmt.Errorf("test: %w", pipeline.ErrBusy), nil)
				return func() { e.col.set(nil, nil) }
			}},
		{name: "engagement refused", ctype: "application/sdp", body: nLines(4), status: 400, reason: "engagement",
			setup: func(*testing.T) func() {
				e.col.set(badQueue{}, nil)
				return func() { e.col.set(nil, nil) }
			}},
		{name: "party refused", ctype: "application/sdp", body: nLines(4), status: 500, reason: "internal",
			setup: func(*testing.T) func() {
				e.col.set(nil, errors.New("test: no recogniser"))
				return func() { e.col.set(nil, nil) }
			}},
		{name: "ports held by another program", ctype: "application/sdp", body: nLines(4), status: 503, reason: "no_ports",
			setup: func(t *testing.T) func() {
				// Another program binds the RTP port of all but two pairs.
				var held []*net.UDPConn
				e.srv.ports.mu.Lock()
				free := append([]int(nil), e.srv.ports.free...)
				e.srv.ports.mu.Unlock()
				for _, p := range free[2:] {
					c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: p})
					if err != nil {
						t.Fatal(err)
					}
					held = append(held, c)
				}
				return func() {
					for _, c := range held {
						c.Close()
					}
				}
			}},
		{name: "metadata names an unknown stream", hdrs: siprec, ctype: mp, status: 400, reason: "bad_body",
			body: mpBody([2]string{"application/sdp", twoStreams}, [2]string{"application/rs-metadata+xml", metaUnknownStream})},
		{name: "no supported codec", ctype: "application/sdp", body: sdpOffer(30000, "111", "a=rtpmap:111 opus/48000/2"), status: 488, reason: "not_acceptable"},
	}
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			if k.setup != nil {
				defer k.setup(t)()
			}
			before := refused(k.reason)
			err := flood(t, e.srv.UDPAddr(), clients, perKind, k.status, func(u *uac, i int) string {
				return u.request("INVITE", fmt.Sprintf("%s-%d@flood", strings.ReplaceAll(k.name, " ", "-"), i), "", 1, k.hdrs, k.ctype, k.body)
			})
			if err != nil {
				t.Fatal(err)
			}
			if got := refused(k.reason) - before; got != perKind {
				t.Errorf("refusals{%s} grew by %v, want %d", k.reason, got, perKind)
			}
			if got := e.srv.ports.available(); got != total {
				t.Errorf("%d of %d RTP port pairs free after %d refusals", got, total, perKind)
			}
			if n := e.srv.Calls(); n != 0 {
				t.Errorf("%d calls in progress after refusals", n)
			}
		})
	}

	// With one call in progress on a server that takes one: INVITEs
	// reusing its Call-ID, and new calls beyond the limit.
	e = testServer(t, func(c *Config) { c.MaxCalls = 1 })
	total = e.srv.ports.total
	u := newUAC(t, e.srv.UDPAddr())
	tag, _, eng := e.call(t, u, "held-slot@flood")
	for _, k := range []struct {
		name   string
		callID func(i int) string
		status int
		reason string
	}{
		{"Call-ID in use", func(int) string { return "held-slot@flood" }, 482, "duplicate_call"},
		{"too many calls", func(i int) string { return fmt.Sprintf("over-%d@flood", i) }, 503, "too_many_calls"},
	} {
		t.Run(k.name, func(t *testing.T) {
			before := refused(k.reason)
			err := flood(t, e.srv.UDPAddr(), clients, perKind, k.status, func(u *uac, i int) string {
				// A new transaction each time (the branch), CSeq i+2.
				return u.request("INVITE", k.callID(i), "", i+2, nil, "application/sdp", nLines(2))
			})
			if err != nil {
				t.Fatal(err)
			}
			if got := refused(k.reason) - before; got != perKind {
				t.Errorf("refusals{%s} grew by %v, want %d", k.reason, got, perKind)
			}
			if got := e.srv.ports.available(); got != total-1 {
				t.Errorf("%d of %d RTP port pairs free with one call of one stream, want %d", got, total, total-1)
			}
		})
	}
	e.hangUp(t, u, "held-slot@flood", tag, eng)
	waitFor(t, "the call's ports to return", func() bool { return e.srv.ports.available() == total })
}

// badQueue is an Opener error with an HTTP 400 status, as the daemon's
// for an unknown queue.
type badQueue struct{}

func (badQueue) Error() string   { return "queue: unknown queue nosuch" }
func (badQueue) StatusCode() int { return 400 }

// awaitBye waits for the server's BYE of a call, answers it 200, and
// returns its From and To tags.
func (u *uac) awaitBye(callID string) (from, to string, err error) {
	buf := make([]byte, 65535)
	_ = u.conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	for {
		n, addr, err := u.conn.ReadFromUDP(buf)
		if err != nil {
			return "", "", fmt.Errorf("no BYE from the server: %w", err)
		}
		m, err := sipmsg.ParseMessage(buf[:n])
		req, ok := m.(*sipmsg.Request)
		if err != nil || !ok || req.Method != sipmsg.BYE || req.CallID().Value() != callID {
			continue
		}
		from, _ = req.From().Params.Get("tag")
		to, _ = req.To().Params.Get("tag")
		_, err = u.conn.WriteToUDP([]byte(sipmsg.NewResponseFromRequest(req, 200, "OK", nil).String()), addr)
		return from, to, err
	}
}

// TestEngagementEndEndsCall: when the engagement ends on its own side (the
// hub's media timeout, the API's end, a revoked token), the server ends
// the call with a BYE and closes the engagement, counted; the hub used to
// mark engagements ended while their calls went on.
func TestEngagementEndEndsCall(t *testing.T) {
	e := testServer(t, nil)
	u := newUAC(t, e.srv.UDPAddr())
	ourTag, _, eng := e.call(t, u, "ended@test")
	eng.End()
	from, to, err := u.awaitBye("ended@test")
	if err != nil {
		t.Fatal(err)
	}
	if from != ourTag || to != uacTag("ended@test") {
		t.Errorf("BYE from tag %q to tag %q, want %q and %q", from, to, ourTag, uacTag("ended@test"))
	}
	eng.WaitClosed(t)
	waitFor(t, "the call to end", func() bool { return e.srv.Calls() == 0 })
	if got := e.counter(t, e.srv.m.ended.WithLabelValues("engagement_ended")); got != 1 {
		t.Errorf("calls ended with their engagement = %v, want 1", got)
	}
	if got := e.srv.ports.available(); got != e.srv.ports.total {
		t.Errorf("%d of %d port pairs free after the call", got, e.srv.ports.total)
	}
}

// TestRTPFromOtherSources: RTP is taken only from where the offer says
// the stream comes from. Packets from another port of the same (allowed)
// host are dropped and counted, also after the stream paused for longer
// than the old re-latch delay; in latch mode the first valid packet from
// the offer's address fixes the port once, and another host is refused.
// An injected stream used to join the call's transcript after a pause.
func TestRTPFromOtherSources(t *testing.T) {
	payload := make([]byte, 160)
	for i := range payload {
		payload[i] = 0xff
	}
	run := func(t *testing.T, latch bool) {
		e := testServer(t, func(c *Config) {
			if latch {
				c.RTPSource = RTPSourceLatch
			}
		})
		u := newUAC(t, e.srv.UDPAddr())
		good, other := newRTPSender(t, 0), newRTPSender(t, 0)
		offered := good.port()
		if latch {
			offered = 30000 // the client sends from another port than it offers
		}
		id := fmt.Sprintf("inject-%v@test", latch)
		res := u.do(t, u.request("INVITE", id, "", 1, nil, "application/sdp", sdpOffer(offered, "0")))
		if res.StatusCode != 200 {
			t.Fatalf("INVITE: %d", res.StatusCode)
		}
		eng := e.col.next(t)
		dst := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(e.streamPort(t, id, "index:0")))
		good.dst, other.dst = dst, dst
		other.ssrc = 0xbad
		// Another host of the allowed loopback network.
		far, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 2)})
		if err != nil {
			t.Fatal(err)
		}
		defer far.Close()
		farSender := &rtpSender{conn: far, dst: dst, ssrc: 0xbad2, seq: 1, ts: 1}
		sendGood := func(n int) {
			for range n {
				good.send(t, 0, payload, false)
				good.seq++
				good.ts += 160
				time.Sleep(5 * time.Millisecond)
			}
		}
		inject := func(n int) {
			for range n {
				other.send(t, 0, payload, false)
				farSender.send(t, 0, payload, false)
				other.seq++
				other.ts += 160
				farSender.seq++
				farSender.ts += 160
			}
		}
		sendGood(20)
		inject(10)
		sendGood(20)
		time.Sleep(1500 * time.Millisecond) // the stream pauses
		inject(10)
		sendGood(10)
		dropped := func() float64 { return e.counter(t, e.srv.m.dropped.WithLabelValues("unexpected_source")) }
		waitFor(t, "every packet taken or dropped", func() bool {
			n, _ := eng.Party(ingest.PartyMixed).Packets()
			return n >= 50 && dropped() >= 40
		})
		tag, _ := res.To().Params.Get("tag")
		if res := u.do(t, u.request("BYE", id, tag, 2, nil, "", "")); res.StatusCode != 200 {
			t.Errorf("BYE: %d", res.StatusCode)
		}
		eng.WaitClosed(t)
		if n, backs := eng.Party(ingest.PartyMixed).Packets(); n != 50 || backs != 0 {
			t.Errorf("party got %d packets (%d out of order), want the sender's 50 only", n, backs)
		}
		if got := dropped(); got != 40 {
			t.Errorf("dropped{unexpected_source} = %v, want 40", got)
		}
	}
	t.Run("sdp", func(t *testing.T) { run(t, false) })
	t.Run("latch", func(t *testing.T) { run(t, true) })
}

// TestPortsRandom: the allocator hands out pairs of the range in no
// predictable order, and takes every one back.
func TestPortsRandom(t *testing.T) {
	p := newPorts(netip.MustParseAddr("127.0.0.1"), 47000, 47399) // 200 pairs
	var got []int
	for range 20 {
		port, rc, cc, err := p.open()
		if err != nil {
			t.Fatal(err)
		}
		rc.Close()
		cc.Close()
		if port%2 != 0 || port < 47000 || port+1 > 47399 {
			t.Errorf("port %d outside the range or odd", port)
		}
		got = append(got, port)
	}
	ascending := 0
	for i := 1; i < len(got); i++ {
		if got[i] == got[i-1]+2 {
			ascending++
		}
	}
	// Sequential allocation gives 19; random choice among 200 pairs
	// rarely gives even one.
	if ascending > 3 {
		t.Errorf("ports %v follow each other %d times: allocated in order", got, ascending)
	}
	if len(slices.Compact(slices.Sorted(slices.Values(got)))) != len(got) {
		t.Errorf("a port was handed out twice: %v", got)
	}
	for _, port := range got {
		p.release(port)
		p.release(port) // twice: no effect
	}
	if p.available() != p.total || p.total != 200 {
		t.Errorf("%d of %d pairs free after release, want 200", p.available(), p.total)
	}
}

// TestDialogChecks: a BYE with the right Call-ID and tags from a host
// outside the allowed sources is refused (as are CANCEL and OPTIONS, and
// an ACK is dropped), and one with a wrong From tag does not match the
// dialog; the call goes on until its own client ends it.
func TestDialogChecks(t *testing.T) {
	e := testServer(t, func(c *Config) { c.AllowedSources = []string{"127.0.0.1"} })
	u := newUAC(t, e.srv.UDPAddr())
	outsider := newUACAt(t, e.srv.UDPAddr(), net.IPv4(127, 0, 0, 2))
	snd := newRTPSender(t, 0)
	const id = "dialog@test"
	res := u.do(t, u.request("INVITE", id, "", 1, nil, "application/sdp", sdpOffer(snd.port(), "0")))
	if res.StatusCode != 200 {
		t.Fatalf("INVITE: %d", res.StatusCode)
	}
	eng := e.col.next(t)
	tag, _ := res.To().Params.Get("tag")
	forbidden := func() float64 { return e.counter(t, e.srv.m.refused.WithLabelValues("forbidden_source")) }
	for i, m := range []string{"BYE", "CANCEL", "OPTIONS", "INVITE"} {
		if res := outsider.do(t, outsider.request(m, id, tag, 10+i, nil, "", "")); res.StatusCode != 403 {
			t.Errorf("%s from outside the allowed sources: %d, want 403", m, res.StatusCode)
		}
	}
	outsider.send(t, outsider.request("ACK", id, tag, 1, nil, "", ""))
	waitFor(t, "the outsider's ACK to be dropped", func() bool { return forbidden() == 5 })
	wrongFrom := strings.Replace(u.request("BYE", id, tag, 20, nil, "", ""), uacTag(id), "uac-someone-else", 1)
	if res := u.do(t, wrongFrom); res.StatusCode != 481 {
		t.Errorf("BYE with a wrong From tag: %d, want 481", res.StatusCode)
	}
	reinvite := strings.Replace(u.request("INVITE", id, tag, 21, nil, "application/sdp", sdpOffer(snd.port(), "0", "a=inactive")), uacTag(id), "uac-someone-else", 1)
	if res := u.do(t, reinvite); res.StatusCode != 481 {
		t.Errorf("re-INVITE with a wrong From tag: %d, want 481", res.StatusCode)
	}
	if res := u.do(t, u.request("MESSAGE", "msg@test", "", 1, nil, "text/plain", "hello")); res.StatusCode != 405 {
		t.Errorf("MESSAGE: %d, want 405", res.StatusCode)
	}
	select {
	case <-eng.Done():
		t.Fatal("the call ended by a request outside its dialog or sources")
	default:
	}
	if e.srv.Calls() != 1 {
		t.Fatal("the call is gone")
	}
	if res := u.do(t, u.request("BYE", id, tag, 30, nil, "", "")); res.StatusCode != 200 {
		t.Errorf("BYE of the call's own client: %d", res.StatusCode)
	}
	if err := eng.WaitClosed(t); err != nil {
		t.Errorf("closed with %v, want nil (BYE)", err)
	}
}

// TestDigestReplayAndURI: a captured Authorization header does not open
// another call (another Call-ID, SDP and Request-URI, or the same URI),
// while the honest client's next nonce count does; credentials for
// another Request-URI are refused; an unknown user and a wrong password
// get the same answer.
func TestDigestReplayAndURI(t *testing.T) {
	e := testServer(t, func(c *Config) { c.DigestUsers = map[string]string{"sbc1": "s3cret"} })
	u := newUAC(t, e.srv.UDPAddr())
	uri := "sip:srs@" + u.srv.String()
	challenge := func(id string) *digest.Challenge {
		t.Helper()
		res := u.do(t, u.request("INVITE", id, "", 1, nil, "application/sdp", sdpOffer(30000, "0")))
		if res.StatusCode != 401 {
			t.Fatalf("INVITE without credentials: %d, want 401", res.StatusCode)
		}
		chal, err := digest.ParseChallenge(res.GetHeader("WWW-Authenticate").Value())
		if err != nil {
			t.Fatal(err)
		}
		return chal
	}
	auth := func(chal *digest.Challenge, user, pass, uri string, nc int) string {
		t.Helper()
		cr, err := digest.Digest(chal, digest.Options{Method: "INVITE", URI: uri, Username: user, Password: pass, Count: nc, Cnonce: "0a4f113b"})
		if err != nil {
			t.Fatal(err)
		}
		return "Authorization: " + cr.String()
	}
	withURI := func(msg, target string) string {
		first, rest, _ := strings.Cut(msg, "\r\n")
		f := strings.Fields(first)
		return f[0] + " " + target + " " + f[2] + "\r\n" + rest
	}
	call := func(id string, hdr string, target string, port int) *sipmsg.Response {
		t.Helper()
		return u.do(t, withURI(u.request("INVITE", id, "", 2, []string{hdr}, "application/sdp", sdpOffer(port, "0")), target))
	}
	bye := func(res *sipmsg.Response, id string) {
		t.Helper()
		tag, _ := res.To().Params.Get("tag")
		if res := u.do(t, u.request("BYE", id, tag, 3, nil, "", "")); res.StatusCode != 200 {
			t.Errorf("BYE: %d", res.StatusCode)
		}
		e.col.next(t).WaitClosed(t)
	}

	chal := challenge("first@test")
	captured := auth(chal, "sbc1", "s3cret", uri, 1)
	res := call("first@test", captured, uri, 30000)
	if res.StatusCode != 200 {
		t.Fatalf("the genuine INVITE: %d %s", res.StatusCode, res.Reason)
	}
	bye(res, "first@test")

	replay := func() float64 { return e.counter(t, e.srv.m.refused.WithLabelValues("auth_replay")) }
	for i, target := range []string{"sip:other@" + u.srv.String(), uri} {
		if res := call(fmt.Sprintf("replay-%d@test", i), captured, target, 31000+2*i); res.StatusCode != 401 {
			t.Errorf("replayed Authorization (Request-URI %s): %d, want 401", target, res.StatusCode)
		}
	}
	if got := replay(); got != 2 {
		t.Errorf("refusals{auth_replay} = %v, want 2", got)
	}
	// The honest client goes on with the same nonce and the next count.
	res = call("second@test", auth(chal, "sbc1", "s3cret", uri, 2), uri, 32000)
	if res.StatusCode != 200 {
		t.Fatalf("the next nonce count: %d %s", res.StatusCode, res.Reason)
	}
	bye(res, "second@test")

	// Right password, but the digest names another Request-URI.
	if res := call("uri@test", auth(challenge("uri@test"), "sbc1", "s3cret", "sip:other@"+u.srv.String(), 1), uri, 33000); res.StatusCode != 403 {
		t.Errorf("digest uri differing from the Request-URI: %d, want 403", res.StatusCode)
	}
	// An unknown user and a wrong password read the same.
	unknown := call("who@test", auth(challenge("who@test"), "nobody", "s3cret", uri, 1), uri, 34000)
	wrong := call("pw@test", auth(challenge("pw@test"), "sbc1", "wrong", uri, 1), uri, 35000)
	text := func(r *sipmsg.Response) string {
		w := ""
		if h := r.GetHeader("Warning"); h != nil {
			w = h.Value()
		}
		return fmt.Sprintf("%d %s [%s]", r.StatusCode, r.Reason, w)
	}
	if text(unknown) != text(wrong) || unknown.StatusCode != 403 {
		t.Errorf("unknown user answered %q, wrong password %q: want the same 403", text(unknown), text(wrong))
	}
	if got := e.counter(t, e.srv.m.refused.WithLabelValues("auth_failed")); got != 3 {
		t.Errorf("refusals{auth_failed} = %v, want 3", got)
	}
	select {
	case eng := <-e.col.opened:
		t.Errorf("an engagement was opened by refused credentials (%s)", eng.meta.CallID)
	default:
	}
}
