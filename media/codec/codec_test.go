package codec

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/earshot/earshot/internal/testdep"
)

func TestG711KnownValues(t *testing.T) {
	tests := []struct {
		name string
		got  int16
		want int16
	}{
		{"mu-law 0xFF is zero", MulawToLinear(0xFF), 0},
		{"mu-law 0x00 is most negative", MulawToLinear(0x00), -32124},
		{"mu-law 0x80 is most positive", MulawToLinear(0x80), 32124},
		{"A-law 0xD5 is +8", AlawToLinear(0xD5), 8},
		{"A-law 0x55 is -8", AlawToLinear(0x55), -8},
		{"A-law 0xAA is most positive", AlawToLinear(0xAA), 32256},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: got %d, want %d", tt.name, tt.got, tt.want)
		}
	}
}

func TestG711RoundTrip(t *testing.T) {
	for c := range 256 {
		if c != 0x7F { // mu-law has two zeros; 0x7F encodes back to 0xFF
			if got := LinearToMulaw(MulawToLinear(byte(c))); got != byte(c) {
				t.Errorf("mu-law %#02x -> %d -> %#02x", c, MulawToLinear(byte(c)), got)
			}
		}
		if got := LinearToAlaw(AlawToLinear(byte(c))); got != byte(c) {
			t.Errorf("A-law %#02x -> %d -> %#02x", c, AlawToLinear(byte(c)), got)
		}
	}
	// Quantisation error stays within the segment step.
	for v := -32768; v <= 32767; v += 7 {
		d := int(MulawToLinear(LinearToMulaw(int16(v)))) - v
		if d < -1100 || d > 1100 {
			t.Fatalf("mu-law error %d at %d", d, v)
		}
	}
}

func TestDecoders(t *testing.T) {
	tests := []struct {
		name    string
		f       Format
		in      []byte
		want    []int16
		wantErr bool
	}{
		{"pcmu", Format{Codec: PCMU}, []byte{0xFF, 0x80}, []int16{0, 32124}, false},
		{"pcma stereo", Format{Codec: PCMA, Channels: 2}, []byte{0xD5, 0x55}, []int16{8, -8}, false},
		{"pcma stereo odd", Format{Codec: PCMA, Channels: 2}, []byte{0xD5}, nil, true},
		{"l16 network order", Format{Codec: L16, SampleRate: 16000}, []byte{0x01, 0x02, 0xFF, 0xFE}, []int16{0x0102, -2}, false},
		{"s16le", Format{Codec: S16LE, SampleRate: 48000}, []byte{0x02, 0x01}, []int16{0x0102}, false},
		{"s16le odd bytes", Format{Codec: S16LE, SampleRate: 48000}, []byte{0x02}, nil, true},
		{"opus garbage", Format{Codec: Opus}, []byte{0xFF, 0xFF, 0xFF}, nil, true},
		{"opus empty", Format{Codec: Opus}, nil, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := NewDecoder(tt.f)
			if err != nil {
				t.Fatal(err)
			}
			got, err := d.Decode(nil, tt.in)
			if tt.wantErr {
				if !errors.Is(err, ErrDecode) {
					t.Fatalf("Decode(%x) error = %v, want ErrDecode", tt.in, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Decode(%x) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestNewDecoderErrors(t *testing.T) {
	for _, f := range []Format{{Codec: "gsm"}, {Codec: PCMU, Channels: 3}, {Codec: L16, SampleRate: 100}} {
		if _, err := NewDecoder(f); err == nil {
			t.Errorf("NewDecoder(%+v) = nil error", f)
		}
	}
	if c, err := ParseCodec("PCMU"); err != nil || c != PCMU {
		t.Errorf("ParseCodec(PCMU) = %q, %v", c, err)
	}
}

// OpusPackets encodes a WAV file with opusenc (Debian opus-tools) at the
// given frame size and returns the Opus packets.
func OpusPackets(t testing.TB, wavPath string, frameMs string) [][]byte {
	t.Helper()
	testdep.Program(t, "opusenc", "opus-tools")
	ogg := filepath.Join(t.TempDir(), "a.opus")
	if out, err := exec.Command("opusenc", "--quiet", "--framesize", frameMs, "--bitrate", "24", wavPath, ogg).CombinedOutput(); err != nil {
		t.Fatalf("opusenc: %v: %s", err, out)
	}
	f, err := os.Open(ogg)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pkts, err := OggOpusPackets(f)
	if err != nil {
		t.Fatal(err)
	}
	return pkts
}

// TestOpusFrameSizes decodes real Opus streams of several frame sizes: the
// decoder reports each packet's duration instead of assuming 20 ms.
func TestOpusFrameSizes(t *testing.T) {
	wavPath := "/usr/share/pocketsphinx/test/data/librivox/sense_and_sensibility_01_austen_64kb-0880.wav"
	for _, fs := range []struct {
		ms      string
		samples int
	}{{"10", 160}, {"20", 320}, {"40", 640}, {"60", 960}} {
		t.Run(fs.ms+"ms", func(t *testing.T) {
			pkts := OpusPackets(t, wavPath, fs.ms)
			d, err := NewDecoder(Format{Codec: Opus})
			if err != nil {
				t.Fatal(err)
			}
			var total int
			for i, p := range pkts {
				pcm, err := d.Decode(nil, p)
				if err != nil {
					t.Fatalf("packet %d: %v", i, err)
				}
				if len(pcm) != fs.samples {
					t.Fatalf("packet %d: %d samples, want %d", i, len(pcm), fs.samples)
				}
				total += len(pcm)
			}
			if total < 47840 {
				t.Errorf("decoded %d samples, want at least the 47840 of the source", total)
			}
		})
	}
}
