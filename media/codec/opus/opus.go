package opus

/*
#cgo pkg-config: opus
#include <opus.h>

// opus_encoder_ctl is variadic, which cgo cannot call: one wrapper per
// request used.
static int earshot_opus_set_bitrate(OpusEncoder *e, opus_int32 v) { return opus_encoder_ctl(e, OPUS_SET_BITRATE(v)); }
static int earshot_opus_set_complexity(OpusEncoder *e, opus_int32 v) { return opus_encoder_ctl(e, OPUS_SET_COMPLEXITY(v)); }
static int earshot_opus_set_signal_voice(OpusEncoder *e) { return opus_encoder_ctl(e, OPUS_SET_SIGNAL(OPUS_SIGNAL_VOICE)); }
static int earshot_opus_set_inband_fec(OpusEncoder *e, opus_int32 v) { return opus_encoder_ctl(e, OPUS_SET_INBAND_FEC(v)); }
static int earshot_opus_set_packet_loss(OpusEncoder *e, opus_int32 v) { return opus_encoder_ctl(e, OPUS_SET_PACKET_LOSS_PERC(v)); }
static int earshot_opus_reset(OpusEncoder *e) { return opus_encoder_ctl(e, OPUS_RESET_STATE); }
*/
import "C"

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"unsafe"
)

// ClockRate is the RTP clock of Opus, whatever the coded bandwidth.
const ClockRate = 48000

// FrameMs is the frame length Encode takes.
const FrameMs = 20

// ClockStep is the RTP timestamp increment per 20 ms frame.
const ClockStep = ClockRate * FrameMs / 1000

// MaxPacket bounds one encoded packet (libopus' own recommendation for a
// caller's buffer; a 20 ms voice packet is some 40-120 bytes).
const MaxPacket = 4000

// Config sets up an Encoder.
type Config struct {
	// SampleRate is the rate of the PCM given to Encode: 8000, 12000,
	// 16000, 24000 or 48000.
	SampleRate int
	// Bitrate in bits per second, 6000..510000. Voice at 16 kHz is clear
	// at 24-32 kb/s.
	Bitrate int
	// Complexity trades CPU for quality, 0..10.
	Complexity int
	// PacketLossPercent is the loss the encoder plans for with in-band
	// forward error correction (0 turns FEC off), 0..100.
	PacketLossPercent int
}

// DefaultConfig is mono voice at 16 kHz, 32 kb/s, complexity 5, in-band FEC
// for 5 % loss.
func DefaultConfig() Config {
	return Config{SampleRate: 16000, Bitrate: 32000, Complexity: 5, PacketLossPercent: 5}
}

// Validate reports the first field out of range.
func (c Config) Validate() error {
	switch c.SampleRate {
	case 8000, 12000, 16000, 24000, 48000:
	default:
		return fmt.Errorf("opus: sample_rate %d: want 8000, 12000, 16000, 24000 or 48000", c.SampleRate)
	}
	if c.Bitrate < 6000 || c.Bitrate > 510000 {
		return fmt.Errorf("opus: bitrate %d: want 6000..510000", c.Bitrate)
	}
	if c.Complexity < 0 || c.Complexity > 10 {
		return fmt.Errorf("opus: complexity %d: want 0..10", c.Complexity)
	}
	if c.PacketLossPercent < 0 || c.PacketLossPercent > 100 {
		return fmt.Errorf("opus: packet_loss_percent %d: want 0..100", c.PacketLossPercent)
	}
	return nil
}

// ErrClosed is returned by Encode after Close.
var ErrClosed = errors.New("opus: encoder closed")

// Encoder is one mono libopus encoder (application VoIP, voice signal). It
// keeps state between frames, so use one per stream; it is not safe for
// concurrent use. Close frees the C state.
type Encoder struct {
	st    *C.OpusEncoder
	frame int // samples per 20 ms frame
}

// NewEncoder returns an encoder for cfg.
func NewEncoder(cfg Config) (*Encoder, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	var cerr C.int
	st := C.opus_encoder_create(C.opus_int32(cfg.SampleRate), 1, C.OPUS_APPLICATION_VOIP, &cerr)
	if cerr != C.OPUS_OK || st == nil {
		return nil, fmt.Errorf("opus: create encoder: %w", libErr(cerr))
	}
	e := &Encoder{st: st, frame: cfg.SampleRate * FrameMs / 1000}
	for _, set := range []struct {
		name string
		rc   C.int
	}{
		{"bitrate", C.earshot_opus_set_bitrate(st, C.opus_int32(cfg.Bitrate))},
		{"complexity", C.earshot_opus_set_complexity(st, C.opus_int32(cfg.Complexity))},
		{"signal", C.earshot_opus_set_signal_voice(st)},
		{"inband_fec", C.earshot_opus_set_inband_fec(st, C.opus_int32(min(cfg.PacketLossPercent, 1)))},
		{"packet_loss", C.earshot_opus_set_packet_loss(st, C.opus_int32(cfg.PacketLossPercent))},
	} {
		if set.rc != C.OPUS_OK {
			e.Close()
			return nil, fmt.Errorf("opus: set %s: %w", set.name, libErr(set.rc))
		}
	}
	return e, nil
}

// FrameSamples is the length of the frame Encode takes (20 ms at the
// encoder's rate).
func (e *Encoder) FrameSamples() int { return e.frame }

// Encode appends the packet of one 20 ms frame of PCM (exactly
// FrameSamples samples) to dst.
func (e *Encoder) Encode(dst []byte, pcm []int16) ([]byte, error) {
	if e.st == nil {
		return dst, ErrClosed
	}
	if len(pcm) != e.frame {
		return dst, fmt.Errorf("opus: encode: frame of %d samples, want %d (20 ms)", len(pcm), e.frame)
	}
	dst = slices.Grow(dst, MaxPacket)
	out := dst[len(dst) : len(dst)+MaxPacket]
	n := C.opus_encode(e.st, (*C.opus_int16)(unsafe.Pointer(&pcm[0])), C.int(e.frame),
		(*C.uchar)(unsafe.Pointer(&out[0])), C.opus_int32(MaxPacket))
	runtime.KeepAlive(pcm)
	if n < 0 {
		return dst, fmt.Errorf("opus: encode: %w", libErr(n))
	}
	return dst[:len(dst)+int(n)], nil
}

// Reset forgets the signal so far (a new talkspurt after a long pause can
// start afresh); the settings stay.
func (e *Encoder) Reset() error {
	if e.st == nil {
		return ErrClosed
	}
	if rc := C.earshot_opus_reset(e.st); rc != C.OPUS_OK {
		return fmt.Errorf("opus: reset: %w", libErr(rc))
	}
	return nil
}

// Close frees the encoder; it may be called more than once.
func (e *Encoder) Close() {
	if e.st != nil {
		C.opus_encoder_destroy(e.st)
		e.st = nil
	}
}

// Version is libopus' version string (for start-up logs).
func Version() string { return C.GoString(C.opus_get_version_string()) }

func libErr(rc C.int) error { return errors.New(C.GoString(C.opus_strerror(rc))) }
