package ingesttest

import "testing"

// TestBestMatchDiscriminates guards the audio comparison the end-to-end
// tests rely on: the same speech matches, other speech and silence do not;
// Lag finds where received audio with its start lost begins.
func TestBestMatchDiscriminates(t *testing.T) {
	_, a, _ := SpeechWAV(t, "0930", 16000)
	_, b, _ := SpeechWAV(t, "0890", 16000)
	padded := append(append(make([]int16, 16000), a...), make([]int16, 8000)...)
	for _, tc := range []struct {
		name     string
		got      []int16
		min, max float64
	}{
		{"same speech, delayed", padded, 0.95, 1.01},
		{"other speech", append(b, b...), -1, 0.8},
		{"silence", make([]int16, 2*len(a)), -1, 0.1},
		{"start lost", a[len(a)/4:], 0.95, 1.01},
		{"other speech, short", b[:len(a)*3/4], -1, 0.8},
		{"too little received", a[:len(a)/2], -1, -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, _ := BestMatch(a, 16000, tc.got, 16000)
			t.Logf("correlation %.3f", r)
			if r < tc.min || r > tc.max {
				t.Errorf("BestMatch = %.3f, want in [%.2f, %.2f]", r, tc.min, tc.max)
			}
		})
	}
	for _, cut := range []int{0, 3200, 8000} { // 0, 200 and 500 ms lost
		lag, r := Lag(a, 16000, a[cut:], 16000)
		if want := int64(cut / 16); lag < want-10 || lag > want+10 || r < 0.95 {
			t.Errorf("Lag with %d ms lost = %d ms (correlation %.3f), want %d", cut/16, lag, r, want)
		}
	}
}
