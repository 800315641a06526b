package whip

import (
	"fmt"
	"time"

	"github.com/earshot/earshot/inference"
	"github.com/pion/opus"
	"github.com/pion/rtp"
)

// opusOutRate is the rate Opus is decoded to: the recogniser's rate.
const opusOutRate = 16000

// maxOpusSamples is 120 ms (the longest Opus packet) at opusOutRate.
const maxOpusSamples = opusOutRate * 120 / 1000

// stream turns the RTP packets of one track into PCM chunks: it orders
// nothing (a late packet is dropped), counts losses, and fills gaps in the
// RTP timeline with silence. It is not safe for concurrent use.
type stream struct {
	party      inference.Party
	codec      string
	clockRate  uint32 // RTP clock
	outRate    int    // PCM rate
	maxPayload int
	maxGap     time.Duration
	m          *metrics

	dec     opus.Decoder
	buf     []int16
	started bool
	highSeq uint16
	nextTS  uint32 // RTP timestamp just after the last decoded audio
}

func newStream(party inference.Party, codec string, cfg Config, m *metrics) (*stream, error) {
	s := &stream{party: party, codec: codec, maxPayload: cfg.MaxPayloadBytes, maxGap: cfg.MaxGap, m: m}
	switch codec {
	case CodecOpus:
		s.clockRate, s.outRate = 48000, opusOutRate
		d, err := opus.NewDecoderWithOutput(opusOutRate, 1)
		if err != nil {
			return nil, fmt.Errorf("whip: opus decoder: %w", err)
		}
		s.dec = d
		s.buf = make([]int16, maxOpusSamples)
	case CodecPCMU, CodecPCMA:
		s.clockRate, s.outRate = 8000, 8000
	default:
		return nil, fmt.Errorf("whip: codec %q not supported", codec)
	}
	return s, nil
}

// push processes one packet and passes the resulting chunks to emit.
func (s *stream) push(p *rtp.Packet, emit func(Chunk)) {
	s.m.packets.WithLabelValues(s.codec).Inc()
	if s.started {
		d := int16(p.SequenceNumber - s.highSeq)
		switch {
		case d <= 0:
			s.m.late.WithLabelValues(s.codec).Inc()
			return
		case d > 1 && d < 3000:
			s.m.lost.WithLabelValues(s.codec).Add(float64(d - 1))
		}
		s.highSeq = p.SequenceNumber
	} else {
		s.started = true
		s.highSeq = p.SequenceNumber
		s.nextTS = p.Timestamp
	}
	// A dropped packet leaves a gap that the next good packet fills.
	switch {
	case len(p.Payload) == 0:
		s.m.dropped.WithLabelValues(s.codec, "empty").Inc()
		return
	case len(p.Payload) > s.maxPayload:
		s.m.dropped.WithLabelValues(s.codec, "oversized").Inc()
		return
	}
	if gap := int32(p.Timestamp - s.nextTS); gap > 0 {
		s.fill(uint32(gap), p, emit)
	}
	pcm, err := s.decode(p.Payload)
	if err != nil {
		// The next packet's timestamp gap turns this one into silence.
		s.m.decodeErrors.WithLabelValues(s.codec).Inc()
		return
	}
	s.nextTS = p.Timestamp + uint32(len(pcm))*s.clockRate/uint32(s.outRate)
	s.m.audioSeconds.WithLabelValues("whip", s.codec).Add(float64(len(pcm)) / float64(s.outRate))
	emit(Chunk{Party: s.party, Codec: s.codec, SampleRate: s.outRate, PCM: pcm,
		RTPTimestamp: p.Timestamp, Seq: p.SequenceNumber})
}

// fill emits silence for a gap of gap RTP clock ticks, at most maxGap.
func (s *stream) fill(gap uint32, p *rtp.Packet, emit func(Chunk)) {
	n := int64(gap) * int64(s.outRate) / int64(s.clockRate)
	if limit := int64(s.maxGap.Seconds() * float64(s.outRate)); n > limit {
		n = limit
	}
	if n <= 0 {
		return
	}
	s.m.gaps.WithLabelValues(s.codec).Inc()
	s.m.silenceSecs.WithLabelValues(s.codec).Add(float64(n) / float64(s.outRate))
	for n > 0 {
		k := min(n, int64(s.outRate)) // at most one second per chunk
		emit(Chunk{Party: s.party, Codec: s.codec, SampleRate: s.outRate, PCM: make([]int16, k),
			RTPTimestamp: p.Timestamp, Seq: p.SequenceNumber, Silence: true})
		n -= k
	}
}

func (s *stream) decode(payload []byte) ([]int16, error) {
	switch s.codec {
	case CodecOpus:
		n, err := s.dec.DecodeToInt16(payload, s.buf)
		if err != nil {
			return nil, err
		}
		if n <= 0 {
			return nil, fmt.Errorf("whip: opus packet decoded to %d samples", n)
		}
		return append([]int16(nil), s.buf[:n]...), nil
	case CodecPCMU:
		out := make([]int16, len(payload))
		for i, b := range payload {
			out[i] = ulawToLinear(b)
		}
		return out, nil
	default: // CodecPCMA
		out := make([]int16, len(payload))
		for i, b := range payload {
			out[i] = alawToLinear(b)
		}
		return out, nil
	}
}
