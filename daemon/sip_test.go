package daemon

import (
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/earshot/earshot/store"
)

func TestSIPConfigYAML(t *testing.T) {
	cfg := DefaultConfig(false)
	cfg.DataDir = t.TempDir()
	err := ParseConfig([]byte("media:\n  sip:\n    enabled: true\n    udp: 127.0.0.1:5070\n    tcp: \"\"\n    default_queue: support\n"+
		"    agent_patterns: ['^sip:2\\d{3}@']\n    headers: {X-Queue: queue}\n"), &cfg)
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.Media.SIP
	if !s.Enabled || s.UDP != "127.0.0.1:5070" || s.TCP != "" || s.DefaultQueue != "support" || s.Headers["X-Queue"] != "queue" ||
		s.MaxCalls != 64 || s.RTPPortMin != 20000 || s.Direction != "inbound" {
		t.Errorf("sip config = %+v, want the keys given over the defaults", s)
	}
	if err := s.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
	s.AgentUser = "^sip:\\d+@"
	if err := s.Validate(); err == nil || !strings.Contains(err.Error(), "agent_user") {
		t.Errorf("agent_user without a group: err = %v", err)
	}
	cfg = DefaultConfig(false)
	if err := ParseConfig([]byte("media:\n  sip:\n    enabled: true\n    bogus: 1\n"), &cfg); err == nil {
		t.Error("an unknown key in media.sip was accepted")
	}
	if cfg := DefaultConfig(false); cfg.Media.SIP.Enabled {
		t.Error("SIP is enabled by default")
	}
}

// startSIP runs the daemon's SIP ingest (as Serve would) on loopback with
// ephemeral SIP ports; it stops before the daemon does.
func startSIP(t *testing.T, td *testDaemon, mod func(*SIPConfig)) *sipIngest {
	t.Helper()
	cfg := DefaultSIPConfig()
	cfg.Enabled = true
	cfg.UDP, cfg.TCP = "127.0.0.1:0", ""
	cfg.RTPPortMin, cfg.RTPPortMax = 44000, 44099
	cfg.AgentPatterns = []string{`^sip:2\d{3}@`}
	cfg.Headers = map[string]string{"X-Queue": "queue"}
	cfg.AgentUser = `^sip:(\d{4})@`
	if mod != nil {
		mod(&cfg)
	}
	s, err := newSIPIngest(td.media, cfg, nil, td.reg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.srv.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("sip run: %v", err)
		}
	})
	return s
}

