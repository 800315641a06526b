package audio

import (
	"math"
	"testing"
)

func sine(rate int, freq float64, n int, amp float64) []int16 {
	s := make([]int16, n)
	for i := range s {
		s[i] = int16(amp * math.Sin(2*math.Pi*freq*float64(i)/float64(rate)))
	}
	return s
}

// goertzel returns the amplitude of freq in s.
func goertzel(s []int16, rate int, freq float64) float64 {
	w := 2 * math.Pi * freq / float64(rate)
	c := 2 * math.Cos(w)
	var s1, s2 float64
	for _, v := range s {
		s0 := float64(v) + c*s1 - s2
		s2, s1 = s1, s0
	}
	p := s1*s1 + s2*s2 - c*s1*s2
	return 2 * math.Sqrt(math.Max(p, 0)) / float64(len(s))
}

func TestResampler(t *testing.T) {
	tests := []struct {
		name      string
		in, out   int
		tone      float64 // input tone
		wantAmp   float64 // expected amplitude at the tone (or its alias) in the output
		checkFreq float64
		maxAmp    float64 // upper bound (for rejection rows)
		chunk     int
	}{
		{"8k->16k passes 1 kHz", 8000, 16000, 1000, 10000, 1000, 0, 160},
		{"48k->16k passes 1 kHz", 48000, 16000, 1000, 10000, 1000, 0, 960},
		{"44.1k->16k passes 3 kHz", 44100, 16000, 3000, 10000, 3000, 0, 441},
		{"16k->16k identity", 16000, 16000, 440, 10000, 440, 0, 333},
		// A 10 kHz tone is above the 8 kHz output Nyquist: it must be
		// filtered, not folded to 6 kHz as linear interpolation would.
		{"48k->16k rejects 10 kHz alias", 48000, 16000, 10000, 0, 6000, 10, 960},
		{"44.1k->16k rejects 12 kHz alias", 44100, 16000, 12000, 0, 4000, 10, 1000},
		// 8 -> 16 kHz must not create an image of 1 kHz at 7 kHz.
		{"8k->16k no image", 8000, 16000, 1000, 0, 7000, 10, 80},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := NewResampler(tt.in, tt.out)
			if err != nil {
				t.Fatal(err)
			}
			src := sine(tt.in, tt.tone, tt.in, 10000) // one second
			var out []int16
			for off := 0; off < len(src); off += tt.chunk {
				out = r.Process(out, src[off:min(off+tt.chunk, len(src))])
			}
			out = r.Flush(out)
			if len(out) != tt.out {
				t.Fatalf("output length = %d, want %d", len(out), tt.out)
			}
			mid := out[tt.out/10 : tt.out*9/10] // skip edges
			a := goertzel(mid, tt.out, tt.checkFreq)
			if tt.maxAmp > 0 {
				if a > tt.maxAmp {
					t.Errorf("amplitude at %g Hz = %.1f, want <= %g (aliasing/imaging)", tt.checkFreq, a, tt.maxAmp)
				}
				return
			}
			if math.Abs(a-tt.wantAmp)/tt.wantAmp > 0.02 {
				t.Errorf("amplitude at %g Hz = %.1f, want %g +-2%%", tt.checkFreq, a, tt.wantAmp)
			}
		})
	}
}

func TestResamplerChunkingInvariant(t *testing.T) {
	src := sine(8000, 700, 8000, 8000)
	whole, _ := NewResampler(8000, 16000)
	a := whole.Flush(whole.Process(nil, src))
	pieces, _ := NewResampler(8000, 16000)
	var b []int16
	for off, n := 0, 1; off < len(src); off, n = off+n, n%37+1 {
		b = pieces.Process(b, src[off:min(off+n, len(src))])
	}
	b = pieces.Flush(b)
	if len(a) != len(b) {
		t.Fatalf("lengths %d vs %d", len(a), len(b))
	}
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("sample %d: whole %d, chunked %d", i, a[i], b[i])
		}
	}
}

func TestNewResamplerBadRates(t *testing.T) {
	for _, r := range [][2]int{{0, 16000}, {8000, -1}, {1000000, 16000}} {
		if _, err := NewResampler(r[0], r[1]); err == nil {
			t.Errorf("NewResampler(%d, %d) = nil error", r[0], r[1])
		}
	}
}

func BenchmarkResample48kTo16k(b *testing.B) {
	r, _ := NewResampler(48000, 16000)
	src := sine(48000, 1000, 960, 8000)
	var out []int16
	b.SetBytes(int64(len(src) * 2))
	for b.Loop() {
		out = r.Process(out[:0], src)
	}
}

func BenchmarkResample8kTo16k(b *testing.B) {
	r, _ := NewResampler(8000, 16000)
	src := sine(8000, 1000, 160, 8000)
	var out []int16
	b.SetBytes(int64(len(src) * 2))
	for b.Loop() {
		out = r.Process(out[:0], src)
	}
}
