package synth

import (
	"strings"
	"testing"
)

func TestDeterministicAndFunctionWordShare(t *testing.T) {
	a, b := New(5).Body(2000), New(5).Body(2000)
	if a != b {
		t.Fatal("same seed gave different text")
	}
	if New(6).Body(200) == New(5).Body(200) {
		t.Fatal("different seeds gave the same text")
	}
	stop := map[string]bool{}
	for _, w := range StopWords {
		stop[w] = true
	}
	for _, tc := range []struct {
		opts     []Option
		min, max float64
	}{{nil, 0.3, 0.6}, {[]Option{NoFunctionWords}, 0, 0}} {
		f := strings.Fields(strings.ReplaceAll(New(1, tc.opts...).Body(20000), ".", ""))
		n := 0
		for _, w := range f {
			if stop[w] {
				n++
			}
		}
		if share := float64(n) / float64(len(f)); share < tc.min || share > tc.max {
			t.Errorf("options %v: function-word share %.2f, want %.2f..%.2f", tc.opts, share, tc.min, tc.max)
		}
	}
}
