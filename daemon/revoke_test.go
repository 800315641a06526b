package daemon

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/pion/ice/v4"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/earshot/earshot/store"
)

// withdrawWithin is how soon a long-lived connection must end after the
// change that withdraws its caller's access (or after its token expires).
const withdrawWithin = time.Second

// principal is a user with one token, made for one case.
type principal struct {
	user, secret, tokenID string
	role                  Role
	queues                []string
}

func newPrincipal(t *testing.T, td *testDaemon, user string, role Role, expiresIn string, queues ...string) principal {
	t.Helper()
	td.mustCall(t, td.Admin, "POST", "/api/v1/users", userRequest{ID: user, Role: string(role), Queues: queues, Licensed: true}, 201)
	var tv tokenView
	json.Unmarshal(td.mustCall(t, td.Admin, "POST", "/api/v1/tokens", tokenRequest{UserID: user, ExpiresIn: expiresIn}, 201), &tv)
	return principal{user: user, secret: tv.Secret, tokenID: tv.ID, role: role, queues: queues}
}

// accessChange is one change that withdraws a principal's access to a
// connection in queue q; other names a role and a queue the connection's
// route does not accept (expiry is a token that expires instead).
type accessChange struct {
	name    string
	expires bool
	apply   func(t *testing.T, td *testDaemon, p principal, q, otherRole, otherQueue string)
}

var accessChanges = []accessChange{
	{"token revoked", false, func(t *testing.T, td *testDaemon, p principal, _, _, _ string) {
		td.mustCall(t, td.Admin, "DELETE", "/api/v1/tokens/"+p.tokenID, nil, 204)
	}},
	{"user disabled", false, func(t *testing.T, td *testDaemon, p principal, _, _, _ string) {
		td.mustCall(t, td.Admin, "PUT", "/api/v1/users/"+p.user, userRequest{Role: string(p.role), Queues: p.queues, Disabled: true}, 200)
	}},
	{"role changed", false, func(t *testing.T, td *testDaemon, p principal, _, otherRole, _ string) {
		td.mustCall(t, td.Admin, "PUT", "/api/v1/users/"+p.user, userRequest{Role: otherRole, Queues: p.queues}, 200)
	}},
	{"queues changed", false, func(t *testing.T, td *testDaemon, p principal, _, _, otherQueue string) {
		td.mustCall(t, td.Admin, "PUT", "/api/v1/users/"+p.user, userRequest{Role: string(p.role), Queues: []string{otherQueue}}, 200)
	}},
	{"queue deleted", false, func(t *testing.T, td *testDaemon, _ principal, q, _, _ string) {
		td.mustCall(t, td.Admin, "DELETE", "/api/v1/queues/"+q, nil, 204)
	}},
	{"user deleted", false, func(t *testing.T, td *testDaemon, p principal, _, _, _ string) {
		td.mustCall(t, td.Admin, "DELETE", "/api/v1/users/"+p.user, nil, 204)
	}},
	{"token expired", true, nil},
}

// liveConn is an open long-lived connection under test.
type liveConn interface {
	// ended is closed when the server has ended the connection.
	ended() <-chan struct{}
	// check runs after the connection ended: what the server said, what
	// it stopped accepting.
	check(t *testing.T)
}

// connKind opens one kind of long-lived connection in queue q as p.
type connKind struct {
	name       string
	role       Role
	otherRole  string
	open       func(t *testing.T, td *testDaemon, p principal, q string) liveConn
	configured func(*Config)
}

