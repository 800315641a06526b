package codec

// The G.711 tables are built once from the ITU-T G.711 segment rules
// (the reference algorithm of the Sun/CCITT g711.c).
var (
	ulawTable [256]int16
	alawTable [256]int16
)

func init() {
	for i := range 256 {
		ulawTable[i] = ulawToLinear(byte(i))
		alawTable[i] = alawToLinear(byte(i))
	}
}

func ulawToLinear(u byte) int16 {
	u = ^u
	t := (int(u&0x0f) << 3) + 0x84
	t <<= (u & 0x70) >> 4
	if u&0x80 != 0 {
		return int16(0x84 - t)
	}
	return int16(t - 0x84)
}

func alawToLinear(a byte) int16 {
	a ^= 0x55
	t := int(a&0x0f) << 4
	seg := int(a&0x70) >> 4
	switch seg {
	case 0:
		t += 8
	case 1:
		t += 0x108
	default:
		t += 0x108
		t <<= seg - 1
	}
	if a&0x80 != 0 {
		return int16(t)
	}
	return int16(-t)
}

// MulawToLinear decodes one G.711 mu-law byte.
func MulawToLinear(u byte) int16 { return ulawTable[u] }

// AlawToLinear decodes one G.711 A-law byte.
func AlawToLinear(a byte) int16 { return alawTable[a] }

var segUEnd = [8]int{0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF}
var segAEnd = [8]int{0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF}

func segment(v int, ends *[8]int) int {
	for i, e := range ends {
		if v <= e {
			return i
		}
	}
	return 8
}

// LinearToMulaw encodes one 16-bit sample as G.711 mu-law.
func LinearToMulaw(s int16) byte {
	v := int(s) >> 2
	mask := 0xFF
	if v < 0 {
		v = -v
		mask = 0x7F
	}
	if v > 8159 {
		v = 8159
	}
	v += 0x84 >> 2
	seg := segment(v, &segUEnd)
	if seg >= 8 {
		return byte(0x7F ^ mask)
	}
	return byte(((seg << 4) | ((v >> (seg + 1)) & 0xF)) ^ mask)
}

// LinearToAlaw encodes one 16-bit sample as G.711 A-law.
func LinearToAlaw(s int16) byte {
	v := int(s) >> 3
	mask := 0xD5
	if v < 0 {
		mask = 0x55
		v = -v - 1
	}
	seg := segment(v, &segAEnd)
	if seg >= 8 {
		return byte(0x7F ^ mask)
	}
	a := seg << 4
	if seg < 2 {
		a |= (v >> 1) & 0xF
	} else {
		a |= (v >> seg) & 0xF
	}
	return byte(a ^ mask)
}

// EncodeMulaw appends the mu-law encoding of pcm to dst.
func EncodeMulaw(dst []byte, pcm []int16) []byte {
	for _, s := range pcm {
		dst = append(dst, LinearToMulaw(s))
	}
	return dst
}

// EncodeAlaw appends the A-law encoding of pcm to dst.
func EncodeAlaw(dst []byte, pcm []int16) []byte {
	for _, s := range pcm {
		dst = append(dst, LinearToAlaw(s))
	}
	return dst
}
