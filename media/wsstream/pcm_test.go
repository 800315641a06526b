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
	"github.com/google/go-cmp/cmp"
)

// TestPCM streams raw little-endian PCM as jambonz (stereo, 16 kHz, JSON
// metadata first) and FreeSWITCH mod_audio_fork (mono, 8 kHz, rate in the
// URL, no metadata) send it, in frames that split samples: each party gets
// exactly its channel and the words are transcribed.
func TestPCM(t *testing.T) {
	for _, tc := range []struct {
		name     string
		query    string
		metadata string
		rate     int
		channels map[ingest.Party]string // party -> utterance id, in channel order
		order    []ingest.Party
	}{
		{name: "jambonz stereo 16k", query: "?engagement=j1",
			metadata: `{"callSid":"c-77","from":"+15550100","to":"+15550199","sampleRate":16000,"mixType":"stereo"}`,
			rate:     16000, channels: map[ingest.Party]string{"customer": "0890", "agent": "0920"},
			order: []ingest.Party{"customer", "agent"}},
		{name: "audio_fork mono 8k", query: "?engagement=f1&rate=8000&party=customer",
			rate: 8000, channels: map[ingest.Party]string{"customer": "0920"}, order: []ingest.Party{"customer"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := testServer(t, nil)
			var srcs [][]int16
			said := map[ingest.Party]string{}
			n := 0
			for _, p := range tc.order {
				b, s := speech(t, tc.channels[p], "signed-integer", tc.rate)
				srcs = append(srcs, le16(b))
				said[p] = s
				n = max(n, len(b)/2)
			}
			// Interleave the channels.
			pcm := make([]byte, 0, n*2*len(srcs))
			for i := range n {
				for _, s := range srcs {
					var v int16
					if i < len(s) {
						v = s[i]
					}
					pcm = binary.LittleEndian.AppendUint16(pcm, uint16(v))
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
			for i, party := range tc.order {
				p := eng.Party(party)
				if p == nil || p.Format.Codec != codec.S16LE {
					t.Fatalf("%s: party %+v, want s16le", party, p)
				}
				want := append(append([]int16(nil), srcs[i]...), make([]int16, n-len(srcs[i]))...)
				if got, _ := p.Audio(); !cmp.Equal(want, got) {
					t.Errorf("%s: received %d samples differing from the %d sent", party, len(got), len(want))
				}
				text := eng.Transcript(t, party)
				found, total := wordsFound(said[party], text)
				t.Logf("%s: transcript %q: %d/%d words", party, text, found, total)
				if found < total/4 {
					t.Errorf("%s transcript has %d of the %d words said, want >= %d", party, found, total, total/4)
				}
			}
		})
	}
}
