package wsstream

import (
	"context"
	"encoding/binary"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/earshot/earshot/media/codec"
	"github.com/earshot/earshot/media/ingest"
	"github.com/earshot/earshot/media/ingest/ingesttest"
	"github.com/google/go-cmp/cmp"
)

// TestPCM streams a two-party conversation (the customer speaks at 0.5 s
// and 7.0 s, the agent at 3.0 s) as raw little-endian PCM, the way jambonz
// (stereo, 16 kHz, JSON metadata first) and FreeSWITCH mod_audio_fork
// (mono, 8 kHz, rate in the URL, no metadata; the customer's channel
// only) send it, in frames that split samples: each party gets exactly its
// channel, its segments lie within 150 ms of its utterances on the
// engagement's clock, and its transcript is within its measured word error
// rate.
func TestPCM(t *testing.T) {
	for _, tc := range []struct {
		name     string
		query    string
		metadata string
		rate     int
		order    []ingest.Party // in channel order
	}{
		{name: "jambonz stereo 16k", query: "?engagement=j1",
			metadata: `{"callSid":"c-77","from":"+15550100","to":"+15550199","sampleRate":16000,"mixType":"stereo"}`,
			rate:     16000, order: []ingest.Party{"customer", "agent"}},
		{name: "audio_fork mono 8k", query: "?engagement=f1&rate=8000&party=customer",
			rate: 8000, order: []ingest.Party{"customer"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := testServer(t, nil)
			conv := ingesttest.BuildConversation(t, tc.rate).Only(tc.order...)
			var srcs [][]int16
			for _, p := range tc.order {
				srcs = append(srcs, conv.Track(p))
			}
			n := len(srcs[0])
			// Interleave the channels.
			pcm := make([]byte, 0, n*2*len(srcs))
			for i := range n {
				for _, s := range srcs {
					pcm = binary.LittleEndian.AppendUint16(pcm, uint16(s[i]))
				}
			}
			c := e.dial(t, tc.query)
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			if tc.metadata != "" {
				if err := c.Write(ctx, websocket.MessageText, []byte(tc.metadata)); err != nil {
					t.Fatal(err)
				}
			}
			const frame = 1283 // odd: splits samples and sample frames
			for off := 0; off < len(pcm); off += frame {
				if err := c.Write(ctx, websocket.MessageBinary, pcm[off:min(len(pcm), off+frame)]); err != nil {
					t.Fatal(err)
				}
			}
			if err := c.Close(websocket.StatusNormalClosure, "hangup"); err != nil {
				t.Logf("close: %v", err)
			}
			q, _ := url.ParseQuery(strings.TrimPrefix(tc.query, "?"))
			eng := e.col.get(t, q.Get("engagement"))
			if err := eng.WaitClosed(t); err != nil {
				t.Errorf("engagement closed with %v, want nil after a normal close", err)
			}
			if eng.meta.SampleRate != tc.rate || eng.meta.Channels != len(tc.order) || eng.meta.Format != FormatPCM {
				t.Errorf("meta = %+v, want %d Hz, %d channels", eng.meta, tc.rate, len(tc.order))
			}
			finals := ingesttest.FromSegments(eng.Finals(t))
			conv.CheckTimes(t, ingesttest.ByTime(finals), 0)
			conv.CheckWER(t, finals)
			for i, party := range tc.order {
				p := eng.Party(party)
				if p == nil || p.Format.Codec != codec.S16LE {
					t.Fatalf("%s: party %+v, want s16le", party, p)
				}
				if got, _ := p.Audio(); !cmp.Equal(srcs[i], got) {
					t.Errorf("%s: received %d samples differing from the %d sent", party, len(got), len(srcs[i]))
				}
			}
		})
	}
}
