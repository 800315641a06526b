package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// Segments are the bulk of what the store writes, so they are encoded in a
// compact binary form (about a third of their JSON size) before sealing:
//
//	version (1) = 1
//	seq, start_ms, end_ms: uvarint, uvarint, varint (end - start)
//	flags (1): bit 0 final
//	speaker, text: uvarint length | bytes
//	words: uvarint count, then per word: uvarint length | text,
//	       varint start (relative to the previous word's end, the first to
//	       the segment start), varint duration, float32 confidence (bits)
//
// Version 2 appends a chat message's language and translations:
//
//	lang: uvarint length | bytes
//	translations: uvarint count, then per translation the strings lang,
//	       text, engine, pivot and notice (uvarint length | bytes)
//
// A segment without language or translations is still written as version 1.
//
// The engagement ID is not encoded: it is the key's prefix.
const (
	segCodecVersion  = 1
	segCodecVersion2 = 2
	maxTranslations  = 8
)

var errSegCodec = errors.New("store: malformed segment encoding")

func encodeSegment(g Segment) []byte {
	b := make([]byte, 0, 32+len(g.Speaker)+len(g.Text)+len(g.Words)*12)
	version := byte(segCodecVersion)
	if g.Lang != "" || len(g.Translations) > 0 {
		version = segCodecVersion2
	}
	b = append(b, version)
	b = binary.AppendUvarint(b, uint64(g.Seq))
	b = binary.AppendVarint(b, g.StartMs)
	b = binary.AppendVarint(b, g.EndMs-g.StartMs)
	var flags byte
	if g.Final {
		flags |= 1
	}
	b = append(b, flags)
	b = appendString(b, g.Speaker)
	b = appendString(b, g.Text)
	b = binary.AppendUvarint(b, uint64(len(g.Words)))
	prev := g.StartMs
	for _, w := range g.Words {
		b = appendString(b, w.Text)
		b = binary.AppendVarint(b, w.StartMs-prev)
		b = binary.AppendVarint(b, w.EndMs-w.StartMs)
		b = binary.BigEndian.AppendUint32(b, math.Float32bits(w.Confidence))
		prev = w.EndMs
	}
	if version == segCodecVersion2 {
		b = appendString(b, g.Lang)
		b = binary.AppendUvarint(b, uint64(len(g.Translations)))
		for _, t := range g.Translations {
			for _, s := range []string{t.Lang, t.Text, t.Engine, t.Pivot, t.Notice} {
				b = appendString(b, s)
			}
		}
	}
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

type segReader struct {
	b   []byte
	err error
}

func (r *segReader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errSegCodec
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *segReader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = errSegCodec
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *segReader) bytes(n uint64) []byte {
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.err = errSegCodec
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}

func (r *segReader) string() string { return string(r.bytes(r.uvarint())) }

func decodeSegment(b []byte, engagement string) (Segment, error) {
	if len(b) == 0 || (b[0] != segCodecVersion && b[0] != segCodecVersion2) {
		return Segment{}, fmt.Errorf("%w: unknown version", errSegCodec)
	}
	r := &segReader{b: b[1:]}
	g := Segment{Engagement: engagement}
	seq := r.uvarint()
	if seq > math.MaxUint32 {
		return Segment{}, fmt.Errorf("%w: sequence out of range", errSegCodec)
	}
	g.Seq = uint32(seq)
	g.StartMs = r.varint()
	g.EndMs = g.StartMs + r.varint()
	flags := r.bytes(1)
	if len(flags) == 1 {
		g.Final = flags[0]&1 != 0
	}
	g.Speaker = r.string()
	g.Text = r.string()
	n := r.uvarint()
	if r.err == nil && n > uint64(len(r.b)) { // every word takes at least 7 bytes
		return Segment{}, fmt.Errorf("%w: word count %d", errSegCodec, n)
	}
	prev := g.StartMs
	for i := uint64(0); i < n && r.err == nil; i++ {
		var w Word
		w.Text = r.string()
		w.StartMs = prev + r.varint()
		w.EndMs = w.StartMs + r.varint()
		c := r.bytes(4)
		if len(c) == 4 {
			w.Confidence = math.Float32frombits(binary.BigEndian.Uint32(c))
		}
		prev = w.EndMs
		g.Words = append(g.Words, w)
	}
	if b[0] == segCodecVersion2 {
		g.Lang = r.string()
		n := r.uvarint()
		if r.err == nil && n > maxTranslations {
			return Segment{}, fmt.Errorf("%w: %d translations", errSegCodec, n)
		}
		for i := uint64(0); i < n && r.err == nil; i++ {
			var t Translation
			for _, f := range []*string{&t.Lang, &t.Text, &t.Engine, &t.Pivot, &t.Notice} {
				*f = r.string()
			}
			g.Translations = append(g.Translations, t)
		}
	}
	if r.err != nil {
		return Segment{}, r.err
	}
	if len(r.b) != 0 {
		return Segment{}, fmt.Errorf("%w: %d trailing bytes", errSegCodec, len(r.b))
	}
	return g, nil
}