func freeUDP(t *testing.T) int {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// TestSIPRECThroughDaemon: SIPp sends a SIPREC INVITE to the daemon and
// streams speech on the agent's stream, then a DTMF digit. The engagement
// lands in the queue of the X-Queue header with the agent user named by the
// extension, the transcript's speaker is the agent, and the digit is an
// event, not transcript text.
func TestSIPRECThroughDaemon(t *testing.T) {
	if _, err := exec.LookPath("sipp"); err != nil {
		t.Fatal("sipp not found: make test installs Debian sip-tester")
	}
	td := startDaemon(t, nil)
	td.mustCall(t, td.Admin, "POST", "/api/v1/queues", queueRequest{ID: "collections"}, 201)
	td.tokenFor(t, "2042", RoleAgent, "collections")
	s := startSIP(t, td, nil)

	// Two utterances after a second of silence, as in the Twilio test:
	// the recogniser's normalisation adapts to the line first.
	p1, said1 := speechFile(t, "0880")
	p2, said2 := speechFile(t, "0890")
	said := append(said1, said2...)
	dir := t.TempDir()
	ulaw := filepath.Join(dir, "agent.ulaw")
	if out, err := exec.Command("sox", p1, p2, "-r", "8000", "-c", "1", "-e", "u-law", "-t", "raw", ulaw, "pad", "1", "0.5").CombinedOutput(); err != nil {
		t.Fatalf("sox: %v\n%s", err, out)
	}
	st, _ := os.Stat(ulaw)
	scen, err := os.ReadFile("../media/sip/testdata/siprec.xml")
	if err != nil {
		t.Fatal(err)
	}
	sc := strings.NewReplacer("{{AUDIO}}", ulaw, "{{AUDIOMS}}", strconv.Itoa(int(st.Size())/8+1500),
		"{{DTMF}}", "/usr/share/sip-tester/dtmf_2833_7.pcap", "{{RTPPORT2}}", strconv.Itoa(freeUDP(t))).Replace(string(scen))
	sf := filepath.Join(dir, "siprec.xml")
	os.WriteFile(sf, []byte(sc), 0o600)
	// SIPp's media port pair and the pair after it must be free.
	mp := 45000 + (os.Getpid()%400)*2
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sipp", s.srv.UDPAddr(), "-sf", sf, "-m", "1", "-i", "127.0.0.1", "-p", strconv.Itoa(freeUDP(t)),
		"-mi", "127.0.0.1", "-mp", strconv.Itoa(mp), "-timeout", "60s", "-timeout_error", "-nostdin", "-recv_timeout", "20000")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sipp: %v\n%s", err, out)
	}

	var list []store.Engagement
	json.Unmarshal(td.mustCall(t, td.Admin, "GET", "/api/v1/engagements?queue=collections", nil, 200), &list)
	if len(list) != 1 {
		t.Fatalf("engagements = %+v, want one in queue collections", list)
	}
	id := list[0].ID
	waitEnded(t, td, id)
	var full store.Engagement
	json.Unmarshal(td.mustCall(t, td.Admin, "GET", "/api/v1/engagements/"+id, nil, 200), &full)
	if full.Agent != "2042" || full.Channel != "voice" || full.Direction != "inbound" {
		t.Errorf("engagement = %+v, want agent 2042 (from the agent's AoR), voice, inbound", full)
	}
	heard, segs := transcriptText(t, td, td.Admin, id)
	if r := recall(said, heard); r < 0.2 {
		t.Errorf("heard %q for %q: recall %.2f, want at least 0.2", heard, strings.Join(said, " "), r)
	}
	for _, sg := range segs {
		if sg.Speaker != "agent" {
			t.Errorf("segment speaker %q, want agent (stream label 1 by the metadata)", sg.Speaker)
		}
		if strings.Contains(sg.Text, "7") {
			t.Errorf("a DTMF digit reached the transcript: %q", sg.Text)
		}
	}
	if got := testutil.ToFloat64(td.hub.metrics.events.WithLabelValues("dtmf")); got != 1 {
		t.Errorf("dtmf events = %v, want 1", got)
	}
	if got := testutil.ToFloat64(td.hub.metrics.events.WithLabelValues("sip.call")); got != 1 {
		t.Errorf("sip.call events = %v, want 1", got)
	}
}

// TestSIPRefusedByDaemon: a call naming an unknown queue is refused with
// 400 and counted by the hub; no engagement is created.
func TestSIPRefusedByDaemon(t *testing.T) {
	td := startDaemon(t, nil)
	s := startSIP(t, td, func(c *SIPConfig) { c.DefaultQueue = "nosuchqueue" })
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	dst, _ := net.ResolveUDPAddr("udp", s.srv.UDPAddr())
	body := "v=0\r\no=x 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 30000 RTP/AVP 0\r\n"
	msg := "INVITE sip:srs@" + dst.String() + " SIP/2.0\r\nVia: SIP/2.0/UDP " + c.LocalAddr().String() + ";branch=z9hG4bK-q1\r\n" +
		"From: <sip:a@b>;tag=1\r\nTo: <sip:srs@c>\r\nCall-ID: q1@test\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\nContact: <sip:a@" + c.LocalAddr().String() + ">\r\n" +
		"Content-Type: application/sdp\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
	c.WriteToUDP([]byte(msg), dst)
	buf := make([]byte, 4096)
	c.SetReadDeadline(time.Now().Add(15 * time.Second))
	for {
		n, err := c.Read(buf)
		if err != nil {
			t.Fatalf("no response: %v", err)
		}
		line, _, _ := strings.Cut(string(buf[:n]), "\r\n")
		if strings.HasPrefix(line, "SIP/2.0 1") {
			continue
		}
		if !strings.HasPrefix(line, "SIP/2.0 400") || !strings.Contains(string(buf[:n]), "unknown queue nosuchqueue") {
			t.Errorf("response %q, want 400 naming the unknown queue", string(buf[:n]))
		}
		break
	}
	if got := testutil.ToFloat64(td.hub.metrics.refused.WithLabelValues("invalid")); got != 1 {
		t.Errorf("hub refusals{invalid} = %v, want 1", got)
	}
}
