package sip

import (
	"net/netip"
	"testing"
	"time"

	"github.com/earshot/earshot/media/ingest"
	"github.com/earshot/earshot/media/ingest/ingesttest"
)

// TestSIPRECConversationTimes: a SIPREC call (two streams, the metadata
// mapping label 1 to the agent) carries a two-party conversation: the
// customer speaks at 0.5 s and 7.0 s, the agent at 3.0 s. Both streams'
// mu-law RTP comes from Go senders, interleaved, at four times real time,
// the customer's with every tenth pair of packets swapped. Each segment
// lies within 150 ms of its utterance on the engagement's clock, and each
// transcript is within the measured word error rate (ingesttest.MaxWER).
func TestSIPRECConversationTimes(t *testing.T) {
	e := testServer(t, nil)
	conv := ingesttest.BuildConversation(t, 8000)
	u := newUAC(t, e.srv.UDPAddr())
	meta := `<recording xmlns="urn:ietf:params:xml:ns:recording:1">` +
		`<participant participant_id="p1"><nameID aor="sip:2001@pbx"/></participant>` +
		`<participant participant_id="p2"><nameID aor="sip:+4930123@pstn"/></participant>` +
		`<stream stream_id="s1"><label>1</label></stream><stream stream_id="s2"><label>2</label></stream>` +
		`<participantstreamassoc participant_id="p1"><send>s1</send></participantstreamassoc>` +
		`<participantstreamassoc participant_id="p2"><send>s2</send></participantstreamassoc></recording>`
	const callID = "times@test"
	res := u.do(t, u.request("INVITE", callID, "", 1, []string{"Require: siprec"}, "multipart/mixed;boundary="+boundary,
		mpBody([2]string{"application/sdp", twoStreams}, [2]string{"application/rs-metadata+xml", meta})))
	if res.StatusCode != 200 {
		t.Fatalf("SIPREC INVITE: %d %s", res.StatusCode, res.Reason)
	}
	eng := e.col.next(t)
	senders := map[ingest.Party]*rtpSender{}
	for party, label := range map[ingest.Party]string{ingest.PartyAgent: "label:1", ingest.PartyCustomer: "label:2"} {
		s := newRTPSender(t, 0)
		s.dst = netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(e.streamPort(t, callID, label)))
		senders[party] = s
	}
	senders[ingest.PartyCustomer].ssrc = 0x5eed0003
	audio := map[ingest.Party][]byte{
		ingest.PartyCustomer: conv.Encode(t, ingest.PartyCustomer, "mu-law", 8000),
		ingest.PartyAgent:    conv.Encode(t, ingest.PartyAgent, "mu-law", 8000),
	}
	const n = 160 // 20 ms
	start := time.Now()
	packets := len(audio[ingest.PartyCustomer]) / n
	for i := 0; i < packets; i++ {
		for _, party := range []ingest.Party{ingest.PartyAgent, ingest.PartyCustomer} {
			s, b := senders[party], audio[party]
			if party == ingest.PartyCustomer && i%10 == 5 && i+1 < packets {
				// Reordered: packet i+1 arrives before packet i.
				s.seq++
				s.ts += n
				s.send(t, 0, b[(i+1)*n:(i+2)*n], false)
				s.seq--
				s.ts -= n
				s.send(t, 0, b[i*n:(i+1)*n], false)
				s.seq++
				s.ts += n
				continue
			}
			if party == ingest.PartyCustomer && i%10 == 6 {
				s.seq++
				s.ts += n
				continue // sent with the previous one
			}
			s.send(t, 0, b[i*n:(i+1)*n], false)
			s.seq++
			s.ts += n
		}
		// Four times real time: pacing of the sender, not synchronisation.
		time.Sleep(time.Until(start.Add(time.Duration(i+1) * 5 * time.Millisecond)))
	}
	// Every packet is in before the BYE ends the call.
	deadline := time.Now().Add(10 * time.Second)
	for _, party := range []ingest.Party{ingest.PartyAgent, ingest.PartyCustomer} {
		for {
			got, _ := eng.Party(party).Packets()
			if got == packets {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s stream: %d of %d packets received", party, got, packets)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	tag, _ := res.To().Params.Get("tag")
	if res := u.do(t, u.request("BYE", callID, tag, 2, nil, "", "")); res.StatusCode != 200 {
		t.Errorf("BYE: %d", res.StatusCode)
	}
	if err := eng.WaitClosed(t); err != nil {
		t.Errorf("call closed with %v after BYE, want nil", err)
	}
	if got := eng.meta.Parties; len(got) != 2 || got[0] != ingest.PartyAgent || got[1] != ingest.PartyCustomer {
		t.Errorf("parties %v, want [agent customer]", got)
	}
	finals := ingesttest.FromSegments(eng.Finals(t))
	conv.CheckTimes(t, ingesttest.ByTime(finals), 0)
	conv.CheckWER(t, finals)
}
