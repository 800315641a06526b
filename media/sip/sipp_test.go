package sip

import (
	"net/netip"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/earshot/earshot/media/ingest"
	"github.com/earshot/earshot/media/ingest/ingesttest"
)

// TestSIPpPlainPCAP: SIPp places a plain call and plays Debian's PCMA pcap
// (30 ms packets), then an RFC 2833 digit from another pcap (another
// SSRC); the server records one mixed party, the digit as a DTMF event, and
// the X-Queue header as metadata; BYE ends the engagement.
func TestSIPpPlainPCAP(t *testing.T) {
	e := testServer(t, nil)
	mp := ingesttest.FreeMediaPorts(t)
	out, err := runSIPp(t, "plain_pcap.xml", map[string]string{"AUDIO": "/usr/share/sip-tester/g711a.pcap", "AUDIOMS": "7500",
		"DTMF": "/usr/share/sip-tester/dtmf_2833_1.pcap"}, e.srv.UDPAddr(), mp)
	if err != nil {
		t.Fatalf("sipp: %v\n%s", err, out)
	}
	eng := e.col.next(t)
	eng.WaitClosed(t)
	if eng.Err() != nil {
		t.Errorf("engagement closed with %v, want nil (BYE)", eng.Err())
	}
	if eng.meta.SIPREC || eng.meta.CallID == "" || eng.meta.Fields["queue"] != "billing" {
		t.Errorf("meta = %+v, want a plain call with queue billing", eng.meta)
	}
	if diff := cmp.Diff([]ingest.Party{ingest.PartyMixed}, eng.meta.Parties); diff != "" {
		t.Errorf("parties (-want +got):\n%s", diff)
	}
	p := eng.Party(ingest.PartyMixed)
	// The pcap holds 236 packets of 240 bytes: 7.08 s.
	if got := p.Seconds(); got < 7.0 || got > 7.1 {
		t.Errorf("received %.2f s of PCMA, want 7.08", got)
	}
	if p.Format.Codec != "pcma" {
		t.Errorf("party format %+v, want pcma", p.Format)
	}
	eng.Transcript(t, ingest.PartyMixed) // drains the pipeline
	dtmf := eng.Digits()
	if diff := cmp.Diff([]string{"mixed:1"}, dtmf); diff != "" {
		t.Errorf("DTMF (-want +got):\n%s", diff)
	}
	if got := e.counter(t, e.srv.m.ended.WithLabelValues("bye")); got != 1 {
		t.Errorf("calls ended by BYE = %v, want 1", got)
	}
}

// TestSIPpPlainSpeech: SIPp streams speech converted to mu-law with
// rtp_stream (20 ms packets); the transcript has the words said, and the
// X-Queue and X-Agent headers become engagement fields.
func TestSIPpPlainSpeech(t *testing.T) {
	e := testServer(t, func(c *Config) { c.SingleParty = "customer" })
	file, audio, said := speechULaw(t, "0890")
	ms := len(audio)/8 + 500
	out, err := runSIPp(t, "plain_stream.xml", map[string]string{"AUDIO": file, "AUDIOMS": strconv.Itoa(ms)}, e.srv.UDPAddr(), ingesttest.FreeMediaPorts(t))
	if err != nil {
		t.Fatalf("sipp: %v\n%s", err, out)
	}
	eng := e.col.next(t)
	eng.WaitClosed(t)
	if diff := cmp.Diff(map[string]string{"queue": "sales", "agent": "a.smith"}, eng.meta.Fields); diff != "" {
		t.Errorf("fields (-want +got):\n%s", diff)
	}
	got := eng.Transcript(t, ingest.PartyCustomer)
	if d := os.Getenv("SIP_DUMP"); d != "" {
		os.WriteFile(d, eng.Party(ingest.PartyCustomer).Raw(), 0o600)
		os.WriteFile(d+".src", audio, 0o600)
	}
	if n, of := ingesttest.WordsFound(said, got); n < of/3 {
		t.Errorf("transcript has %d of %d words said (%q), want at least a third", n, of, got)
	}
	if s := eng.Party(ingest.PartyCustomer).Seconds(); s < float64(len(audio))/8000-0.1 {
		t.Errorf("received %.2f s, sent %.2f s", s, float64(len(audio))/8000)
	}
}

