package sip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/earshot/earshot/internal/testdep"
	"github.com/earshot/earshot/media/codec"
	"github.com/earshot/earshot/media/ingest"
	"github.com/earshot/earshot/media/ingest/ingesttest"
	"github.com/earshot/earshot/media/pipeline"
	"github.com/earshot/earshot/media/stt/pocketsphinx"
)

// engine is the package's shared PocketSphinx engine (see TestMain).
var engine *pocketsphinx.Engine

func TestMain(m *testing.M) { ingesttest.Main(m, "sip", &engine) }

// collector is an Opener that runs each call through the real media
// pipeline (PocketSphinx) and records its transcript and DTMF events.
type collector struct {
	pipe   *pipeline.Pipeline
	opened chan *recEngagement
	mu     sync.Mutex
	refuse error
	// refuseParty, when set, makes Open return a stand-in engagement that
	// refuses every party with it (as a pipeline without a free recogniser
	// does), so that the refusal can be repeated a thousand times.
	refuseParty error
	// gate, when set, holds Open until it is closed, after telling
	// entered (an engagement slow to open, as under load).
	gate, entered chan struct{}
}

func newCollector(t *testing.T) *collector {
	p, err := pipeline.New(pipeline.DefaultConfig(), nil, prometheus.NewRegistry(), engine)
	if err != nil {
		t.Fatal(err)
	}
	return &collector{pipe: p, opened: make(chan *recEngagement, 16)}
}

func (c *collector) Open(ctx context.Context, m Meta) (ingest.Engagement, error) {
	c.mu.Lock()
	refuse, refuseParty, gate, entered := c.refuse, c.refuseParty, c.gate, c.entered
	c.mu.Unlock()
	if gate != nil {
		entered <- struct{}{}
		<-gate
	}
	if refuse != nil {
		return nil, refuse
	}
	if refuseParty != nil {
		return refusingEngagement{refuseParty}, nil
	}
	pe, err := c.pipe.Open(context.Background(), pipeline.OpenOptions{ID: m.CallID, Source: m.Source})
	if err != nil {
		return nil, err
	}
	e := &recEngagement{Recording: ingesttest.Record(pe), meta: m}
	c.opened <- e
	return e, nil
}

func (c *collector) next(t *testing.T) *recEngagement {
	t.Helper()
	select {
	case e := <-c.opened:
		return e
	case <-time.After(30 * time.Second):
		t.Fatal("no engagement opened within 30 s")
		return nil
	}
}

// refusingEngagement refuses every party.
type refusingEngagement struct{ err error }

func (e refusingEngagement) AddParty(ingest.Party, codec.Format, int) (ingest.Sink, error) {
	return nil, e.err
}

func (refusingEngagement) Close(error) {}

// set changes the collector's refusals.
func (c *collector) set(refuse, refuseParty error) {
	c.mu.Lock()
	c.refuse, c.refuseParty = refuse, refuseParty
	c.mu.Unlock()
}

// recEngagement records what the SIP server does with an engagement
// (ingesttest.Recording: parties, finals, DTMF digits, Close), with the
// call's Meta and its participant updates.
type recEngagement struct {
	*ingesttest.Recording
	meta    Meta
	mu      sync.Mutex
	updates [][]Participant
	holds   []string // "party:held" per Hold call
}

func (e *recEngagement) Participants(ps []Participant) {
	e.mu.Lock()
	e.updates = append(e.updates, ps)
	e.mu.Unlock()
}

func (e *recEngagement) Hold(p ingest.Party, held bool) {
	e.mu.Lock()
	e.holds = append(e.holds, fmt.Sprintf("%s:%t", p, held))
	e.mu.Unlock()
}