// TestRevocationReachesOpenConnections: for every kind of long-lived
// connection (event stream, WebSocket media stream, WHIP session, upload
// in progress) and every change that withdraws its caller's access (token
// revoked or expired, user disabled or deleted, role changed, queues
// changed, queue deleted), the connection ends within a second of the
// change; an unrelated change leaves it open.
func TestRevocationReachesOpenConnections(t *testing.T) {
	kinds := []connKind{
		{"events", RoleSupervisor, string(RoleAnalyst), openEvents, nil},
		{"websocket", RoleIngest, string(RoleAgent), openWebSocket, nil},
		{"whip", RoleIngest, string(RoleAgent), openWHIP, loopbackWHIP},
		{"upload", RoleIngest, string(RoleAgent), openUpload, nil},
	}
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			td := startDaemon(t, func(c *Config) {
				c.Media.Engine = "none"
				if k.configured != nil {
					k.configured(c)
				}
			})
			bystander := newPrincipal(t, td, "bystander", k.role, "")
			for i, ch := range accessChanges {
				t.Run(strings.ReplaceAll(ch.name, " ", "_"), func(t *testing.T) {
					q, other := fmt.Sprintf("q%d", i), fmt.Sprintf("other%d", i)
					td.mustCall(t, td.Admin, "POST", "/api/v1/queues", queueRequest{ID: q}, 201)
					td.mustCall(t, td.Admin, "POST", "/api/v1/queues", queueRequest{ID: other}, 201)
					expires := ""
					if ch.expires {
						expires = "3s"
					}
					p := newPrincipal(t, td, fmt.Sprintf("%s-%d", k.name, i), k.role, expires, q)
					c := k.open(t, td, p, q)
					// A change to someone else leaves the connection open.
					td.mustCall(t, td.Admin, "PUT", "/api/v1/users/"+bystander.user, userRequest{Role: string(k.role), Disabled: i%2 == 0}, 200)
					select {
					case <-c.ended():
						t.Fatal("the connection ended after a change to another user")
					case <-time.After(300 * time.Millisecond):
					}
					var from time.Time
					if ch.expires {
						tk, err := td.store.Token(p.tokenID)
						if err != nil {
							t.Fatal(err)
						}
						from = tk.ExpiresAt
					} else {
						ch.apply(t, td, p, q, k.otherRole, other)
						from = time.Now()
					}
					select {
					case <-c.ended():
						if took := time.Since(from); took > withdrawWithin {
							t.Errorf("ended %s after the change, want within %s", took.Round(time.Millisecond), withdrawWithin)
						}
					case <-time.After(time.Until(from) + 10*time.Second):
						t.Fatalf("the connection was still open 10 s after the change")
					}
					c.check(t)
				})
			}
		})
	}
}

// eventsConn is a reader of an engagement's event stream.
type eventsConn struct {
	done   chan struct{}
	events chan string // event types as they arrive
	last   atomic.Value
}

func (c *eventsConn) ended() <-chan struct{} { return c.done }

func (c *eventsConn) check(t *testing.T) {
	if got, _ := c.last.Load().(string); got != "error" {
		t.Errorf("last event %q, want the stream to end with an error event", got)
	}
}

func openEvents(t *testing.T, td *testDaemon, p principal, q string) liveConn {
	t.Helper()
	var e store.Engagement
	json.Unmarshal(td.mustCall(t, td.Admin, "POST", "/api/v1/engagements", engagementRequest{Queue: q, Channel: "chat"}, 201), &e)
	req, _ := http.NewRequest("GET", td.URL+"/api/v1/engagements/"+e.ID+"/events", nil)
	req.Header.Set("Authorization", "Bearer "+p.secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		t.Fatalf("events = %d", resp.StatusCode)
	}
	c := &eventsConn{done: make(chan struct{}), events: make(chan string, 64)}
	go func() {
		defer close(c.done)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if typ, ok := strings.CutPrefix(sc.Text(), "event: "); ok {
				c.last.Store(typ)
				select {
				case c.events <- typ:
				default:
				}
			}
		}
	}()
	t.Cleanup(func() { resp.Body.Close() })
	// The stream carries the conversation before the change.
	td.mustCall(t, td.Admin, "POST", "/api/v1/engagements/"+e.ID+"/messages", messageRequest{Sender: "customer", Text: "my card is lost"}, 201)
	for deadline := time.After(10 * time.Second); ; {
		select {
		case typ := <-c.events:
			if typ == "transcript.final" {
				return c
			}
		case <-deadline:
			t.Fatal("the reader got no transcript event")
		}
	}
}

// wsConn is a Twilio media stream.
type wsConn struct {
	done   chan struct{}
	status atomic.Int32
	sent   atomic.Int64
}