// TestSIPpSIPREC: SIPp as a session recording client sends a SIPREC
// INVITE (multipart SDP with two labelled sendonly streams and
// rs-metadata) and streams the agent's speech on stream label 1; the test
// sends the customer's speech on label 2 with a Go RTP sender (reordered
// packets, an SSRC change halfway). Each transcript comes out with its
// party from the metadata (label 1 is the agent by the extension pattern,
// though it comes first), and the digit after the speech is a DTMF event of
// the agent.
func TestSIPpSIPREC(t *testing.T) {
	e := testServer(t, nil)
	// Of the test utterances, 0890 is the one PocketSphinx reliably
	// recognises at 8 kHz: both parties say it; the customer's copy is cut
	// to 4.5 s, so that the audio lengths tell the streams apart.
	agentFile, agentAudio, agentSaid := speechULaw(t, "0890")
	_, custAudio, _ := speechULaw(t, "0890")
	custAudio = custAudio[:36000]
	custSaid := "unless to be rather cold hearted"
	mp := ingesttest.FreeMediaPorts(t)
	ms := len(agentAudio)/8 + 1500
	type result struct {
		out string
		err error
	}
	snd := newRTPSender(t, 0)
	done := make(chan result, 1)
	go func() {
		out, err := runSIPp(t, "siprec.xml", map[string]string{"AUDIO": agentFile, "AUDIOMS": strconv.Itoa(ms),
			"DTMF": "/usr/share/sip-tester/dtmf_2833_pound.pcap", "RTPPORT2": strconv.Itoa(snd.port())}, e.srv.UDPAddr(), mp)
		done <- result{out, err}
	}()
	eng := e.col.next(t)
	if !eng.meta.SIPREC || eng.meta.SessionID != "hVpd7YQgRW2nD22h7q60JQ==" || eng.meta.Fields["queue"] != "collections" {
		t.Errorf("meta = %+v, want SIPREC session hVpd7YQgRW2nD22h7q60JQ== in queue collections", eng.meta)
	}
	if diff := cmp.Diff([]ingest.Party{ingest.PartyAgent, ingest.PartyCustomer}, eng.meta.Parties); diff != "" {
		t.Errorf("parties by m-section (-want +got):\n%s", diff)
	}
	wantPs := []Participant{
		{ID: "srfBElmCRp2QB23b7Mpk0w==", Name: "Alex Smith", AoR: "sip:2042@pbx.example.com", Labels: []string{"1"}, Party: "agent"},
		{ID: "zSfPoSvdSDCmU3A3TRDxAw==", Name: "Caller", AoR: "sip:+15551230000@carrier.example.com", Labels: []string{"2"}, Party: "customer"},
	}
	if diff := cmp.Diff(wantPs, eng.meta.Participants); diff != "" {
		t.Errorf("participants (-want +got):\n%s", diff)
	}
	port := e.streamPort(t, eng.meta.CallID, "label:2")
	snd.dst = netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port))
	snd.stream(t, 0, custAudio)
	r := <-done
	if r.err != nil {
		t.Fatalf("sipp: %v\n%s", r.err, r.out)
	}
	eng.WaitClosed(t)
	for _, c := range []struct {
		party ingest.Party
		said  string
	}{{ingest.PartyAgent, agentSaid}, {ingest.PartyCustomer, custSaid}} {
		got := eng.Transcript(t, c.party)
		t.Logf("%s transcript: %q; %+v", c.party, got, eng.PE.Stats()[string(c.party)])
		if n, of := ingesttest.WordsFound(c.said, got); n < of/3 {
			t.Errorf("%s transcript has %d of %d words said (%q), want at least a third", c.party, n, of, got)
		}
	}
	if s, want := eng.Party(ingest.PartyAgent).Seconds(), float64(len(agentAudio))/8000; s < want-0.1 || s > want+0.1 {
		t.Errorf("agent stream: %.3f s received, %.3f s sent", s, want)
	}
	cust := eng.Party(ingest.PartyCustomer)
	if s, want := cust.Seconds(), float64(len(custAudio)/160*160)/8000; s < want-0.001 || s > want+0.001 {
		t.Errorf("customer stream: %.3f s received, %.3f s sent", s, want)
	}
	if _, backs := cust.Packets(); backs != 0 {
		t.Errorf("%d packets reached the party out of order; the reorder buffer and SSRC rebase should prevent it", backs)
	}
	if got := e.counter(t, e.srv.m.ssrcChanges); got != 2 {
		// one for the customer stream, one for SIPp's DTMF pcap (another SSRC)
		t.Errorf("SSRC changes = %v, want 2", got)
	}
	dtmf := eng.Digits()
	if diff := cmp.Diff([]string{"agent:#"}, dtmf); diff != "" {
		t.Errorf("DTMF (-want +got):\n%s", diff)
	}
}

// TestSIPpHeldCallsEnd: SIPp places four calls on hold from their INVITE
// (a=inactive, no RTP) on a server that takes four calls. While they are
// held within the hold timeout they keep their engagements alive and a
// fifth call gets 503; when the timeout passes the server ends each with a
// BYE (which SIPp waits for), counted, and a normal call works again.
// Such calls used to hold every slot for good.
func TestSIPpHeldCallsEnd(t *testing.T) {
	const hold = 3 * time.Second
	e := testServer(t, func(c *Config) { c.MaxCalls, c.HoldTimeout = 4, hold })
	type result struct {
		out string
		err error
	}
	done := make(chan result, 1)
	go func() {
		out, err := runSIPp(t, "held.xml", nil, e.srv.UDPAddr(), ingesttest.FreeMediaPorts(t), "-m", "4", "-l", "4", "-r", "20")
		done <- result{out, err}
	}()
	var engs []*recEngagement
	for range 4 {
		engs = append(engs, e.col.next(t))
	}
	started := time.Now()
	waitFor(t, "four calls", func() bool { return e.srv.Calls() == 4 })
	u := newUAC(t, e.srv.UDPAddr())
	if res := u.do(t, u.request("INVITE", "fifth@test", "", 1, nil, "application/sdp", sdpOffer(30000, "0"))); res.StatusCode != 503 {
		t.Errorf("a fifth call while four are held: %d, want 503", res.StatusCode)
	}
	r := <-done
	if r.err != nil {
		t.Fatalf("sipp (waits for the server's BYE on each call): %v\n%s", r.err, r.out)
	}
	if held := time.Since(started); held < hold {
		t.Errorf("held calls ended after %s, before the hold timeout of %s", held, hold)
	}
	for _, eng := range engs {
		if err := eng.WaitClosed(t); err == nil {
			t.Error("a held call's engagement closed without a reason, want the hold timeout")
		}
		if eng.KeepAlives() == 0 {
			t.Error("a held call did not keep its engagement alive while within the hold timeout")
		}
	}
	if got := e.counter(t, e.srv.m.ended.WithLabelValues("hold_timeout")); got != 4 {
		t.Errorf("calls ended by the hold timeout = %v, want 4", got)
	}
	tag, _, eng := e.call(t, u, "after@test") // a call after the held ones ended
	e.hangUp(t, u, "after@test", tag, eng)
}
