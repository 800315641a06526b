package wav

import (
	"encoding/binary"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func le16(v ...int16) []byte {
	var b []byte
	for _, x := range v {
		b = binary.LittleEndian.AppendUint16(b, uint16(x))
	}
	return b
}

// patch returns a copy of b with a little-endian value written at off.
func patch(b []byte, off int, v uint32, size int) []byte {
	c := append([]byte(nil), b...)
	if size == 2 {
		binary.LittleEndian.PutUint16(c[off:], uint16(v))
	} else {
		binary.LittleEndian.PutUint32(c[off:], v)
	}
	return c
}

var (
	mono16   = Encode(Format{Encoding: PCM, SampleRate: 16000, Channels: 1, BitsPerSample: 16}, le16(1, -2, 3, -4))
	stereo8  = Encode(Format{Encoding: PCM, SampleRate: 8000, Channels: 2, BitsPerSample: 8}, []byte{128, 255, 0, 128})
	mulaw8k  = Encode(Format{Encoding: Mulaw, SampleRate: 8000, Channels: 1, BitsPerSample: 8}, []byte{0xFF, 0x80})
	alaw8k   = Encode(Format{Encoding: Alaw, SampleRate: 8000, Channels: 1, BitsPerSample: 8}, []byte{0xD5, 0x55})
	stereo44 = Encode(Format{Encoding: PCM, SampleRate: 44100, Channels: 2, BitsPerSample: 16}, le16(100, -100))
)

func TestParse(t *testing.T) {
	withList := func() []byte {
		// A LIST chunk of odd size (padded) before the data chunk.
		b := append([]byte(nil), mono16[:36]...)
		b = append(b, "LIST"...)
		b = binary.LittleEndian.AppendUint32(b, 3)
		b = append(b, 'a', 'b', 'c', 0)
		return append(b, mono16[36:]...)
	}()
	tests := []struct {
		name    string
		in      []byte
		want    []int16
		format  Format
		wantErr error
		errText string
	}{
		{name: "16-bit mono", in: mono16, want: []int16{1, -2, 3, -4}, format: Format{PCM, 16000, 1, 16}},
		{name: "8-bit stereo", in: stereo8, want: []int16{0, 127 << 8, -128 << 8, 0}, format: Format{PCM, 8000, 2, 8}},
		{name: "mu-law", in: mulaw8k, want: []int16{0, 32124}, format: Format{Mulaw, 8000, 1, 8}},
		{name: "A-law", in: alaw8k, want: []int16{8, -8}, format: Format{Alaw, 8000, 1, 8}},
		{name: "44.1 kHz stereo", in: stereo44, want: []int16{100, -100}, format: Format{PCM, 44100, 2, 16}},
		{name: "odd chunk padding", in: withList, want: []int16{1, -2, 3, -4}, format: Format{PCM, 16000, 1, 16}},
		{name: "streaming size", in: patch(mono16, 40, 0xFFFFFFFF, 4), want: []int16{1, -2, 3, -4}, format: Format{PCM, 16000, 1, 16}},
		{name: "empty", in: nil, wantErr: ErrTruncated},
		{name: "not riff", in: []byte("RIFX\x00\x00\x00\x00WAVEfmt "), wantErr: ErrNotWAV},
		{name: "truncated data", in: mono16[:len(mono16)-3], wantErr: ErrTruncated, errText: "data chunk size 8, only 5 bytes present"},
		{name: "truncated in fmt", in: mono16[:30], wantErr: ErrTruncated, errText: "fmt chunk"},
		{name: "no data chunk", in: mono16[:36], wantErr: ErrTruncated, errText: "no data chunk"},
		{name: "lying data size", in: patch(mono16, 40, 4000, 4), wantErr: ErrTruncated, errText: "data chunk size 4000"},
		{name: "lying block_align", in: patch(mono16, 32, 4, 2), wantErr: ErrHeader, errText: "block_align 4"},
		{name: "lying byte_rate", in: patch(mono16, 28, 16000, 4), wantErr: ErrHeader, errText: "byte_rate 16000"},
		{name: "zero channels", in: patch(mono16, 22, 0, 2), wantErr: ErrHeader, errText: "channels 0"},
		{name: "absurd rate", in: patch(mono16, 24, 1000, 4), wantErr: ErrHeader, errText: "sample_rate 1000"},
		{name: "float format", in: patch(mono16, 20, 3, 2), wantErr: ErrFormat, errText: "format tag 0x0003"},
		{name: "24-bit", in: patch(patch(patch(mono16, 34, 24, 2), 32, 3, 2), 28, 48000, 4), wantErr: ErrFormat, errText: "bits_per_sample 24"},
		{name: "data not whole frames", in: Encode(Format{PCM, 16000, 2, 16}, le16(1, 2, 3)), wantErr: ErrHeader, errText: "not a multiple of block_align"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse(tt.in)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Parse() error = %v, want %v", err, tt.wantErr)
				}
				if tt.errText != "" && !contains(err.Error(), tt.errText) {
					t.Fatalf("Parse() error = %q, want it to mention %q", err, tt.errText)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse() error = %v", err)
			}
			if diff := cmp.Diff(tt.format, f.Format); diff != "" {
				t.Errorf("format (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.want, f.Samples()); diff != "" {
				t.Errorf("samples (-want +got):\n%s", diff)
			}
		})
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

// FuzzParse: Parse never panics, and what it accepts is self-consistent.
func FuzzParse(f *testing.F) {
	for _, seed := range [][]byte{mono16, stereo8, mulaw8k, alaw8k, stereo44, mono16[:30], patch(mono16, 40, 0xFFFFFFFF, 4)} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		w, err := Parse(b)
		if err != nil {
			return
		}
		if w.Channels < 1 || w.SampleRate < 8000 || len(w.Data)%(w.Channels*w.BitsPerSample/8) != 0 {
			t.Fatalf("accepted inconsistent file: %+v, %d data bytes", w.Format, len(w.Data))
		}
		if got := len(w.Samples()); got != w.Frames()*w.Channels {
			t.Fatalf("Samples() = %d, want %d", got, w.Frames()*w.Channels)
		}
	})
}
