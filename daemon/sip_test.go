package daemon

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/earshot/earshot/internal/testdep"
	"github.com/earshot/earshot/media/ingest"
	"github.com/earshot/earshot/media/ingest/ingesttest"
	"github.com/earshot/earshot/media/sip"
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
	cfg.DataDir = t.TempDir()
	err = ParseConfig([]byte("media:\n  sip:\n    enabled: true\n    hold_timeout: 2m\n    rtp_source: latch\n    max_streams: 2\n"+
		"    tcp_idle_timeout: 45s\n    max_tcp_connections_per_source: 4\n    max_message_bytes: 32768\n"), &cfg)
	if err != nil {
		t.Fatal(err)
	}
	if s := cfg.Media.SIP; s.HoldTimeout != 2*time.Minute || s.RTPSource != "latch" || s.MaxStreams != 2 || s.TCPIdleTimeout != 45*time.Second ||
		s.MaxTCPConnectionsPerSource != 4 || s.MaxTCPConnections != 1024 || s.MaxMessageBytes != 32768 {
		t.Errorf("sip limits = %+v, want the keys given over the defaults", s.Config)
	}
	for _, bad := range []string{"rtp_source: anywhere", "max_streams: 0", "max_message_bytes: 100000", "hold_timeout: 0s"} {
		cfg = DefaultConfig(false)
		err := ParseConfig([]byte("media:\n  sip:\n    enabled: true\n    "+bad+"\n"), &cfg)
		if err == nil {
			err = cfg.Media.SIP.Validate()
		}
		if name, _, _ := strings.Cut(bad, ":"); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: err = %v, want one naming %s", bad, err, name)
		}
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
	cfg.Queues = []string{"collections"}
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

// TestSIPRECThroughDaemon: SIPp sends a SIPREC INVITE to the daemon and
// streams the agent's track of the timed conversation on the agent's
// stream, then a DTMF digit. The engagement lands in the queue of the
// X-Queue header with the agent user named by the extension, the
// transcript's speaker is the agent, its segment lies within 150 ms of the
// utterance, its text within the measured word error rate
// (ingesttest.MaxWER), and the digit is an event, not transcript text.
func TestSIPRECThroughDaemon(t *testing.T) {
	testdep.Program(t, "sipp", "sip-tester")
	td := startDaemon(t, nil)
	td.mustCall(t, td.Admin, "POST", "/api/v1/queues", queueRequest{ID: "collections"}, 201)
	td.tokenFor(t, "2042", RoleAgent, "collections")
	s := startSIP(t, td, nil)

	// The agent's track of the timed conversation (the agent speaks at
	// 3.0 s); SIPp streams it on label 1 from the call's first packet.
	conv := ingesttest.BuildConversation(t, 8000).Only(ingest.PartyAgent)
	dir := t.TempDir()
	ulaw := filepath.Join(dir, "agent.ulaw")
	if err := os.WriteFile(ulaw, conv.Encode(t, ingest.PartyAgent, "mu-law", 8000), 0o600); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(ulaw)
	scen, err := os.ReadFile("../media/sip/testdata/siprec.xml")
	if err != nil {
		t.Fatal(err)
	}
	sc := strings.NewReplacer("{{AUDIO}}", ulaw, "{{AUDIOMS}}", strconv.Itoa(int(st.Size())/8+1500),
		"{{DTMF}}", "/usr/share/sip-tester/dtmf_2833_7.pcap", "{{RTPPORT2}}", strconv.Itoa(ingesttest.FreeUDPPort(t))).Replace(string(scen))
	sf := filepath.Join(dir, "siprec.xml")
	os.WriteFile(sf, []byte(sc), 0o600)
	id := sippCall(t, td, s, sf, dir, "collections").ID
	var full store.Engagement
	json.Unmarshal(td.mustCall(t, td.Admin, "GET", "/api/v1/engagements/"+id, nil, 200), &full)
	if full.Agent != "2042" || full.Channel != "voice" || full.Direction != "inbound" {
		t.Errorf("engagement = %+v, want agent 2042 (from the agent's AoR), voice, inbound", full)
	}
	_, segs := transcriptText(t, td, td.Admin, id)
	conv.CheckTimes(t, timed(segs), 0)
	conv.CheckWER(t, timed(segs))
	for _, sg := range segs {
		if sg.Speaker != "agent" {
			t.Errorf("segment speaker %q, want agent (stream label 1 by the metadata)", sg.Speaker)
		}
		if strings.Contains(sg.Text, "7") {
			t.Errorf("a DTMF digit reached the transcript: %q", sg.Text)
		}
	}
	if got := metricValue(t, td, `earshot_engagements_events_total{type="dtmf"}`); got != "1" {
		t.Errorf("dtmf events = %v, want 1", got)
	}
	if got := metricValue(t, td, `earshot_engagements_events_total{type="sip.call"}`); got != "1" {
		t.Errorf("sip.call events = %v, want 1", got)
	}
}

