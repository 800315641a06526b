// Package wav parses RIFF/WAVE files as uploaded for post-call processing:
// 8- and 16-bit linear PCM, G.711 mu-law and A-law, one or more channels,
// any rate from 8 to 192 kHz (the pipeline resamples to 16 kHz). The parser
// checks every header field against the others and against the file size,
// and returns errors that name the field; it never panics on bad input
// (see FuzzParse).
package wav

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/earshot/earshot/media/codec"
)

// Errors wrapped by Parse, for counting by cause.
var (
	ErrNotWAV    = errors.New("wav: not a RIFF/WAVE file")
	ErrTruncated = errors.New("wav: truncated")
	ErrHeader    = errors.New("wav: inconsistent header")
	ErrFormat    = errors.New("wav: unsupported format")
)

// Encoding is the sample encoding of the data chunk.
type Encoding int

// Encodings.
const (
	PCM Encoding = iota + 1
	Mulaw
	Alaw
)

func (e Encoding) String() string {
	switch e {
	case PCM:
		return "pcm"
	case Mulaw:
		return "mulaw"
	case Alaw:
		return "alaw"
	}
	return "unknown"
}

// Format is the parsed fmt chunk.
type Format struct {
	Encoding      Encoding
	SampleRate    int
	Channels      int
	BitsPerSample int
}

// File is a parsed WAV file. Data aliases the input.
type File struct {
	Format
	Data []byte
}

const (
	tagPCM        = 1
	tagALaw       = 6
	tagMuLaw      = 7
	tagExtensible = 0xFFFE
	maxChannels   = 8
)

// Parse parses a whole WAV file held in memory.
func Parse(b []byte) (*File, error) {
	if len(b) < 12 {
		return nil, fmt.Errorf("%w: %d bytes, shorter than the RIFF header", ErrTruncated, len(b))
	}
	if string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return nil, ErrNotWAV
	}
	riffSize := int64(binary.LittleEndian.Uint32(b[4:8]))
	if riffSize < 4 {
		return nil, fmt.Errorf("%w: RIFF size %d", ErrHeader, riffSize)
	}
	var (
		f       File
		haveFmt bool
	)
	off := 12
	for {
		if off+8 > len(b) {
			if haveFmt {
				return nil, fmt.Errorf("%w: no data chunk", ErrTruncated)
			}
			return nil, fmt.Errorf("%w: no fmt chunk", ErrTruncated)
		}
		id := string(b[off : off+4])
		size := int64(binary.LittleEndian.Uint32(b[off+4 : off+8]))
		body := off + 8
		switch id {
		case "fmt ":
			if size < 16 {
				return nil, fmt.Errorf("%w: fmt chunk size %d, want at least 16", ErrHeader, size)
			}
			if int64(body)+size > int64(len(b)) {
				return nil, fmt.Errorf("%w: fmt chunk of %d bytes, %d left", ErrTruncated, size, len(b)-body)
			}
			if err := f.parseFmt(b[body : body+int(size)]); err != nil {
				return nil, err
			}
			haveFmt = true
		case "data":
			if !haveFmt {
				return nil, fmt.Errorf("%w: data chunk before fmt chunk", ErrHeader)
			}
			left := int64(len(b) - body)
			switch {
			case size == 0xFFFFFFFF:
				size = left // streaming writers that never patched the size
			case size > left:
				return nil, fmt.Errorf("%w: data chunk size %d, only %d bytes present", ErrTruncated, size, left)
			}
			align := int64(f.Channels * f.BitsPerSample / 8)
			if size%align != 0 {
				return nil, fmt.Errorf("%w: data chunk size %d is not a multiple of block_align %d", ErrHeader, size, align)
			}
			f.Data = b[body : body+int(size)]
			return &f, nil
		}
		if int64(body)+size > int64(len(b)) {
			return nil, fmt.Errorf("%w: %q chunk of %d bytes, %d left", ErrTruncated, id, size, len(b)-body)
		}
		off = body + int(size) + int(size&1)
	}
}

