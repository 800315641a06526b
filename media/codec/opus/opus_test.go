package opus_test

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/earshot/earshot/media/audio"
	"github.com/earshot/earshot/media/codec"
	"github.com/earshot/earshot/media/codec/opus"
)

// goforward is a 16 kHz mono recording of "go forward ten meters" from
// Debian's pocketsphinx-testdata.
const goforward = "/usr/share/pocketsphinx/test/data/goforward.raw"

func speech(t *testing.T) []int16 {
	t.Helper()
	b, err := os.ReadFile(goforward)
	if err != nil {
		t.Fatalf("pocketsphinx-testdata (install the Debian package): %v", err)
	}
	pcm := make([]int16, len(b)/2)
	for i := range pcm {
		pcm[i] = int16(binary.LittleEndian.Uint16(b[2*i:]))
	}
	return pcm
}

func resample(t *testing.T, pcm []int16, from, to int) []int16 {
	t.Helper()
	if from == to {
		return pcm
	}
	r, err := audio.NewResampler(from, to)
	if err != nil {
		t.Fatal(err)
	}
	return r.Flush(r.Process(nil, pcm))
}

// TestRoundTrip encodes recorded speech at each input rate with libopus and
// decodes it with the pion/opus decoder the pipeline uses (16 kHz out): the
// decoded speech must match the input once aligned for the codec's delay,
// at a bitrate a 20 ms voice packet implies.
func TestRoundTrip(t *testing.T) {
	src := speech(t)
	for _, rate := range []int{8000, 16000, 48000} {
		t.Run(fmt.Sprint(rate), func(t *testing.T) {
			cfg := opus.DefaultConfig()
			cfg.SampleRate = rate
			enc, err := opus.NewEncoder(cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer enc.Close()
			dec, err := codec.NewDecoder(codec.Format{Codec: codec.Opus})
			if err != nil {
				t.Fatal(err)
			}
			in := resample(t, src, 16000, rate)
			frame := enc.FrameSamples()
			if frame != rate/50 {
				t.Fatalf("FrameSamples %d, want %d", frame, rate/50)
			}
			var out []int16
			var bytes, packets int
			var pkt []byte
			for off := 0; off+frame <= len(in); off += frame {
				pkt, err = enc.Encode(pkt[:0], in[off:off+frame])
				if err != nil {
					t.Fatalf("frame %d: %v", off/frame, err)
				}
				if len(pkt) == 0 || len(pkt) > opus.MaxPacket {
					t.Fatalf("frame %d: packet of %d bytes", off/frame, len(pkt))
				}
				bytes += len(pkt)
				packets++
				if out, err = dec.Decode(out, pkt); err != nil {
					t.Fatalf("frame %d: pion/opus: %v", off/frame, err)
				}
			}
			if want := packets * 320; len(out) != want {
				t.Fatalf("decoded %d samples from %d packets, want %d (20 ms at 16 kHz each)", len(out), packets, want)
			}
			if kbps := float64(bytes*8) / (float64(packets) * 0.02) / 1000; kbps < 0.5*float64(cfg.Bitrate)/1000 || kbps > 1.5*float64(cfg.Bitrate)/1000 {
				t.Errorf("coded at %.1f kb/s, configured %d b/s", kbps, cfg.Bitrate)
			}
			ref := resample(t, in, rate, 16000)
			lag, corr := align(ref, out, 800)
			env := envelopeCorr(ref, out[lag:], 320)
			t.Logf("rate %d: %d packets, %.1f kb/s, delay %d samples, correlation %.3f, envelope correlation %.3f",
				rate, packets, float64(bytes*8)/(float64(packets)*0.02)/1000, lag, corr, env)
			// Opus codes perceptually, not the waveform: speech at 32 kb/s
			// keeps a correlation near 0.8 and its 20 ms envelope near 1;
			// a broken encoder or a misaligned frame gives near 0.
			if corr < 0.7 || lag > 400 {
				t.Errorf("decoded speech correlates %.3f with the input at a delay of %d samples, want >= 0.7 within 25 ms", corr, lag)
			}
			if env < 0.9 {
				t.Errorf("20 ms envelope correlation %.3f, want >= 0.9", env)
			}
			if r := audio.RMS(out) / audio.RMS(ref); r < 0.7 || r > 1.3 {
				t.Errorf("decoded level %.2f of the input's", r)
			}
		})
	}
}

// align finds the delay (0..maxLag samples) of b behind a with the highest
// normalised correlation.
func align(a, b []int16, maxLag int) (int, float64) {
	best, bestLag := -2.0, 0
	for lag := 0; lag <= maxLag; lag++ {
		n := min(len(a), len(b)-lag)
		var ab, aa, bb float64
		for i := 0; i < n; i++ {
			x, y := float64(a[i]), float64(b[i+lag])
			ab += x * y
			aa += x * x
			bb += y * y
		}
		if aa == 0 || bb == 0 {
			continue
		}
		if c := ab / math.Sqrt(aa*bb); c > best {
			best, bestLag = c, lag
		}
	}
	return bestLag, best
}

// envelopeCorr is the correlation of the RMS of consecutive frames of a and
// b.
func envelopeCorr(a, b []int16, frame int) float64 {
	var ea, eb []float64
	for off := 0; off+frame <= min(len(a), len(b)); off += frame {
		ea = append(ea, audio.RMS(a[off:off+frame]))
		eb = append(eb, audio.RMS(b[off:off+frame]))
	}
	var ma, mb float64
	for i := range ea {
		ma += ea[i] / float64(len(ea))
		mb += eb[i] / float64(len(eb))
	}
	var ab, aa, bb float64
	for i := range ea {
		ab += (ea[i] - ma) * (eb[i] - mb)
		aa += (ea[i] - ma) * (ea[i] - ma)
		bb += (eb[i] - mb) * (eb[i] - mb)
	}
	if aa == 0 || bb == 0 {
		return 0
	}
	return ab / math.Sqrt(aa*bb)
}

func TestConfig(t *testing.T) {
	for _, tc := range []struct {
		name  string
		edit  func(*opus.Config)
		field string
	}{
		{"default", func(*opus.Config) {}, ""},
		{"rate", func(c *opus.Config) { c.SampleRate = 44100 }, "sample_rate"},
		{"bitrate", func(c *opus.Config) { c.Bitrate = 100 }, "bitrate"},
		{"complexity", func(c *opus.Config) { c.Complexity = 11 }, "complexity"},
		{"loss", func(c *opus.Config) { c.PacketLossPercent = -1 }, "packet_loss_percent"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := opus.DefaultConfig()
			tc.edit(&c)
			err := c.Validate()
			if tc.field == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.field) {
				t.Fatalf("Validate = %v, want an error naming %s", err, tc.field)
			}
			if _, err := opus.NewEncoder(c); err == nil {
				t.Fatal("NewEncoder accepted an invalid config")
			}
		})
	}
}

