package store

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestSegmentCodecRoundTrip(t *testing.T) {
	id := "00112233445566778899aabbccddeeff"
	tests := []struct {
		name string
		seg  Segment
	}{
		{"empty partial", Segment{Engagement: id, Speaker: "agent"}},
		{"words", benchSegment(id, 7)},
		{"unicode and large times", Segment{Engagement: id, Seq: 1 << 31, Speaker: "customer", StartMs: 1 << 40, EndMs: 1<<40 + 5,
			Text: "¿dónde está mi pedido? 你好", Final: true,
			Words: []Word{{Text: "¿dónde", StartMs: 1 << 40, EndMs: 1<<40 + 2, Confidence: 1}, {Text: "你好", StartMs: 1<<40 + 3, EndMs: 1<<40 + 5}}}},
		{"chat message with translations", Segment{Engagement: id, Seq: 4, Speaker: "customer", Text: "Quiero cancelar mi tarjeta",
			Final: true, Lang: "es", Translations: []Translation{
				{Lang: "en", Text: "I want to cancel my card", Engine: "apertium"},
				{Lang: "pt", Text: "Quiero cancelar mi tarjeta", Notice: "engine_failed"},
				{Lang: "fr", Text: "Je veux annuler ma carte", Engine: "apertium", Pivot: "es"}}}},
		{"chat message with a language only", Segment{Engagement: id, Speaker: "agent", Text: "Hello", Lang: "en", Final: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			enc := encodeSegment(tt.seg)
			got, err := decodeSegment(enc, id)
			if err != nil {
				t.Fatalf("decodeSegment: %v", err)
			}
			if diff := cmp.Diff(tt.seg, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("round trip (-want +got):\n%s", diff)
			}
			js, _ := json.Marshal(tt.seg)
			t.Logf("binary %d bytes, JSON %d bytes", len(enc), len(js))
		})
	}
	for _, bad := range [][]byte{nil, {2}, {1}, {1, 0, 0, 0, 1, 5, 'a'}, append(encodeSegment(benchSegment(id, 1)), 0)} {
		if _, err := decodeSegment(bad, id); err == nil {
			t.Errorf("decodeSegment(%x) succeeded, want error", bad)
		}
	}
}

func FuzzDecodeSegment(f *testing.F) {
	id := "00112233445566778899aabbccddeeff"
	f.Add(encodeSegment(benchSegment(id, 3)))
	f.Add(encodeSegment(Segment{Speaker: "a"}))
	f.Add([]byte{1, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		g, err := decodeSegment(b, id)
		if err != nil {
			return
		}
		// Whatever decodes must re-encode to something that decodes the same.
		g2, err := decodeSegment(encodeSegment(g), id)
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if diff := cmp.Diff(g, g2, cmpopts.EquateEmpty(), cmpopts.EquateNaNs()); diff != "" {
			t.Fatalf("re-encode changed the segment:\n%s", diff)
		}
	})
}