// sippCall runs SIPp once with the scenario file sf (in dir) against the
// daemon's SIP server and returns the one engagement of queue, ended.
func sippCall(t *testing.T, td *testDaemon, s *sipIngest, sf, dir, queue string) store.Engagement {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sipp", s.srv.UDPAddr(), "-sf", sf, "-m", "1", "-i", "127.0.0.1", "-p", strconv.Itoa(ingesttest.FreeUDPPort(t)),
		"-mi", "127.0.0.1", "-mp", strconv.Itoa(ingesttest.FreeMediaPorts(t)), "-timeout", "60s", "-timeout_error", "-nostdin", "-recv_timeout", "20000")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sipp: %v\n%s", err, out)
	}
	var list []store.Engagement
	json.Unmarshal(td.mustCall(t, td.Admin, "GET", "/api/v1/engagements?queue="+queue, nil, 200), &list)
	if len(list) != 1 {
		t.Fatalf("engagements = %+v, want one in queue %s", list, queue)
	}
	waitEnded(t, td, list[0].ID)
	return list[0]
}

// TestSIPRefusedByDaemon: a call naming an unknown queue is refused with
// 400, one whose header names a queue outside the SIP section's queues
// with 403, one naming an agent who does not handle the queue with 400;
// each is counted by the hub and no engagement is created.
func TestSIPRefusedByDaemon(t *testing.T) {
	td := startDaemon(t, nil)
	for _, q := range []string{"collections", "private"} {
		td.mustCall(t, td.Admin, "POST", "/api/v1/queues", queueRequest{ID: q}, 201)
	}
	td.tokenFor(t, "2042", RoleAgent, "private")
	s := startSIP(t, td, func(c *SIPConfig) {
		c.DefaultQueue = "nosuchqueue"
		c.Headers["X-Agent"] = "agent"
	})
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	dst, _ := net.ResolveUDPAddr("udp", s.srv.UDPAddr())
	for i, tc := range []struct {
		headers, status, text, reason string
	}{
		{"", "400", "unknown queue nosuchqueue", "invalid"},
		{"X-Queue: private\r\n", "403", "not one of the SIP section's queues", "scope"},
		{"X-Queue: collections\r\nX-Agent: 2042\r\n", "400", "does not handle queue collections", "invalid"},
	} {
		body := "v=0\r\no=x 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 30000 RTP/AVP 0\r\n"
		msg := "INVITE sip:srs@" + dst.String() + " SIP/2.0\r\nVia: SIP/2.0/UDP " + c.LocalAddr().String() + fmt.Sprintf(";branch=z9hG4bK-q%d\r\n", i) +
			fmt.Sprintf("From: <sip:a@b>;tag=1\r\nTo: <sip:srs@c>\r\nCall-ID: q%d@test\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n", i) +
			"Contact: <sip:a@" + c.LocalAddr().String() + ">\r\n" + tc.headers +
			"Content-Type: application/sdp\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
		c.WriteToUDP([]byte(msg), dst)
		buf := make([]byte, 4096)
		c.SetReadDeadline(time.Now().Add(15 * time.Second))
		for {
			n, err := c.Read(buf)
			if err != nil {
				t.Fatalf("call %d: no response: %v", i, err)
			}
			line, _, _ := strings.Cut(string(buf[:n]), "\r\n")
			if strings.HasPrefix(line, "SIP/2.0 1") {
				continue
			}
			if !strings.HasPrefix(line, "SIP/2.0 "+tc.status) || !strings.Contains(string(buf[:n]), tc.text) {
				t.Errorf("call %d: response %q, want %s saying %q", i, string(buf[:n]), tc.status, tc.text)
			}
			break
		}
	}
	for reason, want := range map[string]string{"invalid": "2", "scope": "1"} {
		if got := metricValue(t, td, `earshot_engagements_refused_total{reason="`+reason+`"}`); got != want {
			t.Errorf("hub refusals{%s} = %v, want %s", reason, got, want)
		}
	}
	if es, _ := td.store.Engagements(context.Background(), store.EngagementFilter{}); len(es) != 0 {
		t.Errorf("%d engagements stored, want none", len(es))
	}
}