func (c *wsConn) ended() <-chan struct{} { return c.done }

func (c *wsConn) check(t *testing.T) {
	if st := websocket.StatusCode(c.status.Load()); st != websocket.StatusPolicyViolation {
		t.Errorf("close status %v, want %v", st, websocket.StatusPolicyViolation)
	}
}

func openWebSocket(t *testing.T, td *testDaemon, p principal, q string) liveConn {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	live := td.hub.LiveCount()
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(td.URL, "http")+"/api/v1/ingest/stream?access_token="+p.secret, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.CloseNow() })
	c := &wsConn{done: make(chan struct{})}
	write := func(m map[string]any) error {
		b, _ := json.Marshal(m)
		return ws.Write(ctx, websocket.MessageText, b)
	}
	// The queue comes in the start message's customParameters.
	if err := write(map[string]any{"event": "start", "streamSid": "MZ1", "start": map[string]any{"streamSid": "MZ1", "callSid": "CA1",
		"tracks": []string{"inbound"}, "customParameters": map[string]string{"queue": q},
		"mediaFormat": map[string]any{"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1}}}); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(c.done)
		_, _, err := ws.Read(ctx)
		c.status.Store(int32(websocket.CloseStatus(err)))
	}()
	go func() {
		silence := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("\xff", 160)))
		for i := 1; ctx.Err() == nil; i++ {
			if write(map[string]any{"event": "media", "streamSid": "MZ1", "media": map[string]any{"track": "inbound", "chunk": strconv.Itoa(i),
				"timestamp": strconv.Itoa(i * 20), "payload": silence}}) != nil {
				return
			}
			c.sent.Add(1)
			time.Sleep(20 * time.Millisecond)
		}
	}()
	waitUntil(t, "the stream's engagement to start", func() bool { return td.hub.LiveCount() > live })
	return c
}

// whipConn is a WHIP session sending audio.
type whipConn struct {
	td       *testDaemon
	done     chan struct{}
	location string
	p        principal
}

func (c *whipConn) ended() <-chan struct{} { return c.done }

func (c *whipConn) check(t *testing.T) {
	// The session is gone: its owner's token cannot reach it (it no longer
	// authenticates, or the session no longer exists).
	req := mustRequest(t, "DELETE", c.td.URL+c.location, "")
	req.Header.Set("Authorization", "Bearer "+c.p.secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 && resp.StatusCode != 403 && resp.StatusCode != 404 {
		t.Errorf("DELETE of the withdrawn session = %d, want 401, 403 or 404", resp.StatusCode)
	}
}

func loopbackWHIP(c *Config) {
	c.Media.WHIP.IncludeLoopback = true
	c.Media.WHIP.Interfaces = []string{"lo"}
	c.Media.WHIP.Addresses = []string{"127.0.0.1"}
	c.Media.WHIP.RemoteAddresses = []string{"127.0.0.0/8"}
}

// dialWHIP connects a pion client with one PCMU track to the daemon's
// WHIP endpoint and returns the session's Location.
func dialWHIP(t *testing.T, td *testDaemon, token, query string) (*webrtc.PeerConnection, *webrtc.TrackLocalStaticRTP, string) {
	t.Helper()
	pcmu := webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMU, ClockRate: 8000}, PayloadType: 0}
	me := &webrtc.MediaEngine{}
	if err := me.RegisterCodec(pcmu, webrtc.RTPCodecTypeAudio); err != nil {
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
	t.Cleanup(func() { pc.Close() })
	tr, err := webrtc.NewTrackLocalStaticRTP(pcmu.RTPCodecCapability, "customer", "call")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pc.AddTrack(tr); err != nil {
		t.Fatal(err)
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
	req, _ := http.NewRequest("POST", td.URL+"/api/v1/ingest/whip?"+query, strings.NewReader(pc.LocalDescription().SDP))
	req.Header.Set("Content-Type", "application/sdp")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Fatalf("WHIP POST = %d %s", resp.StatusCode, answer)
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: string(answer)}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-connected:
	case <-time.After(30 * time.Second):
		t.Fatal("WHIP client not connected")
	}
	return pc, tr, resp.Header.Get("Location")
}