// waitHolds waits up to 5 s for the engagement's Hold calls to be want
// (in order); the calls follow the answer.
func (e *recEngagement) waitHolds(t *testing.T, want ...string) {
	t.Helper()
	var got []string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		e.mu.Lock()
		got = slices.Clone(e.holds)
		e.mu.Unlock()
		if slices.Equal(got, want) {
			return
		}
	}
	t.Errorf("hold changes %v, want %v", got, want)
}

type env struct {
	srv *Server
	col *collector
	reg *prometheus.Registry
}

// rtpBase spreads the RTP port ranges of the tests of this package (the
// WHIP tests use 40000-40999).
var (
	rtpMu   sync.Mutex
	rtpBase = 42000
)

// testServer starts a SIP server on loopback (UDP and TCP, ephemeral
// ports) with a private RTP port range; before runs on the server before
// it starts.
func testServer(t *testing.T, mod func(*Config), before ...func(*Server)) *env {
	t.Helper()
	cfg := DefaultConfig()
	cfg.UDP, cfg.TCP = "127.0.0.1:0", "127.0.0.1:0"
	rtpMu.Lock()
	cfg.RTPPortMin, cfg.RTPPortMax = rtpBase, rtpBase+99
	rtpBase += 100
	rtpMu.Unlock()
	cfg.AgentPatterns = []string{`^sip:2\d{3}@`}
	cfg.Headers = map[string]string{"X-Queue": "queue", "X-Agent": "agent"}
	cfg.RTPTimeout = 5 * time.Second
	if mod != nil {
		mod(&cfg)
	}
	reg := prometheus.NewRegistry()
	col := newCollector(t)
	srv, err := New(cfg, slog.New(slog.NewTextHandler(t.Output(), nil)), reg, col)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range before {
		f(srv)
	}
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return &env{srv: srv, col: col, reg: reg}
}

func (e *env) counter(t *testing.T, c prometheus.Collector) float64 {
	t.Helper()
	return testutil.ToFloat64(c)
}

// streamPort returns the RTP port the server answered for a stream of a
// call ("label:2", "index:0").
func (e *env) streamPort(t *testing.T, callID, key string) int {
	t.Helper()
	c := e.srv.lookup(callID)
	for i := 0; c == nil && i < 600; i++ {
		time.Sleep(50 * time.Millisecond) // the call is registered after Open
		c = e.srv.lookup(callID)
	}
	if c == nil {
		t.Fatalf("no call %q", callID)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	rs := c.streams[key]
	if rs == nil {
		t.Fatalf("call has no stream %q", key)
	}
	return rs.port
}

// runSIPp runs the calls of a scenario from testdata (with {{KEY}}
// substitutions) against addr, sending RTP from mediaPort (extra may
// give -m and other options). It returns SIPp's exit error and output.
func runSIPp(t *testing.T, scenario string, subs map[string]string, addr string, mediaPort int, extra ...string) (string, error) {
	t.Helper()
	testdep.Program(t, "sipp", "sip-tester")
	raw, err := os.ReadFile(filepath.Join("testdata", scenario))
	if err != nil {
		t.Fatal(err)
	}
	s := string(raw)
	for k, v := range subs {
		s = strings.ReplaceAll(s, "{{"+k+"}}", v)
	}
	dir := t.TempDir()
	sf := filepath.Join(dir, scenario)
	if err := os.WriteFile(sf, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	args := []string{addr, "-sf", sf, "-i", "127.0.0.1", "-p", strconv.Itoa(ingesttest.FreeUDPPort(t)),
		"-mi", "127.0.0.1", "-mp", strconv.Itoa(mediaPort), "-timeout", "60s", "-timeout_error", "-nostdin",
		"-recv_timeout", "20000", "-trace_err", "-error_file", filepath.Join(dir, "errors.log")}
	if !slices.Contains(extra, "-m") {
		args = append(args, "-m", "1") // one call unless the test says
	}
	args = append(args, extra...)
	cmd := exec.CommandContext(ctx, "sipp", args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if errb, _ := os.ReadFile(filepath.Join(dir, "errors.log")); len(errb) > 0 {
		out = append(out, errb...)
	}
	return string(out), err
}

// speechULaw converts a test utterance with sox to raw 8 kHz mu-law with
// half a second of silence before and after; it returns the file, its
// bytes and what is said.
func speechULaw(t *testing.T, id string) (string, []byte, string) {
	t.Helper()
	return ingesttest.SpeechRawFile(t, id, "mu-law", 8000)
}

// rtpSender sends G.711 from a local UDP socket.
type rtpSender struct {
	conn *net.UDPConn
	dst  netip.AddrPort
	ssrc uint32
	seq  uint16
	ts   uint32
}

func newRTPSender(t *testing.T, localPort int) *rtpSender {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: localPort})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rtpSender{conn: c, ssrc: 0x5eed0001, seq: 1000, ts: 160000}
}

func (s *rtpSender) port() int { return s.conn.LocalAddr().(*net.UDPAddr).Port }

func (s *rtpSender) send(t *testing.T, pt uint8, payload []byte, marker bool) {
	t.Helper()
	p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: pt, SequenceNumber: s.seq, Timestamp: s.ts, SSRC: s.ssrc, Marker: marker},
		Payload: payload}
	b, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.conn.WriteToUDPAddrPort(b, s.dst); err != nil && !errors.Is(err, net.ErrClosed) {
		t.Errorf("send RTP: %v", err)
	}
}

