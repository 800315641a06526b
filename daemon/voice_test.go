package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pion/rtp"

	"github.com/earshot/earshot/inference/bot"
	"github.com/earshot/earshot/store"
)

// TestVoiceWarmOnRollback: publishing a bot that answers calls makes it
// ready for them (recogniser, intent model, fixed prompts' speech), and so
// does rolling back to an earlier version: that version is what answers
// the next call.
func TestVoiceWarmOnRollback(t *testing.T) {
	env := startBotEnv(t, func(c *Config) {
		c.Media.SIP.Bots = map[string]string{"cards-bot": "card-services"}
	})
	td := env.td
	waitWarmups := func(want string) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for metricValue(t, td, `earshot_voicebot_warmups_total{result="ok"}`) != want {
			if time.Now().After(deadline) {
				t.Fatalf("warm-ups = %q, want %s within 60 s", metricValue(t, td, `earshot_voicebot_warmups_total{result="ok"}`), want)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitWarmups("1") // the import's publish
	raw, err := os.ReadFile("../inference/bot/testdata/card-services.yaml")
	if err != nil {
		t.Fatal(err)
	}
	v2 := strings.Replace(string(raw), "Hi, I'm the card services assistant.", "Hello from version two.", 1)
	if code, body := td.callRaw(t, td.Admin, "PUT", "/api/v1/bots/card-services/draft", "application/yaml", v2); code != 200 {
		t.Fatalf("draft = %d %s", code, body)
	}
	td.mustCall(t, td.Admin, "POST", "/api/v1/bots/card-services/publish", nil, 200)
	waitWarmups("2")
	td.mustCall(t, td.Admin, "POST", "/api/v1/bots/card-services/rollback", map[string]int{"version": 1}, 200)
	waitWarmups("3")
}

// TestVoiceBotThroughDaemon: a SIP call to the card-services bot's
// address is answered by the bot (its greeting arrives as RTP, spoken by
// Flite), is an engagement in the bot's queue with the bot's flags, and
// its transcript holds the greeting as a bot segment timed on the media
// clock. The bot was made ready when it was published, so its greeting
// comes from the speech cache; a second call beyond media.voice.max_calls
// is refused busy and counted. The caller then hangs up.
func TestVoiceBotThroughDaemon(t *testing.T) {
	env := startBotEnv(t, func(c *Config) {
		c.Media.SIP.Bots = map[string]string{"cards-bot": "card-services"} // makes it a bot that answers calls
		c.Media.Voice.MaxCalls = 1
	})
	td := env.td
	deadline := time.Now().Add(60 * time.Second)
	for metricValue(t, td, `earshot_voicebot_warmups_total{result="ok"}`) != "1" {
		if time.Now().After(deadline) {
			t.Fatal("the published bot was not made ready for calls within 60 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	s := startSIP(t, td, func(c *SIPConfig) {
		c.RTPPortMin, c.RTPPortMax = 44100, 44199
		c.Bots = map[string]string{"cards-bot": "card-services"}
	})
	sipConn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer sipConn.Close()
	rtpConn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer rtpConn.Close()
	srv, _ := net.ResolveUDPAddr("udp", s.srv.UDPAddr())
	local := sipConn.LocalAddr().String()
	sdp := fmt.Sprintf("v=0\r\no=uac 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio %d RTP/AVP 0 101\r\n"+
		"a=rtpmap:101 telephone-event/8000\r\na=sendrecv\r\n", rtpConn.LocalAddr().(*net.UDPAddr).Port)
	callID := "voicebot-1@test"
	req := func(method, toTag string, cseq int, body string) string {
		to := "<sip:cards-bot@" + srv.String() + ">"
		if toTag != "" {
			to += ";tag=" + toTag
		}
		ct := ""
		if body != "" {
			ct = "Content-Type: application/sdp\r\n"
		}
		return fmt.Sprintf("%s sip:cards-bot@%s SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bK-vb-%s-%d\r\nFrom: <sip:+15550001111@%s>;tag=caller1\r\n"+
			"To: %s\r\nCall-ID: %s\r\nCSeq: %d %s\r\nMax-Forwards: 70\r\nContact: <sip:uac@%s>\r\n%sContent-Length: %d\r\n\r\n%s",
			method, srv, local, strings.TrimSuffix(callID, "@test"), cseq, local, to, callID, cseq, method, local, ct, len(body), body)
	}
	final := func() string {
		buf := make([]byte, 65535)
		sipConn.SetReadDeadline(time.Now().Add(30 * time.Second))
		for {
			n, err := sipConn.Read(buf)
			if err != nil {
				t.Fatalf("no final SIP response: %v", err)
			}
			// A final response of this call (a refused call's 486 is
			// retransmitted until acknowledged).
			if m := string(buf[:n]); strings.HasPrefix(m, "SIP/2.0 ") && !strings.HasPrefix(m, "SIP/2.0 1") && strings.Contains(m, "Call-ID: "+callID) {
				return m
			}
		}
	}
	sipConn.WriteTo([]byte(req("INVITE", "", 1, sdp)), srv)
	res := final()
	if !strings.HasPrefix(res, "SIP/2.0 200") || !strings.Contains(res, "a=sendrecv") {
		t.Fatalf("INVITE answered:\n%s", res)
	}
	tag := regexp.MustCompile(`(?m)^To:.*;tag=([^;\r\n]+)`).FindStringSubmatch(res)
	port := regexp.MustCompile(`m=audio (\d+) `).FindStringSubmatch(res)
	if tag == nil || port == nil {
		t.Fatalf("answer without a To tag or audio port:\n%s", res)
	}
	p, _ := strconv.Atoi(port[1])
	dst := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: p}
	// The caller sends silence as a phone does, and counts the bot's RTP.
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		silence := make([]byte, 160)
		for i := range silence {
			silence[i] = 0xff
		}
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			pk := rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: uint16(i), Timestamp: uint32(i * 160), SSRC: 7}, Payload: silence}
			b, _ := pk.Marshal()
			rtpConn.WriteTo(b, dst)
		}
	}()
	got := 0
	buf := make([]byte, 2048)
	rtpConn.SetReadDeadline(time.Now().Add(30 * time.Second))
	for got < 100 { // two seconds of the greeting
		n, err := rtpConn.Read(buf)
		if err != nil {
			t.Fatalf("%d packets of the bot's greeting, then %v", got, err)
		}
		var pk rtp.Packet
		if pk.Unmarshal(buf[:n]) == nil && pk.PayloadType == 0 && len(pk.Payload) == 160 {
			got++
		}
	}
	if v, _ := strconv.ParseFloat(metricValue(t, td, "earshot_tts_cache_hits_total"), 64); v < 1 {
		t.Errorf("speech cache hits %v: the greeting was not synthesised ahead", v)
	}
	callID = "voicebot-2@test"
	sipConn.WriteTo([]byte(req("INVITE", "", 1, sdp)), srv)
	if res := final(); !strings.HasPrefix(res, "SIP/2.0 486") {
		t.Errorf("a call beyond max_calls answered %q, want 486", strings.SplitN(res, "\r\n", 2)[0])
	}
	if v := metricValue(t, td, `earshot_voicebot_calls_refused_total{reason="max_calls",source="sip"}`); v != "1" {
		t.Errorf("refused bot calls counted %q, want 1", v)
	}
	callID = "voicebot-1@test"
	var list []store.Engagement
	json.Unmarshal(td.mustCall(t, td.Admin, "GET", "/api/v1/engagements?queue=cards", nil, 200), &list)
	if len(list) != 1 {
		t.Fatalf("engagements %+v, want the call's in queue cards", list)
	}
	e := list[0]
	if e.Channel != "voice" || !strings.Contains(strings.Join(e.Flags, ","), "bot:card-services") {
		t.Errorf("engagement %+v, want a voice engagement flagged bot:card-services", e)
	}
	// Hang up once the greeting is stored.
	var segs []store.Segment
	deadline = time.Now().Add(60 * time.Second)
	for len(segs) == 0 && time.Now().Before(deadline) {
		_, all := transcriptText(t, td, td.Admin, e.ID)
		for _, sg := range all {
			if sg.Speaker == "bot" {
				segs = append(segs, sg)
			}
		}
		if len(segs) == 0 {
			time.Sleep(100 * time.Millisecond)
		}
	}
	if len(segs) == 0 || !strings.HasPrefix(segs[0].Text, "Hi, I'm the card services assistant") {
		t.Fatalf("bot segments %+v, want the greeting", segs)
	}
	if sg := segs[0]; sg.StartMs < 0 || sg.EndMs <= sg.StartMs || sg.EndMs-sg.StartMs < 2000 {
		t.Errorf("greeting segment %d-%d ms, want it timed over its audio on the media clock", sg.StartMs, sg.EndMs)
	}
	sipConn.WriteTo([]byte(req("BYE", tag[1], 2, "")), srv)
	if res := final(); !strings.HasPrefix(res, "SIP/2.0 200") {
		t.Errorf("BYE answered %q", strings.SplitN(res, "\r\n", 2)[0])
	}
	waitEnded(t, td, e.ID)
}