func openWHIP(t *testing.T, td *testDaemon, p principal, q string) liveConn {
	t.Helper()
	before := td.media.whip.Sessions()
	_, tr, location := dialWHIP(t, td, p.secret, "queue="+q)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() {
		for seq := uint16(1); ctx.Err() == nil; seq++ {
			tr.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: seq, Timestamp: uint32(seq) * 160, SSRC: 77},
				Payload: []byte(strings.Repeat("\xff", 160))})
			time.Sleep(20 * time.Millisecond)
		}
	}()
	if td.media.whip.Sessions() != before+1 {
		t.Fatalf("%d WHIP sessions, want %d", td.media.whip.Sessions(), before+1)
	}
	// Another ingest token of the same queue may neither trickle to nor
	// end the session.
	stranger := newPrincipal(t, td, p.user+"-stranger", RoleIngest, "", q)
	for _, m := range []string{"PATCH", "DELETE"} {
		req := mustRequest(t, m, td.URL+location, "a=mid:0\r\n")
		req.Header.Set("Authorization", "Bearer "+stranger.secret)
		req.Header.Set("Content-Type", "application/trickle-ice-sdpfrag")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 404 {
			t.Fatalf("%s by another ingest token = %d, want 404", m, resp.StatusCode)
		}
	}
	c := &whipConn{td: td, done: make(chan struct{}), location: location, p: p}
	go func() {
		defer close(c.done)
		for td.media.whip.Sessions() > before && ctx.Err() == nil {
			time.Sleep(5 * time.Millisecond)
		}
	}()
	return c
}

// uploadConn is an upload whose body is still arriving.
type uploadConn struct {
	done   chan struct{}
	status atomic.Int32
}

func (c *uploadConn) ended() <-chan struct{} { return c.done }

func (c *uploadConn) check(t *testing.T) {
	if c.status.Load() != 403 {
		t.Errorf("upload answered %d, want 403", c.status.Load())
	}
}

func openUpload(t *testing.T, td *testDaemon, p principal, q string) liveConn {
	t.Helper()
	pr, pw := io.Pipe()
	t.Cleanup(func() { pw.Close() })
	req, _ := http.NewRequest("POST", td.URL+"/api/v1/uploads?queue="+q, pr)
	req.Header.Set("Authorization", "Bearer "+p.secret)
	req.Header.Set("Content-Type", "audio/wav")
	c := &uploadConn{done: make(chan struct{})}
	go func() {
		defer close(c.done)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			c.status.Store(-1)
			return
		}
		resp.Body.Close()
		c.status.Store(int32(resp.StatusCode))
	}()
	// A WAV header announcing a minute of 8 kHz audio, then the audio,
	// slowly.
	if _, err := pw.Write(wavHeader(8000, 960000)); err != nil {
		t.Fatal(err)
	}
	go func() {
		chunk := make([]byte, 3200)
		for {
			if _, err := pw.Write(chunk); err != nil {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	waitUntil(t, "the upload to be in progress", func() bool {
		return metricValue(t, td, `earshot_guard_connections{kind="upload"}`) == "1"
	})
	return c
}

// wavHeader is the 44-byte header of a 16-bit mono PCM WAV at rate
// announcing dataBytes of samples.
func wavHeader(rate, dataBytes uint32) []byte {
	hdr := make([]byte, 44)
	copy(hdr, "RIFF")
	binary.LittleEndian.PutUint32(hdr[4:], 36+dataBytes)
	copy(hdr[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(hdr[16:], 16)
	binary.LittleEndian.PutUint16(hdr[20:], 1)
	binary.LittleEndian.PutUint16(hdr[22:], 1)
	binary.LittleEndian.PutUint32(hdr[24:], rate)
	binary.LittleEndian.PutUint32(hdr[28:], 2*rate)
	binary.LittleEndian.PutUint16(hdr[32:], 2)
	binary.LittleEndian.PutUint16(hdr[34:], 16)
	copy(hdr[36:], "data")
	binary.LittleEndian.PutUint32(hdr[40:], dataBytes)
	return hdr
}
