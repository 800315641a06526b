package sip

import (
	"bytes"
	"encoding/binary"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	sipmsg "github.com/emiago/sipgo/sip"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/earshot/earshot/media/codec"
	"github.com/earshot/earshot/media/ingest"
	"github.com/earshot/earshot/media/jitter"
)

// Fuzzers of everything the SIP server reads from the network: SIP
// messages (datagrams and TCP streams), SDP offers, recording metadata
// (FuzzParseMetadata, FuzzSplitBody in body_test.go) and RTP. Their seed
// corpora are in testdata/fuzz; `go test` runs the seeds.

// FuzzSIPMessage: a datagram the stack parses as a request goes through the
// server's body, offer and metadata readers; none panics, the errors are
// the ones the server maps to responses, and an accepted offer is
// answered with as many m-lines as it has.
func FuzzSIPMessage(f *testing.F) {
	u := &uac{laddr: "127.0.0.1:5999", srv: &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5060}}
	for _, s := range []string{
		u.request("INVITE", "f1@test", "", 1, nil, "application/sdp", sdpOffer(4000, "0 101", "a=rtpmap:101 telephone-event/8000")),
		u.request("INVITE", "f2@test", "", 1, []string{"Require: siprec"},
			"multipart/mixed;boundary="+boundary, mpBody([2]string{"application/sdp", twoStreams}, [2]string{"application/rs-metadata+xml", siprecMeta})),
		"BYE sip:srs@h SIP/2.0\r\nv: SIP/2.0/UDP h;branch=z9hG4bK1\r\nf: <sip:a@b>;tag=1\r\nt: <sip:c@d>;tag=2\r\ni: x\r\nCSeq: 2 BYE\r\nl: 0\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := sipmsg.ParseMessage(b)
		if err != nil {
			return
		}
		req, ok := m.(*sipmsg.Request)
		if !ok {
			return
		}
		_ = isSIPREC(req)
		_, _, _ = callID(req), toTag(req), fromTag(req)
		ct := ""
		if h := req.ContentType(); h != nil {
			ct = h.Value()
		}
		body, err := splitBody(ct, req.Body())
		if err != nil {
			if !errors.Is(err, errBadBody) && !errors.Is(err, errMediaType) {
				t.Fatalf("body error %v is neither errBadBody nor errMediaType", err)
			}
			return
		}
		streams := checkOffer(t, body.sdp)
		if streams != nil && body.metadata != nil {
			labels := map[string]bool{}
			for _, st := range streams {
				labels[st.label] = true
			}
			if _, err := parseMetadata(body.metadata, labels); err != nil && !errors.Is(err, errBadBody) {
				t.Fatalf("metadata error %v does not wrap errBadBody", err)
			}
		}
	})
}

// FuzzParseOffer: any offer either fails with an error the server maps to
// 400 or 488, or yields streams whose answer is valid SDP with one m-line
// per offered m-line, accepted streams on their port with the chosen
// codec.
func FuzzParseOffer(f *testing.F) {
	for _, s := range []string{twoStreams, nLines(60), sdpOffer(4000, "8 0 101", "a=rtpmap:101 telephone-event/8000", "a=inactive"),
		strings.Replace(sdpOffer(4000, "0"), "c=IN IP4 127.0.0.1", "c=IN IP6 ::1", 1)} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) { checkOffer(t, b) })
}

