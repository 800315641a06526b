package wsstream

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/earshot/earshot/media/codec"
	"github.com/earshot/earshot/media/ingest"
	"github.com/earshot/earshot/media/ingest/ingesttest"
	"github.com/google/go-cmp/cmp"
)

// twilioClient sends messages shaped exactly like Twilio's (numbers as
// strings, as Twilio sends them).
type twilioClient struct {
	t   *testing.T
	c   *websocket.Conn
	seq int
}

func (tc *twilioClient) send(m map[string]any) {
	tc.t.Helper()
	tc.seq++
	m["sequenceNumber"] = strconv.Itoa(tc.seq)
	m["streamSid"] = "MZ0123456789abcdef"
	b, err := json.Marshal(m)
	if err != nil {
		tc.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tc.c.Write(ctx, websocket.MessageText, b); err != nil {
		tc.t.Fatalf("write: %v", err)
	}
}

func (tc *twilioClient) start(tracks ...string) {
	tc.t.Helper()
	tc.c.Write(context.Background(), websocket.MessageText, []byte(`{"event":"connected","protocol":"Call","version":"1.0.0"}`))
	tc.send(map[string]any{"event": "start", "start": map[string]any{
		"accountSid": "AC0123", "streamSid": "MZ0123456789abcdef", "callSid": "CA42",
		"tracks": tracks, "customParameters": map[string]string{"queue": "cards"},
		"mediaFormat": map[string]any{"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
	}})
}

func (tc *twilioClient) media(track string, chunk int, ms int, payload []byte) {
	tc.t.Helper()
	tc.send(map[string]any{"event": "media", "media": map[string]any{
		"track": track, "chunk": strconv.Itoa(chunk), "timestamp": strconv.Itoa(ms),
		"payload": base64.StdEncoding.EncodeToString(payload)}})
}

// TestTwilio streams a two-party conversation (the customer speaks at
// 0.5 s and 7.0 s, the agent at 3.0 s) as Twilio's inbound and outbound
// mu-law tracks, with a gap of five chunks, a mark and a DTMF digit: each
// party receives exactly the audio sent, the gap becomes silence, the
// segments lie within 150 ms of the utterances on the engagement's clock,
// and the transcripts are within the measured word error rates
// (ingesttest.MaxWER).
func TestTwilio(t *testing.T) {
	t.Parallel()
	e := testServer(t, nil)
	conv := ingesttest.BuildConversation(t, 8000)
	cust := conv.Encode(t, ingest.PartyCustomer, "mu-law", 8000)
	agent := conv.Encode(t, ingest.PartyAgent, "mu-law", 8000)
	c := e.dial(t, "?engagement=tw1")
	tw := &twilioClient{t: t, c: c}
	tw.start("inbound", "outbound")

	const chunk = 160 // 20 ms
	var sentCust []byte
	skipped := 0
	for i := 0; i*chunk < max(len(cust), len(agent)); i++ {
		if p := slice(cust, i*chunk, chunk); p != nil {
			if i >= 5 && i < 10 { // lost in transit (in the leading silence)
				skipped++
			} else {
				tw.media("inbound", i+1, i*20, p)
				sentCust = append(sentCust, p...)
			}
		}
		if p := slice(agent, i*chunk, chunk); p != nil {
			tw.media("outbound", i+1, i*20, p)
		}
		if i == 10 {
			tw.send(map[string]any{"event": "mark", "mark": map[string]string{"name": "greeting"}})
			tw.send(map[string]any{"event": "dtmf", "dtmf": map[string]string{"track": "inbound_track", "digit": "7"}})
		}
	}
	tw.send(map[string]any{"event": "stop", "stop": map[string]string{"accountSid": "AC0123", "callSid": "CA42"}})
	if st := closeStatus(t, c); st != websocket.StatusNormalClosure {
		t.Errorf("close status %v, want normal closure after stop", st)
	}
	eng := e.col.get(t, "tw1")
	if err := eng.WaitClosed(t); err != nil {
		t.Errorf("engagement closed with %v, want nil after stop", err)
	}
	if eng.meta.CallID != "CA42" || eng.meta.Params["queue"] != "cards" || eng.meta.Format != FormatTwilio {
		t.Errorf("meta = %+v", eng.meta)
	}
	if diff := cmp.Diff([]string{"customer:7"}, eng.Digits()); diff != "" {
		t.Errorf("dtmf (-want +got):\n%s", diff)
	}
	finals := ingesttest.FromSegments(eng.Finals(t))
	conv.CheckTimes(t, ingesttest.ByTime(finals), 0)
	conv.CheckWER(t, finals)
	for _, tc := range []struct {
		party ingest.Party
		sent  []byte
	}{
		{ingest.PartyCustomer, sentCust},
		{ingest.PartyAgent, agent},
	} {
		p := eng.Party(tc.party)
		if p == nil || p.Format.Codec != codec.PCMU {
			t.Fatalf("%s: party %+v, want pcmu", tc.party, p)
		}
		want := make([]int16, len(tc.sent))
		for i, b := range tc.sent {
			want[i] = codec.MulawToLinear(b)
		}
		if got, _ := p.Audio(); !cmp.Equal(want, got) {
			t.Errorf("%s: received %d samples differing from the %d sent", tc.party, len(got), len(want))
		}
	}
	st := eng.PE.Stats()["customer"]
	if st.SilenceMs != int64(skipped*20) {
		t.Errorf("customer silence inserted = %d ms, want %d (the skipped chunks)", st.SilenceMs, skipped*20)
	}
}

func slice(b []byte, off, n int) []byte {
	if off >= len(b) {
		return nil
	}
	return b[off:min(len(b), off+n)]
}