// stream sends audio in 20 ms packets in real time. Every tenth pair of
// packets is sent swapped (reordering), and halfway the SSRC, sequence and
// timestamp base change (a new source).
func (s *rtpSender) stream(t *testing.T, pt uint8, audio []byte) {
	t.Helper()
	const n = 160
	var pkts [][]byte
	for i := 0; i+n <= len(audio); i += n {
		pkts = append(pkts, audio[i:i+n])
	}
	start := time.Now()
	for i := 0; i < len(pkts); i++ {
		if i == len(pkts)/2 {
			s.ssrc, s.seq, s.ts = 0x5eed0002, 40000, 9000000
		}
		if i%10 == 5 && i+1 < len(pkts) && i+1 != len(pkts)/2 {
			// reorder: send i+1 before i
			s.seq++
			s.ts += n
			s.send(t, pt, pkts[i+1], false)
			s.seq--
			s.ts -= n
			s.send(t, pt, pkts[i], false)
			s.seq += 2
			s.ts += 2 * n
			i++
		} else {
			s.send(t, pt, pkts[i], false)
			s.seq++
			s.ts += n
		}
		time.Sleep(time.Until(start.Add(time.Duration(i+1) * 20 * time.Millisecond)))
	}
}

var waitFor = ingesttest.WaitFor

// call places a plain call from u with one PCMU stream (from a new RTP
// sender, whose port the offer names) and returns the server's To tag,
// the sender and the engagement.
func (e *env) call(t *testing.T, u *uac, id string) (string, *rtpSender, *recEngagement) {
	t.Helper()
	snd := newRTPSender(t, 0)
	res := u.do(t, u.request("INVITE", id, "", 1, nil, "application/sdp", sdpOffer(snd.port(), "0")))
	if res.StatusCode != 200 {
		t.Fatalf("INVITE %s: %d %s", id, res.StatusCode, res.Reason)
	}
	tag, _ := res.To().Params.Get("tag")
	return tag, snd, e.col.next(t)
}

// hangUp ends a call with BYE and checks that its engagement closes
// without error.
func (e *env) hangUp(t *testing.T, u *uac, id, tag string, eng *recEngagement) {
	t.Helper()
	if res := u.do(t, u.request("BYE", id, tag, 100, nil, "", "")); res.StatusCode != 200 {
		t.Errorf("BYE %s: %d", id, res.StatusCode)
	}
	if err := eng.WaitClosed(t); err != nil {
		t.Errorf("%s closed with %v after BYE, want nil", id, err)
	}
}