func (f *File) parseFmt(c []byte) error {
	tag := binary.LittleEndian.Uint16(c[0:2])
	ch := int(binary.LittleEndian.Uint16(c[2:4]))
	rate := int(binary.LittleEndian.Uint32(c[4:8]))
	byteRate := int64(binary.LittleEndian.Uint32(c[8:12]))
	align := int(binary.LittleEndian.Uint16(c[12:14]))
	bits := int(binary.LittleEndian.Uint16(c[14:16]))
	if tag == tagExtensible {
		if len(c) < 40 {
			return fmt.Errorf("%w: extensible fmt chunk of %d bytes, want 40", ErrHeader, len(c))
		}
		tag = binary.LittleEndian.Uint16(c[24:26]) // first two bytes of the sub-format GUID
	}
	switch tag {
	case tagPCM:
		f.Encoding = PCM
		if bits != 8 && bits != 16 {
			return fmt.Errorf("%w: PCM bits_per_sample %d (want 8 or 16)", ErrFormat, bits)
		}
	case tagMuLaw, tagALaw:
		f.Encoding = Mulaw
		if tag == tagALaw {
			f.Encoding = Alaw
		}
		if bits != 8 {
			return fmt.Errorf("%w: G.711 bits_per_sample %d, want 8", ErrHeader, bits)
		}
	default:
		return fmt.Errorf("%w: format tag %#04x (want PCM, mu-law or A-law)", ErrFormat, tag)
	}
	switch {
	case ch < 1 || ch > maxChannels:
		return fmt.Errorf("%w: channels %d (want 1..%d)", ErrHeader, ch, maxChannels)
	case rate < 8000 || rate > 192000:
		return fmt.Errorf("%w: sample_rate %d (want 8000..192000)", ErrHeader, rate)
	case align != ch*bits/8:
		return fmt.Errorf("%w: block_align %d, want channels*bits/8 = %d", ErrHeader, align, ch*bits/8)
	case byteRate != int64(rate)*int64(align):
		return fmt.Errorf("%w: byte_rate %d, want sample_rate*block_align = %d", ErrHeader, byteRate, int64(rate)*int64(align))
	}
	f.SampleRate, f.Channels, f.BitsPerSample = rate, ch, bits
	return nil
}

// Frames returns the number of sample frames.
func (f *File) Frames() int { return len(f.Data) / (f.Channels * f.BitsPerSample / 8) }

// DurationMs returns the audio duration in milliseconds.
func (f *File) DurationMs() int64 { return int64(f.Frames()) * 1000 / int64(f.SampleRate) }

// Samples decodes the data chunk to interleaved 16-bit PCM.
func (f *File) Samples() []int16 {
	out := make([]int16, 0, len(f.Data)*8/f.BitsPerSample)
	switch {
	case f.Encoding == Mulaw:
		for _, v := range f.Data {
			out = append(out, codec.MulawToLinear(v))
		}
	case f.Encoding == Alaw:
		for _, v := range f.Data {
			out = append(out, codec.AlawToLinear(v))
		}
	case f.BitsPerSample == 8:
		for _, v := range f.Data {
			out = append(out, int16(int(v)-128)<<8)
		}
	default:
		for i := 0; i+1 < len(f.Data); i += 2 {
			out = append(out, int16(binary.LittleEndian.Uint16(f.Data[i:])))
		}
	}
	return out
}

// Encode returns a canonical WAV file for f.Format holding data.
func Encode(fm Format, data []byte) []byte {
	tag := uint16(tagPCM)
	switch fm.Encoding {
	case Mulaw:
		tag = tagMuLaw
	case Alaw:
		tag = tagALaw
	}
	align := fm.Channels * fm.BitsPerSample / 8
	b := make([]byte, 0, 44+len(data))
	b = append(b, "RIFF"...)
	b = binary.LittleEndian.AppendUint32(b, uint32(36+len(data)))
	b = append(b, "WAVEfmt "...)
	b = binary.LittleEndian.AppendUint32(b, 16)
	b = binary.LittleEndian.AppendUint16(b, tag)
	b = binary.LittleEndian.AppendUint16(b, uint16(fm.Channels))
	b = binary.LittleEndian.AppendUint32(b, uint32(fm.SampleRate))
	b = binary.LittleEndian.AppendUint32(b, uint32(fm.SampleRate*align))
	b = binary.LittleEndian.AppendUint16(b, uint16(align))
	b = binary.LittleEndian.AppendUint16(b, uint16(fm.BitsPerSample))
	b = append(b, "data"...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(data)))
	return append(b, data...)
}
