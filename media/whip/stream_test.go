package whip

import (
	"bytes"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/pion/rtp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

type pkt struct {
	seq     uint16
	ts      uint32
	payload []byte
}

// out summarises one emitted chunk.
type out struct {
	Silence bool
	Samples int
}

func TestStream(t *testing.T) {
	mu := func(n int) []byte { return bytes.Repeat([]byte{0xFF}, n) } // mu-law zero
	opus20 := []byte{0xF8, 0xFF, 0xFE}                                 // CELT FB 20 ms silence frame
	opus40 := []byte{0x10, 0x00}                                       // SILK NB 40 ms
	garbage := []byte{0xFF, 0x00}                                      // code 3 with zero frames
	for _, tc := range []struct {
		name                           string
		codec                          string
		maxGap                         time.Duration
		in                             []pkt
		want                           []out
		lost, late, dropped, decodeErr float64
	}{
		{name: "pcmu in order, 20 ms", codec: CodecPCMU,
			in:   []pkt{{1, 0, mu(160)}, {2, 160, mu(160)}, {3, 320, mu(160)}},
			want: []out{{false, 160}, {false, 160}, {false, 160}}},
		{name: "pcmu 40 ms packets are not gaps", codec: CodecPCMU,
			in:   []pkt{{1, 0, mu(320)}, {2, 320, mu(320)}, {3, 640, mu(320)}},
			want: []out{{false, 320}, {false, 320}, {false, 320}}},
		{name: "pcmu two lost packets become silence", codec: CodecPCMU,
			in:   []pkt{{1, 0, mu(160)}, {4, 480, mu(160)}},
			want: []out{{false, 160}, {true, 320}, {false, 160}}, lost: 2},
		{name: "pcmu late and duplicate dropped", codec: CodecPCMU,
			in:   []pkt{{10, 1600, mu(160)}, {12, 1920, mu(160)}, {11, 1760, mu(160)}, {12, 1920, mu(160)}},
			want: []out{{false, 160}, {true, 160}, {false, 160}}, lost: 1, late: 2},
		{name: "pcmu sequence wraps", codec: CodecPCMU,
			in:   []pkt{{65535, 0, mu(160)}, {0, 160, mu(160)}},
			want: []out{{false, 160}, {false, 160}}},
		{name: "pause longer than max gap is capped", codec: CodecPCMU, maxGap: time.Second,
			in:   []pkt{{1, 0, mu(160)}, {2, 160 + 8000*3, mu(160)}},
			want: []out{{false, 160}, {true, 8000}, {false, 160}}},
		{name: "oversized and empty dropped", codec: CodecPCMA,
			in:   []pkt{{1, 0, mu(160)}, {2, 160, mu(5000)}, {3, 320, nil}, {4, 480, mu(160)}},
			want: []out{{false, 160}, {true, 320}, {false, 160}}, dropped: 2, lost: 0},
		{name: "opus 20 ms", codec: CodecOpus,
			in:   []pkt{{1, 0, opus20}, {2, 960, opus20}},
			want: []out{{false, 320}, {false, 320}}},
		{name: "opus 40 ms packets are not gaps", codec: CodecOpus,
			in:   []pkt{{1, 0, opus40}, {2, 1920, opus40}, {3, 3840, opus40}},
			want: []out{{false, 640}, {false, 640}, {false, 640}}},
		{name: "opus lost packet becomes silence", codec: CodecOpus,
			in:   []pkt{{1, 0, opus20}, {3, 1920, opus20}},
			want: []out{{false, 320}, {true, 320}, {false, 320}}, lost: 1},
		{name: "opus undecodable packet becomes silence", codec: CodecOpus,
			in:   []pkt{{1, 0, opus20}, {2, 960, garbage}, {3, 1920, opus20}},
			want: []out{{false, 320}, {true, 320}, {false, 320}}, decodeErr: 1},
		{name: "opus garbage first packet", codec: CodecOpus,
			in:   []pkt{{1, 0, garbage}, {2, 960, opus20}},
			want: []out{{true, 320}, {false, 320}}, decodeErr: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := newMetrics(prometheus.NewRegistry())
			if err != nil {
				t.Fatal(err)
			}
			cfg := DefaultConfig()
			if tc.maxGap != 0 {
				cfg.MaxGap = tc.maxGap
			}
			s, err := newStream("customer", tc.codec, cfg, m)
			if err != nil {
				t.Fatal(err)
			}
			var got []out
			for _, p := range tc.in {
				s.push(&rtp.Packet{Header: rtp.Header{SequenceNumber: p.seq, Timestamp: p.ts}, Payload: p.payload}, func(c Chunk) {
					if c.Party != "customer" || c.Codec != tc.codec {
						t.Errorf("chunk party %s codec %s", c.Party, c.Codec)
					}
					// Merge consecutive silence chunks (a long gap comes in 1 s pieces).
					if n := len(got); n > 0 && c.Silence && got[n-1].Silence {
						got[n-1].Samples += len(c.PCM)
						return
					}
					got = append(got, out{c.Silence, len(c.PCM)})
				})
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("chunks (-want +got):\n%s", diff)
			}
			for _, c := range []struct {
				name string
				got  float64
				want float64
			}{
				{"lost", testutil.ToFloat64(m.lost.WithLabelValues(tc.codec)), tc.lost},
				{"late", testutil.ToFloat64(m.late.WithLabelValues(tc.codec)), tc.late},
				{"dropped", testutil.ToFloat64(m.dropped.WithLabelValues(tc.codec, "oversized")) +
					testutil.ToFloat64(m.dropped.WithLabelValues(tc.codec, "empty")), tc.dropped},
				{"decode errors", testutil.ToFloat64(m.decodeErrors.WithLabelValues(tc.codec)), tc.decodeErr},
			} {
				if c.got != c.want {
					t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
				}
			}
		})
	}
}

// TestG711 checks the expansion tables against known code points.
func TestG711(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    func(byte) int16
		in   byte
		want int16
	}{
		{"ulaw zero", ulawToLinear, 0xFF, 0},
		{"ulaw negative zero", ulawToLinear, 0x7F, 0},
		{"ulaw max", ulawToLinear, 0x80, 32124},
		{"ulaw min", ulawToLinear, 0x00, -32124},
		{"alaw small positive", alawToLinear, 0xD5, 8},
		{"alaw small negative", alawToLinear, 0x55, -8},
		{"alaw max", alawToLinear, 0xAA, 32256},
		{"alaw min", alawToLinear, 0x2A, -32256},
	} {
		if got := tc.f(tc.in); got != tc.want {
			t.Errorf("%s: f(%#x) = %d, want %d", tc.name, tc.in, got, tc.want)
		}
	}
}
