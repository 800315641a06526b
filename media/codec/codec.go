package codec

import (
	"errors"
	"fmt"
	"strings"

	"github.com/earshot/earshot/media/audio"
	"github.com/pion/opus"
)

// Codec names a payload encoding. The values are lowercase and match the
// RTP/SDP encoding names where one exists.
type Codec string

// Supported codecs.
const (
	PCMU  Codec = "pcmu"  // G.711 mu-law, 8 kHz
	PCMA  Codec = "pcma"  // G.711 A-law, 8 kHz
	L16   Codec = "l16"   // linear 16-bit, network (big-endian) order, RFC 3551
	S16LE Codec = "s16le" // linear 16-bit, little-endian (WebSocket streams, WAV data)
	Opus  Codec = "opus"  // Opus (RFC 6716), RTP clock 48 kHz
)

// ParseCodec maps an SDP/RTP encoding name or a codec name (any case) to a
// Codec.
func ParseCodec(name string) (Codec, error) {
	switch c := Codec(strings.ToLower(name)); c {
	case PCMU, PCMA, L16, S16LE, Opus:
		return c, nil
	case "ulaw", "mulaw", "g711u":
		return PCMU, nil
	case "alaw", "g711a":
		return PCMA, nil
	}
	return "", fmt.Errorf("codec: unknown codec %q", name)
}

// Format describes one incoming stream.
type Format struct {
	Codec Codec
	// SampleRate is the PCM rate of L16/S16LE payloads. G.711 is always
	// 8000 and Opus always has an RTP clock of 48000, so it is ignored there.
	SampleRate int
	// Channels is the interleaved channel count of the payload (1 or 2).
	// Opus is always decoded to mono.
	Channels int
}

// ErrDecode is wrapped by every payload decoding error.
var ErrDecode = errors.New("codec: decode error")

// Decoder decodes payloads of one stream. It keeps state between payloads
// (Opus does), so use one per stream; it is not safe for concurrent use.
type Decoder interface {
	// Decode appends the interleaved PCM of one payload to dst. Errors wrap
	// ErrDecode.
	Decode(dst []int16, payload []byte) ([]int16, error)
	// SampleRate is the rate of the decoded PCM.
	SampleRate() int
	// Channels is the channel count of the decoded PCM.
	Channels() int
	// ClockRate is the RTP timestamp clock of the payload format.
	ClockRate() int
	// Codec returns the codec name (for metrics labels).
	Codec() Codec
}

// NewDecoder returns a decoder for f.
func NewDecoder(f Format) (Decoder, error) {
	ch := f.Channels
	if ch == 0 {
		ch = 1
	}
	if ch != 1 && ch != 2 {
		return nil, fmt.Errorf("codec: %s: channels must be 1 or 2, got %d", f.Codec, f.Channels)
	}
	switch f.Codec {
	case PCMU:
		return &tableDecoder{codec: PCMU, table: &ulawTable, ch: ch}, nil
	case PCMA:
		return &tableDecoder{codec: PCMA, table: &alawTable, ch: ch}, nil
	case L16, S16LE:
		if f.SampleRate < 8000 || f.SampleRate > 192000 {
			return nil, fmt.Errorf("codec: %s: sample rate %d out of range 8000..192000", f.Codec, f.SampleRate)
		}
		return &linearDecoder{codec: f.Codec, rate: f.SampleRate, ch: ch}, nil
	case Opus:
		d, err := opus.NewDecoderWithOutput(audio.RecognizerRate, 1)
		if err != nil {
			return nil, fmt.Errorf("codec: opus: %w", err)
		}
		return &opusDecoder{dec: d, buf: make([]int16, audio.RecognizerRate*120/1000)}, nil
	}
	return nil, fmt.Errorf("codec: unknown codec %q", f.Codec)
}

type tableDecoder struct {
	codec Codec
	table *[256]int16
	ch    int
}

func (d *tableDecoder) Decode(dst []int16, p []byte) ([]int16, error) {
	if len(p)%d.ch != 0 {
		return dst, fmt.Errorf("%w: %s payload of %d bytes is not a whole number of %d-channel frames", ErrDecode, d.codec, len(p), d.ch)
	}
	for _, b := range p {
		dst = append(dst, d.table[b])
	}
	return dst, nil
}
func (d *tableDecoder) SampleRate() int { return 8000 }
func (d *tableDecoder) Channels() int   { return d.ch }
func (d *tableDecoder) ClockRate() int  { return 8000 }
func (d *tableDecoder) Codec() Codec    { return d.codec }

type linearDecoder struct {
	codec Codec
	rate  int
	ch    int
}

func (d *linearDecoder) Decode(dst []int16, p []byte) ([]int16, error) {
	if len(p)%(2*d.ch) != 0 {
		return dst, fmt.Errorf("%w: %s payload of %d bytes is not a whole number of %d-channel 16-bit frames", ErrDecode, d.codec, len(p), d.ch)
	}
	if d.codec == L16 {
		return audio.BE16(dst, p), nil
	}
	return audio.LE16(dst, p), nil
}
func (d *linearDecoder) SampleRate() int { return d.rate }
func (d *linearDecoder) Channels() int   { return d.ch }
func (d *linearDecoder) ClockRate() int  { return d.rate }
func (d *linearDecoder) Codec() Codec    { return d.codec }

// opusDecoder decodes to mono 16 kHz directly (pion/opus resamples
// internally), so the pipeline needs no further resampling. pion/opus has no
// packet-loss concealment: the pipeline inserts silence for gaps.
type opusDecoder struct {
	dec opus.Decoder
	buf []int16
}

func (d *opusDecoder) Decode(dst []int16, p []byte) ([]int16, error) {
	if len(p) == 0 {
		return dst, fmt.Errorf("%w: opus: empty payload", ErrDecode)
	}
	n, err := d.dec.DecodeToInt16(p, d.buf)
	if err != nil {
		return dst, fmt.Errorf("%w: opus: %w", ErrDecode, err)
	}
	return append(dst, d.buf[:n]...), nil
}
func (d *opusDecoder) SampleRate() int { return audio.RecognizerRate }
func (d *opusDecoder) Channels() int   { return 1 }
func (d *opusDecoder) ClockRate() int  { return 48000 }
func (d *opusDecoder) Codec() Codec    { return Opus }