// BenchmarkSIPRECCalls holds n concurrent SIPREC calls (two PCMU streams
// each, 20 ms packets in real time from a Go sender in this process) on a
// daemon with media engine "none": signalling, RTP reception, reorder
// buffer, G.711 decoding, resampling and voice activity detection run, the
// recogniser does not. One iteration is one second of audio on every
// stream. It reports the CPU time per call-second (daemon and sender
// together), the packet-to-pipeline latency (earshot_sip_rtp_to_pipeline_
// seconds, interpolated in its buckets), and packets dropped or lost.
func BenchmarkSIPRECCalls(b *testing.B) {
	for _, n := range []int{10, 50, 100, 200} {
		b.Run("calls="+strconv.Itoa(n), func(b *testing.B) { benchSIPREC(b, n) })
	}
}

func benchSIPREC(b *testing.B, n int) {
	cfg := DefaultConfig(false)
	cfg.DataDir = b.TempDir()
	cfg.Listen = "127.0.0.1:0"
	cfg.Media.Engine = "none"
	cfg.Media.Pipeline.MaxEngagements = n + 1
	cfg.Engagements.MaxLive = n + 1
	d, err := New(cfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	ln, err := d.Listen()
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- d.Serve(ctx, ln) }()
	defer func() { cancel(); <-served }()
	now := time.Now().UTC()
	if err := d.store.CreateQueue(ctx, store.Queue{ID: "bench", Name: "bench", CreatedAt: now, UpdatedAt: now}); err != nil {
		b.Fatal(err)
	}
	sc := DefaultSIPConfig()
	sc.Enabled, sc.UDP, sc.TCP, sc.DefaultQueue = true, "127.0.0.1:0", "", "bench"
	sc.RTPPortMin, sc.RTPPortMax, sc.MaxCalls = 46000, 46000+4*n+3, n+1
	// One socket sends every stream: its port is latched, not the offer's.
	sc.RTPSource = sip.RTPSourceLatch
	s, err := newSIPIngest(d.media, sc, nil, d.reg)
	if err != nil {
		b.Fatal(err)
	}
	if err := s.srv.Listen(); err != nil {
		b.Fatal(err)
	}
	sctx, scancel := context.WithCancel(context.Background())
	sipDone := make(chan error, 1)
	go func() { sipDone <- s.run(sctx) }()
	defer func() { scancel(); <-sipDone }()

	sig, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	defer sig.Close()
	srvAddr, _ := net.ResolveUDPAddr("udp", s.srv.UDPAddr())
	var dsts []*net.UDPAddr
	tags := make([]string, n)
	for i := range n {
		res := benchRequest(b, sig, srvAddr, "INVITE", i, "", 1, benchSIPRECBody)
		tags[i] = res.tag
		for _, p := range res.ports {
			dsts = append(dsts, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: p})
		}
	}
	if len(dsts) != 2*n {
		b.Fatalf("%d streams answered, want %d", len(dsts), 2*n)
	}
	media, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	defer media.Close()
	_ = media.SetWriteBuffer(4 << 20)
	// A 440 Hz tone in mu-law, so that the VAD and resampler see signal.
	tone := make([]byte, 160)
	for i := range tone {
		v := 8000 * math.Sin(2*math.Pi*440*float64(i)/8000)
		tone[i] = muLaw(int16(v))
	}
	pkt := make([]byte, 12+160)
	copy(pkt[12:], tone)
	seq, ts := uint16(1), uint32(0)
	tick := func() {
		for j, dst := range dsts {
			pkt[0], pkt[1] = 0x80, 0
			binary.BigEndian.PutUint16(pkt[2:], seq)
			binary.BigEndian.PutUint32(pkt[4:], ts)
			binary.BigEndian.PutUint32(pkt[8:], uint32(j+1))
			if _, err := media.WriteToUDP(pkt, dst); err != nil {
				b.Fatal(err)
			}
		}
		seq++
		ts += 160
	}
	var ru0, ru1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	start := time.Now()
	b.ResetTimer()
	for i := range b.N * 50 {
		tick()
		time.Sleep(time.Until(start.Add(time.Duration(i+1) * 20 * time.Millisecond)))
	}
	b.StopTimer()
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	time.Sleep(200 * time.Millisecond)
	if got := s.srv.Calls(); got != n {
		b.Errorf("%d calls held at the end, want %d", got, n)
	}
	cpu := time.Duration(ru1.Utime.Nano()-ru0.Utime.Nano()) + time.Duration(ru1.Stime.Nano()-ru0.Stime.Nano())
	b.ReportMetric(float64(cpu.Milliseconds())/float64(n*b.N), "cpu-ms/call-s")
	mfs, err := d.reg.Gather()
	if err != nil {
		b.Fatal(err)
	}
	var dropped, lost, overflow float64
	for _, mf := range mfs {
		switch mf.GetName() {
		case "earshot_sip_rtp_to_pipeline_seconds":
			h := mf.GetMetric()[0].GetHistogram()
			b.ReportMetric(histQuantile(h, 0.5)*1e6, "p50-µs")
			b.ReportMetric(histQuantile(h, 0.99)*1e6, "p99-µs")
		case "earshot_sip_rtp_packets_dropped_total":
			for _, m := range mf.GetMetric() {
				dropped += m.GetCounter().GetValue()
			}
		case "earshot_pipeline_packets_lost_total":
			for _, m := range mf.GetMetric() {
				lost += m.GetCounter().GetValue()
			}
		case "earshot_pipeline_audio_overflow_seconds_total":
			for _, m := range mf.GetMetric() {
				overflow += m.GetCounter().GetValue()
			}
		}
	}
	b.ReportMetric(dropped, "dropped")
	b.ReportMetric(lost, "lost")
	b.ReportMetric(overflow, "overflow-s")
	for i := range n {
		benchRequest(b, sig, srvAddr, "BYE", i, tags[i], 2, "")
	}
}

