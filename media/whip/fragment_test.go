package whip

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"
)

func TestParseFragment(t *testing.T) {
	mid := func(s string) *string { return &s }
	for _, tc := range []struct {
		name, body string
		want       fragment
	}{
		{"empty", "", fragment{}},
		{"candidates with their mid", "a=ice-ufrag:EsAw\r\na=mid:0\r\na=candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host\r\n" +
			"a=mid:1\r\n a=candidate:2 1 udp 2130706431 127.0.0.1 5002 typ host \n",
			fragment{ufrags: []string{"EsAw"}, cands: []webrtc.ICECandidateInit{
				{Candidate: "candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host", SDPMid: mid("0")},
				{Candidate: "candidate:2 1 udp 2130706431 127.0.0.1 5002 typ host", SDPMid: mid("1")}}}},
		{"no mid", "a=candidate:1 1 udp 1 127.0.0.1 5000 typ host\r\na=end-of-candidates\r\n",
			fragment{cands: []webrtc.ICECandidateInit{{Candidate: "candidate:1 1 udp 1 127.0.0.1 5000 typ host"}}}},
		{"other lines ignored", "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=ice-pwd:x\r\ncandidate:3 1 udp 1 1.2.3.4 1 typ host\r\n", fragment{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, parseFragment([]byte(tc.body)), cmp.AllowUnexported(fragment{})); diff != "" {
				t.Errorf("parseFragment (-want +got):\n%s", diff)
			}
		})
	}
}

// FuzzParseFragment checks that no trickle fragment makes the fragment
// parser, or pion's candidate parser that each of its candidates then
// goes to, panic; and that the candidates found are the ones the session
// counts against its bound.
func FuzzParseFragment(f *testing.F) {
	f.Add([]byte("a=ice-ufrag:EsAw\r\na=ice-pwd:P2uYro0UCOQ4zxjKXaWCBui1\r\na=mid:0\r\n" +
		"a=candidate:1387637174 1 udp 2122260223 192.0.2.1 61764 typ host generation 0 ufrag EsAw network-id 1\r\n" +
		"a=candidate:3471623853 1 udp 2122194687 198.51.100.2 61765 typ host generation 0 ufrag EsAw network-id 2\r\n" +
		"a=candidate:473322822 1 tcp 1518280447 192.0.2.1 9 typ host tcptype active generation 0 ufrag EsAw network-id 1\r\n" +
		"a=candidate:2154773085 1 udp 1686052607 203.0.113.1 61764 typ srflx raddr 192.0.2.1 rport 61764 generation 0\r\n" +
		"a=candidate:1 1 udp 41885439 203.0.113.9 3478 typ relay raddr 0.0.0.0 rport 0\r\n" +
		"a=candidate:2 1 udp 2122260223 4a8a8f2f-d6f6-4b36-a6a7-9f0e7c1d2b3a.local 5000 typ host\r\n" +
		"a=end-of-candidates\r\n"))
	f.Add([]byte("a=mid:\na=candidate:\na=candidate:x 1 udp 1 ::1 99999 typ host\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		fr := parseFragment(b)
		if len(fr.cands) != candidateLines(b) {
			t.Fatalf("%d candidates parsed, %d counted", len(fr.cands), candidateLines(b))
		}
		for _, c := range fr.cands {
			if !strings.HasPrefix(c.Candidate, "candidate:") {
				t.Fatalf("candidate %q", c.Candidate)
			}
			_, _ = ice.UnmarshalCandidate(c.Candidate)
		}
	})
}