// checkOffer parses an offer and answers it; it returns the streams, nil
// if the offer was refused.
func checkOffer(t *testing.T, b []byte) []offerStream {
	t.Helper()
	sd, streams, err := parseOffer(b)
	if err != nil {
		if !errors.Is(err, errBadBody) && !errors.Is(err, errNoAudio) {
			t.Fatalf("offer error %v wraps neither errBadBody nor errNoAudio", err)
		}
		return nil
	}
	accepted := map[int]answerStream{}
	for i, st := range streams {
		if st.index < 0 || st.index >= len(sd.MediaDescriptions) {
			t.Fatalf("stream %d has m-section index %d of %d", i, st.index, len(sd.MediaDescriptions))
		}
		if st.ok {
			if st.codecName != "pcmu" && st.codecName != "pcma" {
				t.Fatalf("accepted codec %q", st.codecName)
			}
			accepted[st.index] = answerStream{port: 20000 + 2*i, st: st}
		}
		_ = peerFor(st, false, netip.MustParseAddr("127.0.0.1"))
		_ = peerFor(st, true, netip.MustParseAddr("127.0.0.1"))
	}
	ans := buildAnswer(sd, "127.0.0.1", 1, 1, accepted)
	var back sdp.SessionDescription
	if err := back.UnmarshalString(string(ans)); err != nil {
		t.Fatalf("answer does not parse: %v\n%s", err, ans)
	}
	if len(back.MediaDescriptions) != len(sd.MediaDescriptions) {
		t.Fatalf("answer has %d m-lines, offer %d", len(back.MediaDescriptions), len(sd.MediaDescriptions))
	}
	for i, md := range back.MediaDescriptions {
		if a, ok := accepted[i]; ok && md.MediaName.Port.Value != a.port {
			t.Fatalf("m-line %d answered on port %d, want %d", i, md.MediaName.Port.Value, a.port)
		}
	}
	return streams
}

// FuzzMsgScanner: the TCP framer gives the same verdict however the
// stream is cut into reads, and a 513 it builds is a SIP response.
func FuzzMsgScanner(f *testing.F) {
	inv := (&uac{laddr: "127.0.0.1:5999", srv: &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5060}}).request("INVITE", "s1@test", "", 1, nil, "application/sdp", sdpOffer(4000, "0"))
	for _, s := range []string{inv, "\r\n\r\n" + inv + inv, strings.Replace(inv, "Content-Length: ", "Content-Length: 9", 1),
		"INVITE sip:a@b SIP/2.0\r\nl: 4611686018427387904\r\n\r\n", "INVITE sip:a@b SIP/2.0\r\nContent-Length: -1\r\n\r\n"} {
		f.Add([]byte(s), uint16(7), uint16(4096))
	}
	f.Fuzz(func(t *testing.T, b []byte, step, limit uint16) {
		if step == 0 {
			step = 1
		}
		lim := 64 + int(limit)
		whole := msgScanner{limit: lim}
		want := whole.feed(b)
		cut := msgScanner{limit: lim}
		got := ""
		for i := 0; i < len(b) && got == ""; i += int(step) {
			got = cut.feed(b[i:min(i+int(step), len(b))])
		}
		if got != want {
			t.Fatalf("verdict %q in pieces of %d, %q whole", got, step, want)
		}
		if want == "" {
			return
		}
		if ans := whole.tooLarge(); ans != nil {
			m, err := sipmsg.ParseMessage(ans)
			if err != nil {
				t.Fatalf("513 does not parse: %v\n%s", err, ans)
			}
			if res, ok := m.(*sipmsg.Response); !ok || res.StatusCode != 513 {
				t.Fatalf("513 parses as %v", m)
			}
		}
	})
}

// fuzzSink records what reaches a party.
type fuzzSink struct {
	writes [][]byte
	seqs   []uint16
}

func (s *fuzzSink) WriteRTP(seq uint16, _ uint32, payload []byte) error {
	s.writes = append(s.writes, append([]byte(nil), payload...))
	s.seqs = append(s.seqs, seq)
	return nil
}

func (s *fuzzSink) Write([]byte) error { return errors.New("not an RTP sink") }

type fuzzEngagement struct{ digits int }

func (e *fuzzEngagement) AddParty(ingest.Party, codec.Format, int) (ingest.Sink, error) {
	return nil, errors.New("not used")
}
func (e *fuzzEngagement) Close(error)               {}
func (e *fuzzEngagement) DTMF(ingest.Party, string) { e.digits++ }

