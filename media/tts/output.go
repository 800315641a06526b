package tts

import (
	"errors"
	"fmt"
	"strings"

	"github.com/earshot/earshot/media/audio"
)

// ErrEmpty is returned for a request with nothing to say.
var ErrEmpty = errors.New("tts: empty text")

// CheckRequest checks what every engine needs of a request: a rate of
// 8000 or 16000 and some text.
func CheckRequest(req Request) error {
	if req.Rate != 8000 && req.Rate != 16000 {
		return fmt.Errorf("tts: rate must be 8000 or 16000, got %d", req.Rate)
	}
	if strings.TrimSpace(req.Text) == "" {
		return ErrEmpty
	}
	return nil
}

// Output adapts an engine's samples at its native rate to the requested
// rate and hands them on in chunks of at least 40 ms (the last may be
// shorter), each a fresh slice the receiver may keep. It is not safe for
// concurrent use.
type Output struct {
	rs  *audio.Resampler
	fn  func([]int16) error
	buf []int16
	min int
	n   int64 // samples handed on
}

// NewOutput returns an Output from inRate to outRate calling fn.
func NewOutput(inRate, outRate int, fn func([]int16) error) (*Output, error) {
	o := &Output{fn: fn, min: outRate / 25}
	if inRate != outRate {
		rs, err := audio.NewResampler(inRate, outRate)
		if err != nil {
			return nil, fmt.Errorf("tts: %w", err)
		}
		o.rs = rs
	}
	return o, nil
}

// Write takes samples at the native rate.
func (o *Output) Write(pcm []int16) error {
	if o.rs != nil {
		o.buf = o.rs.Process(o.buf, pcm)
	} else {
		o.buf = append(o.buf, pcm...)
	}
	if len(o.buf) >= o.min {
		return o.emit()
	}
	return nil
}

// Flush hands on what is left (the resampler's tail included).
func (o *Output) Flush() error {
	if o.rs != nil {
		o.buf = o.rs.Flush(o.buf)
	}
	if len(o.buf) == 0 {
		return nil
	}
	return o.emit()
}

// Samples returns how many samples (at the output rate) were handed on.
func (o *Output) Samples() int64 { return o.n }

func (o *Output) emit() error {
	chunk := make([]int16, len(o.buf))
	copy(chunk, o.buf)
	o.buf = o.buf[:0]
	o.n += int64(len(chunk))
	return o.fn(chunk)
}