func TestVoiceConfigYAML(t *testing.T) {
	cfg := DefaultConfig(false)
	cfg.DataDir = t.TempDir()
	err := ParseConfig([]byte("media:\n  voice:\n    transfer_targets: {cards: 'sip:cards@pbx.example.com'}\n    end_of_turn: 500ms\n    no_input_retries: 1\n"), &cfg)
	if err != nil {
		t.Fatal(err)
	}
	v := cfg.Media.Voice
	if v.TransferTargets["cards"] != "sip:cards@pbx.example.com" || v.EndOfTurn != 500*time.Millisecond || v.NoInputRetries != 1 ||
		v.NoInput != 6*time.Second || !v.BargeIn || v.Recognizer != voiceRecognizerFast || v.WarmCalls != 2 {
		t.Errorf("voice config %+v, want the keys given over the defaults", v)
	}
	if err := v.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
	for _, bad := range []string{"transfer_targets: {cards: 'pbx cards'}", "end_of_turn: 20s", "max_digits: 0", "recognizer: slow", "warm_calls: -1"} {
		cfg := DefaultConfig(false)
		err := ParseConfig([]byte("media:\n  voice:\n    "+bad+"\n"), &cfg)
		if err == nil {
			err = cfg.Media.Voice.Validate()
		}
		if name, _, _ := strings.Cut(bad, ":"); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: err = %v, want one naming %s", bad, err, name)
		}
	}
}

