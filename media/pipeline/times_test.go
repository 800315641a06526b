package pipeline_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/earshot/earshot/media/codec"
	"github.com/earshot/earshot/media/ingest"
	"github.com/earshot/earshot/media/ingest/ingesttest"
	"github.com/earshot/earshot/media/pipeline"
)

// TestSegmentTimes runs a two-party conversation (the customer speaks at
// 0.5 s and 7.0 s, the agent at 3.0 s) through the pipeline, as an
// offline 16 kHz file and as live 8 kHz mu-law RTP, and checks that every
// final segment and its words lie on the conversation's clock: within
// 150 ms of the utterances' measured onsets and offsets. Before the
// recogniser's word times were made relative to the stream, every
// utterance after the first was stamped later by the length of the
// speech before it. A live party whose stream starts late is placed on
// the engagement's clock by its first packet's arrival.
func TestSegmentTimes(t *testing.T) {
	for _, tc := range []struct {
		name string
		rate int
		live bool
		// late: the agent's first packet comes this long (wall clock)
		// after the customer's, carrying the agent's audio from then on.
		late time.Duration
	}{
		{"offline 16 kHz PCM", 16000, false, 0},
		// The customer's stream is live RTP from the engagement's start.
		{"live 8 kHz mu-law RTP, the agent's stream 1 s late", 8000, true, time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conv := ingesttest.BuildConversation(t, tc.rate)
			p := newPipeline(t, pipeline.DefaultConfig(), nil)
			e, err := p.Open(context.Background(), pipeline.OpenOptions{ID: "conv", Source: "test", Blocking: !tc.live, Offline: !tc.live})
			if err != nil {
				t.Fatal(err)
			}
			f := codec.Format{Codec: codec.S16LE, SampleRate: tc.rate, Channels: 1}
			if tc.live {
				f = codec.Format{Codec: codec.PCMU}
			}
			parties := []ingest.Party{ingest.PartyCustomer, ingest.PartyAgent}
			pts := map[ingest.Party]*pipeline.Party{}
			for _, name := range parties {
				if pts[name], err = e.AddParty(pipeline.PartyOptions{Name: string(name), Format: f}); err != nil {
					t.Fatal(err)
				}
			}
			done := make(chan []pipeline.Segment)
			go func() { done <- collect(t, e) }()
			// Both parties' audio, 20 ms at a time, interleaved as a call
			// delivers it.
			frame := tc.rate / 50
			ulaw := map[ingest.Party][]byte{}
			for _, name := range parties {
				ulaw[name] = conv.Encode(t, name, "mu-law", 8000)
			}
			// With a late agent, the customer's first second is sent in
			// real time; the agent's stream then starts with its audio of
			// the time that has passed since the customer's first packet,
			// as a live source's would.
			var first time.Time
			// The agent's first packet carries its track from agentFrom,
			// sent with the customer's sample i0; -1: not started.
			agentFrom, i0 := -1, 0
			if tc.late == 0 {
				agentFrom = 0
			}
			for i, seq := 0, uint16(7); i < len(conv.Customer); i, seq = i+frame, seq+1 {
				if i == 0 {
					first = time.Now()
				}
				if agentFrom < 0 && i >= int(tc.late.Seconds()*float64(tc.rate)) {
					agentFrom, i0 = int(time.Since(first).Seconds()*float64(tc.rate)), i
					t.Logf("agent's stream starts %.0f ms after the customer's", float64(agentFrom)*1000/float64(tc.rate))
				}
				for _, name := range parties {
					from := i
					if name == ingest.PartyAgent {
						if agentFrom < 0 {
							continue
						}
						from = agentFrom + i - i0
					}
					var err error
					if tc.live {
						b := ulaw[name]
						err = pts[name].WriteRTP(seq, uint32(1000+i), b[min(from, len(b)):min(from+frame, len(b))])
					} else {
						tr := conv.Track(name)
						err = pts[name].WritePCM(tr[min(from, len(tr)):min(from+frame, len(tr))])
					}
					if err != nil {
						t.Fatal(err)
					}
				}
				if agentFrom < 0 {
					// Real-time pacing of the customer's first second.
					time.Sleep(time.Until(first.Add(time.Duration(i/frame+1) * 20 * time.Millisecond)))
				}
			}
			e.Close()
			segs := <-done
			finals := ingesttest.FromSegments(segs)
			// The pipeline emits each party's segments as its recogniser
			// finishes them; ordering across parties is the reader's.
			slices.SortStableFunc(finals, func(a, b ingesttest.Timed) int { return int(a.StartMs - b.StartMs) })
			conv.CheckTimes(t, finals, 0)
			for _, s := range segs {
				if !s.Final {
					continue
				}
				for _, w := range s.Words {
					if w.StartMs < s.StartMs || w.EndMs > s.EndMs || w.EndMs < w.StartMs {
						t.Errorf("word %+v outside its segment %d..%d ms", w, s.StartMs, s.EndMs)
					}
				}
			}
		})
	}
}