// FuzzRTP feeds datagrams to a stream's packet handler, each from the
// offer's peer or from elsewhere: no panic, and every payload that reaches
// the party is one the peer sent with the negotiated payload type, within
// the size limit, with its sequence number never going back.
func FuzzRTP(f *testing.F) {
	pkt := func(from byte, pt uint8, seq uint16, ts, ssrc uint32, payload []byte, pad bool) []byte {
		p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: pt, SequenceNumber: seq, Timestamp: ts, SSRC: ssrc, Padding: pad}, Payload: payload}
		if pad {
			p.PaddingSize = 4
		}
		b, _ := p.Marshal()
		return append(binary.BigEndian.AppendUint16([]byte{from}, uint16(len(b))), b...)
	}
	audio := bytes.Repeat([]byte{0xff}, 160)
	seed := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	f.Add(seed(pkt(0, 0, 1, 160, 7, audio, false), pkt(0, 0, 3, 480, 7, audio, false), pkt(0, 0, 2, 320, 7, audio, false)))
	f.Add(seed(pkt(0, 0, 1, 160, 7, audio, false), pkt(1, 0, 2, 320, 8, audio, false), pkt(2, 0, 3, 480, 9, audio, false)))
	f.Add(seed(pkt(0, 101, 9, 800, 7, []byte{5, 0x80, 0, 160}, false), pkt(0, 13, 10, 960, 7, []byte{1}, false), pkt(0, 8, 11, 1120, 7, audio, false)))
	f.Add(seed(pkt(0, 0, 65535, 0, 7, audio, false), pkt(0, 0, 0, 160, 7, nil, true), pkt(0, 0, 1, 320, 99, audio, false)))
	f.Add(seed(pkt(0, 72, 1, 0, 7, audio, false), []byte{0, 0, 3, 0x80, 0, 1}))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := newMetrics(prometheus.NewRegistry())
		if err != nil {
			t.Fatal(err)
		}
		cfg := DefaultConfig()
		srv := &Server{cfg: cfg, log: slog.New(slog.DiscardHandler), m: m,
			allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
		eng := &fuzzEngagement{}
		c := &call{srv: srv, id: "fuzz", eng: eng, streams: map[string]*rtpStream{}}
		sink := &fuzzSink{}
		rs := &rtpStream{c: c, key: "index:0", party: ingest.PartyMixed, codec: "pcmu", p: sink, done: make(chan struct{})}
		rs.jb = jitter.New(cfg.JitterPackets, rs.emit)
		st := offerStream{addr: "127.0.0.1", port: 4000, direction: "sendonly", pt: ptPCMU, codecName: "pcmu", dtmfPT: 101, ok: true}
		rs.setOffer(st, peerFor(st, false, netip.MustParseAddr("127.0.0.1")))
		sources := []netip.AddrPort{netip.MustParseAddrPort("127.0.0.1:4000"), netip.MustParseAddrPort("127.0.0.1:4002"),
			netip.MustParseAddrPort("10.9.9.9:4000")}
		genuine := map[string]bool{}
		now := time.Unix(1e9, 0)
		for len(data) >= 3 {
			from := sources[int(data[0])%len(sources)]
			n := int(binary.BigEndian.Uint16(data[1:3]))
			data = data[3:]
			b := data[:min(n, len(data))]
			data = data[len(b):]
			var h rtp.Packet
			if from == sources[0] && h.Unmarshal(b) == nil && h.PayloadType == ptPCMU {
				genuine[string(h.Payload)] = true
			}
			now = now.Add(20 * time.Millisecond)
			rs.packet(append([]byte(nil), b...), from, now)
		}
		rs.jb.Flush()
		for i, w := range sink.writes {
			if !genuine[string(w)] {
				t.Fatalf("payload %d (%d bytes) did not come from the peer with the negotiated payload type", i, len(w))
			}
			if len(w) == 0 || len(w) > cfg.MaxPayloadBytes {
				t.Fatalf("payload of %d bytes reached the party", len(w))
			}
			if i > 0 && int16(sink.seqs[i]-sink.seqs[i-1]) <= 0 {
				t.Fatalf("sequence went from %d to %d", sink.seqs[i-1], sink.seqs[i])
			}
		}
	})
}