// TestVoiceEarlyPolicy: a partial hypothesis is acted on only when that
// is safe: a request for a person at any step, or a flow intent read with
// high confidence at a step waiting for an intent; never a knowledge-base
// question (the rest of it is still to come) nor a slot's answer.
func TestVoiceEarlyPolicy(t *testing.T) {
	raw, err := os.ReadFile("../inference/bot/testdata/card-services.yaml")
	if err != nil {
		t.Fatal(err)
	}
	def, err := bot.Decode(raw, "")
	if err != nil {
		t.Fatal(err)
	}
	env := bot.Env{QueueExists: func(string) bool { return true }, CheckSkill: func(context.Context, string, string) error { return nil }}
	e, _, err := bot.NewEngine(t.Context(), bot.DefaultConfig(), def, 1, env, bot.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	idle := e.NewSession("e1", time.Now())
	collecting := e.NewSession("e2", time.Now())
	collecting.Handle(t.Context(), bot.Input{Text: "I lost my card"})
	if _, _, _, ok := collecting.Asking(); !ok {
		t.Fatal("the lost-card flow asks for no slot")
	}
	tests := []struct {
		s    *bot.Session
		text string
		want bool
	}{
		{idle, "I want to speak to an agent", true},
		{collecting, "can I talk to a real person", true},
		{idle, "my card was stolen", true},
		{idle, "what fees do you charge", false}, // a knowledge-base answer
		{idle, "the weather tomorrow", false},    // out of scope
		{collecting, "four three two one", false},
		{collecting, "my card was stolen", false}, // waiting for a slot, not an intent
	}
	for _, tc := range tests {
		p := tc.s.Peek(tc.text)
		if got := early(p); got != tc.want {
			t.Errorf("early(%q) = %v, want %v (peek %+v, intent %+v)", tc.text, got, tc.want, p, p.Intent)
		}
	}
}
