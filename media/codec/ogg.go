package codec

import (
	"errors"
	"fmt"
	"io"

	"github.com/pion/opus/pkg/oggreader"
)

// OggOpusPackets reads an Ogg Opus stream (as written by opusenc) and
// returns its audio packets, without the OpusHead/OpusTags headers.
func OggOpusPackets(r io.Reader) ([][]byte, error) {
	or, _, err := oggreader.NewWith(r)
	if err != nil {
		return nil, fmt.Errorf("codec: ogg: %w", err)
	}
	var pkts [][]byte
	var cur []byte
	for {
		segs, _, err := or.ParseNextPage()
		if errors.Is(err, io.EOF) {
			return pkts, nil
		}
		if err != nil {
			return pkts, fmt.Errorf("codec: ogg: %w", err)
		}
		// Lacing: a packet ends with a segment shorter than 255 bytes.
		for _, s := range segs {
			cur = append(cur, s...)
			if len(s) == 255 {
				continue
			}
			if len(cur) > 0 && !(len(cur) >= 8 && (string(cur[:8]) == "OpusHead" || string(cur[:8]) == "OpusTags")) {
				pkts = append(pkts, cur)
			}
			cur = nil
		}
	}
}