const benchSIPRECBody = "--bb\r\nContent-Type: application/sdp\r\n\r\n" +
	"v=0\r\no=src 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n" +
	"m=audio 30000 RTP/AVP 0\r\na=label:1\r\na=sendonly\r\nm=audio 30002 RTP/AVP 0\r\na=label:2\r\na=sendonly\r\n" +
	"\r\n--bb\r\nContent-Type: application/rs-metadata+xml\r\n\r\n" +
	`<recording xmlns="urn:ietf:params:xml:ns:recording:1"><participant participant_id="a"><nameID aor="sip:2001@pbx"/></participant>` +
	`<participant participant_id="c"><nameID aor="sip:+4930@pstn"/></participant><stream stream_id="s1"><label>1</label></stream>` +
	`<stream stream_id="s2"><label>2</label></stream><participantstreamassoc participant_id="a"><send>s1</send></participantstreamassoc>` +
	`<participantstreamassoc participant_id="c"><send>s2</send></participantstreamassoc></recording>` + "\r\n--bb--\r\n"

type benchResponse struct {
	tag   string
	ports []int
}

var benchPort = regexp.MustCompile(`(?m)^m=audio (\d+) `)

// benchRequest sends one request of call i and waits for its final
// response (ACKing a 200 to INVITE).
func benchRequest(b *testing.B, c *net.UDPConn, dst *net.UDPAddr, method string, i int, tag string, cseq int, body string) benchResponse {
	b.Helper()
	id := fmt.Sprintf("bench-%d@test", i)
	to := "<sip:srs@" + dst.String() + ">"
	if tag != "" {
		to += ";tag=" + tag
	}
	head := fmt.Sprintf("%s sip:srs@%s SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bK-%s-%d-%d\r\nFrom: <sip:src@pbx>;tag=f%d\r\nTo: %s\r\n"+
		"Call-ID: %s\r\nCSeq: %d %s\r\nMax-Forwards: 70\r\nContact: <sip:src@%s>;+sip.src\r\n",
		method, dst, c.LocalAddr(), method, i, cseq, i, to, id, cseq, method, c.LocalAddr())
	if body != "" {
		head += "Require: siprec\r\nContent-Type: multipart/mixed;boundary=bb\r\n"
	}
	msg := head + fmt.Sprintf("Content-Length: %d\r\n\r\n%s", len(body), body)
	if _, err := c.WriteToUDP([]byte(msg), dst); err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 8192)
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	for {
		nr, err := c.Read(buf)
		if err != nil {
			b.Fatalf("call %d %s: no response: %v", i, method, err)
		}
		r := string(buf[:nr])
		if !strings.Contains(r, "Call-ID: "+id) || strings.HasPrefix(r, "SIP/2.0 1") || !strings.Contains(r, " "+method+"\r\n") {
			continue
		}
		if !strings.HasPrefix(r, "SIP/2.0 200") {
			line, _, _ := strings.Cut(r, "\r\n")
			b.Fatalf("call %d %s: %s", i, method, line)
		}
		var res benchResponse
		if _, after, ok := strings.Cut(r, "\r\nTo: "); ok {
			toLine, _, _ := strings.Cut(after, "\r\n")
			if _, t, ok := strings.Cut(toLine, "tag="); ok {
				res.tag, _, _ = strings.Cut(t, ";")
			}
		}
		for _, m := range benchPort.FindAllStringSubmatch(r, -1) {
			p, _ := strconv.Atoi(m[1])
			res.ports = append(res.ports, p)
		}
		if method == "INVITE" {
			ack := fmt.Sprintf("ACK sip:srs@%s SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bK-ack-%d\r\nFrom: <sip:src@pbx>;tag=f%d\r\nTo: <sip:srs@%s>;tag=%s\r\n"+
				"Call-ID: %s\r\nCSeq: %d ACK\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n", dst, c.LocalAddr(), i, i, dst, res.tag, id, cseq)
			c.WriteToUDP([]byte(ack), dst)
		}
		return res
	}
}

// histQuantile interpolates a quantile within a histogram's buckets.
func histQuantile(h *dto.Histogram, q float64) float64 {
	total := float64(h.GetSampleCount())
	if total == 0 {
		return 0
	}
	rank, prevCount, prevBound := q*total, 0.0, 0.0
	for _, bk := range h.GetBucket() {
		c := float64(bk.GetCumulativeCount())
		if c >= rank {
			if c == prevCount {
				return bk.GetUpperBound()
			}
			return prevBound + (bk.GetUpperBound()-prevBound)*(rank-prevCount)/(c-prevCount)
		}
		prevCount, prevBound = c, bk.GetUpperBound()
	}
	return prevBound
}

func muLaw(s int16) byte {
	const bias, clip = 0x84, 32635
	sign := byte(0)
	v := int(s)
	if v < 0 {
		v, sign = -v, 0x80
	}
	v = min(v, clip) + bias
	exp := 7
	for mask := 0x4000; v&mask == 0 && exp > 0; mask >>= 1 {
		exp--
	}
	return ^(sign | byte(exp<<4) | byte((v>>(exp+3))&0x0f))
}
