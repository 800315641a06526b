package sip

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/earshot/earshot/media/ingest"
)

const siprecMeta = `<?xml version="1.0" encoding="UTF-8"?>
<recording xmlns='urn:ietf:params:xml:ns:recording:1'>
  <datamode>complete</datamode>
  <session session_id="sess1"><sipSessionID>abc</sipSessionID></session>
  <participant participant_id="pa"><nameID aor="sip:alice@example.com"><name xml:lang="it">Alice</name></nameID></participant>
  <participant participant_id="pb"><aor>sip:2010@pbx.example.com</aor><name>Bob</name></participant>
  <stream stream_id="st1" session_id="sess1"><label>96</label></stream>
  <stream stream_id="st2" session_id="sess1"><label>97</label></stream>
  <participantstreamassoc participant_id="pa"><send>st1</send><recv>st2</recv></participantstreamassoc>
  <participantstreamassoc participant_id="pb"><send>st2</send><recv>st1</recv></participantstreamassoc>
</recording>`

func TestSplitBodyAndMetadata(t *testing.T) {
	sdpText := "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n" +
		"m=audio 4000 RTP/AVP 8 0 101\r\na=rtpmap:101 telephone-event/8000\r\na=label:96\r\na=sendonly\r\n" +
		"m=audio 4002 RTP/AVP 0\r\na=label:97\r\na=sendonly\r\n" +
		"m=video 4004 RTP/AVP 96\r\n"
	// The SDP part's last line has no CRLF before the boundary, as
	// mime/multipart returns it.
	body := "--xyz\r\nContent-Type: application/sdp\r\n\r\n" + strings.TrimSuffix(sdpText, "\r\n") +
		"\r\n--xyz\r\nContent-Type: application/rs-metadata+xml\r\nContent-Disposition: recording-session\r\n\r\n" + siprecMeta + "\r\n--xyz--\r\n"
	ob, err := splitBody(`multipart/mixed;boundary="xyz"`, []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if string(ob.sdp) != sdpText {
		t.Errorf("SDP part %q, want %q", ob.sdp, sdpText)
	}
	sd, streams, err := parseOffer(ob.sdp)
	if err != nil {
		t.Fatal(err)
	}
	want := []offerStream{
		{index: 0, label: "96", port: 4000, addr: "10.0.0.1", direction: "sendonly", pt: 8, codecName: "pcma", dtmfPT: 101, ok: true},
		{index: 1, label: "97", port: 4002, addr: "10.0.0.1", direction: "sendonly", pt: 0, codecName: "pcmu", dtmfPT: -1, ok: true},
	}
	if diff := cmp.Diff(want, streams, cmp.AllowUnexported(offerStream{})); diff != "" {
		t.Errorf("streams (-want +got):\n%s", diff)
	}
	md, err := parseMetadata(ob.metadata, map[string]bool{"96": true, "97": true})
	if err != nil {
		t.Fatal(err)
	}
	wantPs := []Participant{{ID: "pa", Name: "Alice", AoR: "sip:alice@example.com", Labels: []string{"96"}},
		{ID: "pb", Name: "Bob", AoR: "sip:2010@pbx.example.com", Labels: []string{"97"}}}
	if diff := cmp.Diff(wantPs, md.participants); diff != "" {
		t.Errorf("participants (-want +got):\n%s", diff)
	}
	if md.sessionID != "sess1" {
		t.Errorf("session %q", md.sessionID)
	}
	rules := partyRules{}
	rules.agent, _ = compilePatterns([]string{`^sip:20\d\d@`})
	if diff := cmp.Diff([]ingest.Party{ingest.PartyCustomer, ingest.PartyAgent}, rules.assign(streams, md.participants, md.senders)); diff != "" {
		t.Errorf("parties (-want +got):\n%s", diff)
	}
	ans := string(buildAnswer(sd, "127.0.0.1", 7, 1, map[int]answerStream{0: {port: 20000, st: streams[0]}, 1: {port: 20002, st: streams[1]}}))
	for _, l := range []string{"m=audio 20000 RTP/AVP 8 101", "a=rtpmap:101 telephone-event/8000", "m=audio 20002 RTP/AVP 0", "a=label:97", "m=video 0 RTP/AVP 96"} {
		if !strings.Contains(ans, l+"\r\n") {
			t.Errorf("answer lacks %q:\n%s", l, ans)
		}
	}
	if strings.Count(ans, "a=recvonly") != 2 {
		t.Errorf("answer streams not recvonly:\n%s", ans)
	}
}

func TestBodyErrors(t *testing.T) {
	labels := map[string]bool{"1": true}
	cases := []struct {
		name, ctype, body string
		want              error
		text              string
	}{
		{"no content type", "", "v=0", errMediaType, "Content-Type"},
		{"multipart without boundary", "multipart/mixed", "x", errBadBody, "boundary"},
		{"multipart without sdp", "multipart/mixed;boundary=b", "--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b--\r\n", errMediaType, "application/sdp"},
		{"truncated multipart", "multipart/mixed;boundary=b", "--b\r\nContent-Type: application/sdp\r\n\r\nv=0", errBadBody, "part 1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := splitBody(tc.ctype, []byte(tc.body))
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.text) {
				t.Errorf("err = %v, want %v naming %q", err, tc.want, tc.text)
			}
		})
	}
	metas := []struct{ name, doc, text string }{
		{"unknown stream label", `<recording><stream stream_id="s"><label>5</label></stream></recording>`, `label "5"`},
		{"unknown participant", `<recording><participantstreamassoc participant_id="x"/></recording>`, `unknown participant "x"`},
		{"unknown sent stream", `<recording><participant participant_id="p"/><participantstreamassoc participant_id="p"><send>zz</send></participantstreamassoc></recording>`, `unknown stream "zz"`},
		{"duplicate participant", `<recording><participant participant_id="p"/><participant participant_id="p"/></recording>`, `appears twice`},
		{"not xml", `{"json": true}`, "rs-metadata"},
	}
	for _, tc := range metas {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseMetadata([]byte(tc.doc), labels)
			if !errors.Is(err, errBadBody) || !strings.Contains(err.Error(), tc.text) {
				t.Errorf("err = %v, want errBadBody naming %q", err, tc.text)
			}
		})
	}
}

