package audio

import (
	"encoding/binary"
	"math"
)

// Channel appends to dst the samples of channel ch (0-based) of the
// interleaved buffer src with the given channel count.
func Channel(dst, src []int16, channels, ch int) []int16 {
	if channels <= 1 {
		return append(dst, src...)
	}
	for i := ch; i < len(src); i += channels {
		dst = append(dst, src[i])
	}
	return dst
}

// Downmix appends to dst the average of the channels of the interleaved
// buffer src.
func Downmix(dst, src []int16, channels int) []int16 {
	if channels <= 1 {
		return append(dst, src...)
	}
	for i := 0; i+channels <= len(src); i += channels {
		var s int32
		for c := range channels {
			s += int32(src[i+c])
		}
		dst = append(dst, int16(s/int32(channels)))
	}
	return dst
}

// LE16 appends little-endian 16-bit samples from b to dst; a trailing odd
// byte is ignored.
func LE16(dst []int16, b []byte) []int16 {
	for i := 0; i+1 < len(b); i += 2 {
		dst = append(dst, int16(binary.LittleEndian.Uint16(b[i:])))
	}
	return dst
}

// BE16 appends big-endian (network order) 16-bit samples from b to dst.
func BE16(dst []int16, b []byte) []int16 {
	for i := 0; i+1 < len(b); i += 2 {
		dst = append(dst, int16(binary.BigEndian.Uint16(b[i:])))
	}
	return dst
}

// Bytes appends the little-endian encoding of s to dst.
func Bytes(dst []byte, s []int16) []byte {
	for _, v := range s {
		dst = binary.LittleEndian.AppendUint16(dst, uint16(v))
	}
	return dst
}

// RMS returns the root-mean-square level of s in 16-bit units.
func RMS(s []int16) float64 {
	if len(s) == 0 {
		return 0
	}
	var e float64
	for _, v := range s {
		e += float64(v) * float64(v)
	}
	return math.Sqrt(e / float64(len(s)))
}