func TestEncodeErrors(t *testing.T) {
	enc, err := opus.NewEncoder(opus.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := enc.Encode(nil, make([]int16, 100)); err == nil || !strings.Contains(err.Error(), "20 ms") {
		t.Fatalf("short frame: %v", err)
	}
	// Silence codes to small packets that decode to silence.
	dec, err := codec.NewDecoder(codec.Format{Codec: codec.Opus})
	if err != nil {
		t.Fatal(err)
	}
	var out []int16
	for range 10 {
		pkt, err := enc.Encode(nil, make([]int16, enc.FrameSamples()))
		if err != nil {
			t.Fatal(err)
		}
		if len(pkt) > 20 {
			t.Errorf("silent frame coded in %d bytes", len(pkt))
		}
		if out, err = dec.Decode(out, pkt); err != nil {
			t.Fatal(err)
		}
	}
	if r := audio.RMS(out); r > 10 {
		t.Errorf("silence decodes at RMS %.1f", r)
	}
	if err := enc.Reset(); err != nil {
		t.Fatal(err)
	}
	enc.Close()
	enc.Close()
	if _, err := enc.Encode(nil, make([]int16, enc.FrameSamples())); err != opus.ErrClosed {
		t.Fatalf("after Close: %v", err)
	}
	if v := opus.Version(); !strings.HasPrefix(v, "libopus") {
		t.Errorf("Version %q", v)
	}
}