func TestPartyRules(t *testing.T) {
	agent, _ := compilePatterns([]string{`^sip:2\d{3}@`, `(?i)agent`})
	cust, _ := compilePatterns([]string{`^sip:\+`})
	r := partyRules{agent: agent, customer: cust}
	st := func(label string) offerStream { return offerStream{label: label} }
	cases := []struct {
		name    string
		streams []offerStream
		ps      []Participant
		senders map[string]int
		want    []ingest.Party
	}{
		{"agent by extension, second stream", []offerStream{st("a"), st("b")},
			[]Participant{{AoR: "sip:alice@x"}, {AoR: "sip:2001@pbx"}}, map[string]int{"a": 0, "b": 1},
			[]ingest.Party{ingest.PartyCustomer, ingest.PartyAgent}},
		{"agent first", []offerStream{st("a"), st("b")},
			[]Participant{{AoR: "sip:2001@pbx"}, {AoR: "sip:bob@x"}}, map[string]int{"a": 0, "b": 1},
			[]ingest.Party{ingest.PartyAgent, ingest.PartyCustomer}},
		{"agent by name", []offerStream{st("a"), st("b")},
			[]Participant{{AoR: "sip:x@y", Name: "Agent 7"}, {AoR: "sip:z@y"}}, map[string]int{"b": 1, "a": 0},
			[]ingest.Party{ingest.PartyAgent, ingest.PartyCustomer}},
		{"customer pattern only", []offerStream{st("a"), st("b")},
			[]Participant{{AoR: "sip:ivr@y"}, {AoR: "sip:+4930@pstn"}}, map[string]int{"a": 0, "b": 1},
			[]ingest.Party{ingest.PartyAgent, ingest.PartyCustomer}},
		{"no metadata: order", []offerStream{st(""), st("")}, nil, nil,
			[]ingest.Party{ingest.PartyCustomer, ingest.PartyAgent}},
		{"three streams", []offerStream{st(""), st(""), st("")}, nil, nil,
			[]ingest.Party{ingest.PartyCustomer, ingest.PartyAgent, ingest.PartyMixed}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, r.assign(tc.streams, tc.ps, tc.senders)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestDTMF(t *testing.T) {
	var digits []string
	var d dtmfState
	report := func(s string) { digits = append(digits, s) }
	ev := func(e byte, end bool) []byte {
		b := []byte{e, 10, 0, 160}
		if end {
			b[1] |= 0x80
		}
		return b
	}
	d.packet(100, ev(5, false), report)
	d.packet(100, ev(5, true), report)
	d.packet(100, ev(5, true), report) // retransmitted end
	d.packet(900, ev(11, false), report)
	d.packet(1800, ev(10, false), report) // 11 never ended: reported now
	d.finish(report)
	if diff := cmp.Diff([]string{"5", "#", "*"}, digits); diff != "" {
		t.Errorf("digits (-want +got):\n%s", diff)
	}
}

func FuzzParseMetadata(f *testing.F) {
	f.Add([]byte(siprecMeta))
	f.Add([]byte(metaUnknownStream))
	f.Add([]byte(`<recording><participant participant_id="p"><nameID aor="x"/></participant></recording>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		md, err := parseMetadata(b, map[string]bool{"1": true, "96": true, "97": true})
		if err != nil {
			if !errors.Is(err, errBadBody) {
				t.Fatalf("error %v does not wrap errBadBody", err)
			}
			return
		}
		for l, i := range md.senders {
			if i < 0 || i >= len(md.participants) {
				t.Fatalf("label %q maps to participant %d of %d", l, i, len(md.participants))
			}
		}
	})
}

func FuzzSplitBody(f *testing.F) {
	f.Add("multipart/mixed;boundary=b", []byte("--b\r\nContent-Type: application/sdp\r\n\r\nv=0\r\n--b--\r\n"))
	f.Add("application/sdp", []byte(twoStreams))
	f.Add("multipart/mixed;boundary=uniqueBoundary", []byte("--uniqueBoundary\r\nContent-Type: application/sdp\r\n\r\n"+twoStreams+
		"--uniqueBoundary\r\nContent-Type: application/rs-metadata+xml\r\n\r\n"+siprecMeta+"\r\n--uniqueBoundary--\r\n"))
	f.Fuzz(func(t *testing.T, ctype string, b []byte) {
		ob, err := splitBody(ctype, b)
		if err != nil {
			if !errors.Is(err, errBadBody) && !errors.Is(err, errMediaType) {
				t.Fatalf("error %v is neither errBadBody nor errMediaType", err)
			}
			return
		}
		if ob.sdp == nil {
			t.Fatal("no error and no SDP")
		}
		_, streams, err := parseOffer(ob.sdp)
		if err != nil {
			if !errors.Is(err, errBadBody) && !errors.Is(err, errNoAudio) {
				t.Fatalf("offer error %v wraps neither errBadBody nor errNoAudio", err)
			}
			return
		}
		for _, s := range streams {
			if s.ok && s.codecName != "pcmu" && s.codecName != "pcma" {
				t.Fatalf("accepted codec %q", s.codecName)
			}
		}
	})
}
