package whip

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/earshot/earshot/media/codec"
	"github.com/earshot/earshot/media/ingest"
	"github.com/pion/sdp/v3"
)

// errNoCodec marks an offer without any audio codec the server decodes.
var errNoCodec = errors.New("whip: no supported audio codec offered (opus/48000/2, PCMU/8000, PCMA/8000)")

// audioSection is an audio m-section of an offer.
type audioSection struct {
	mid      string
	streamID string
	trackID  string
	codecs   []codec.Codec // supported codecs offered, in offer order
	pts      []uint8       // their payload types
	party    ingest.Party
}

// parseOffer checks an SDP offer and returns its audio m-sections with their
// parties. Errors wrapping errNoCodec mean 415; other errors 400.
func parseOffer(body []byte, q url.Values) ([]audioSection, error) {
	var sd sdp.SessionDescription
	if err := sd.Unmarshal(body); err != nil {
		return nil, fmt.Errorf("whip: malformed SDP offer: %w", err)
	}
	var secs []audioSection
	for i, md := range sd.MediaDescriptions {
		if md.MediaName.Media != "audio" || md.MediaName.Port.Value == 0 {
			continue
		}
		mid, _ := md.Attribute("mid")
		if mid == "" {
			return nil, fmt.Errorf("whip: audio m-section %d has no a=mid", i)
		}
		s := audioSection{mid: mid}
		if msid, ok := md.Attribute("msid"); ok {
			f := strings.Fields(msid)
			if len(f) > 0 {
				s.streamID = f[0]
			}
			if len(f) > 1 {
				s.trackID = f[1]
			}
		}
		s.codecs, s.pts = offeredCodecs(md)
		if len(s.codecs) == 0 {
			continue // answered as rejected
		}
		secs = append(secs, s)
	}
	if len(secs) == 0 {
		if !hasAudio(&sd) {
			return nil, fmt.Errorf("whip: offer has no audio m-section: %w", errNoCodec)
		}
		return nil, errNoCodec
	}
	if len(secs) > 2 {
		return nil, fmt.Errorf("whip: offer has %d audio m-sections, at most 2 (customer, agent) are accepted", len(secs))
	}
	if err := assignParties(secs, q); err != nil {
		return nil, err
	}
	return secs, nil
}

// offeredCodecs lists the supported codecs of an m-section in offer order,
// with their payload types.
func offeredCodecs(md *sdp.MediaDescription) ([]codec.Codec, []uint8) {
	names := map[string]codec.Codec{"0": codec.PCMU, "8": codec.PCMA} // static payload types
	for _, a := range md.Attributes {
		if a.Key != "rtpmap" {
			continue
		}
		pt, enc, ok := strings.Cut(a.Value, " ")
		if !ok {
			continue
		}
		switch strings.ToLower(enc) {
		case "opus/48000/2", "opus/48000":
			names[pt] = codec.Opus
		case "pcmu/8000", "pcmu/8000/1":
			names[pt] = codec.PCMU
		case "pcma/8000", "pcma/8000/1":
			names[pt] = codec.PCMA
		default:
			names[pt] = ""
		}
	}
	var out []codec.Codec
	var pts []uint8
	for _, f := range md.MediaName.Formats {
		pt, err := strconv.ParseUint(f, 10, 7)
		if c := names[f]; c != "" && err == nil && !slices.Contains(out, c) {
			out = append(out, c)
			pts = append(pts, uint8(pt))
		}
	}
	return out, pts
}

func hasAudio(sd *sdp.SessionDescription) bool {
	for _, md := range sd.MediaDescriptions {
		if md.MediaName.Media == "audio" && md.MediaName.Port.Value != 0 {
			return true
		}
	}
	return false
}

// assignParties applies the rules documented on Opener.
func assignParties(secs []audioSection, q url.Values) error {
	for i := range secs {
		s := &secs[i]
		for _, key := range []string{s.mid, s.streamID, s.trackID} {
			if key == "" {
				continue
			}
			if v := q.Get("party." + key); v != "" {
				p, err := ingest.ParseParty(v)
				if err != nil {
					return fmt.Errorf("query parameter party.%s: %w", key, err)
				}
				s.party = p
				break
			}
		}
		if s.party != "" {
			continue
		}
		ids := strings.ToLower(s.streamID + " " + s.trackID)
		switch {
		case strings.Contains(ids, "customer"):
			s.party = ingest.PartyCustomer
		case strings.Contains(ids, "agent"):
			s.party = ingest.PartyAgent
		}
	}
	switch len(secs) {
	case 1:
		if secs[0].party == "" {
			secs[0].party = ingest.PartyMixed
			if v := q.Get("party"); v != "" {
				p, err := ingest.ParseParty(v)
				if err != nil {
					return fmt.Errorf("query parameter party: %w", err)
				}
				secs[0].party = p
			}
		}
	case 2:
		a, b := &secs[0], &secs[1]
		switch {
		case a.party == "" && b.party == "":
			a.party, b.party = ingest.PartyCustomer, ingest.PartyAgent
		case a.party == "":
			a.party = b.party.Other()
		case b.party == "":
			b.party = a.party.Other()
		}
		if a.party == b.party || a.party == ingest.PartyMixed || b.party == ingest.PartyMixed {
			return fmt.Errorf("whip: two audio tracks need parties customer and agent, got %s and %s", a.party, b.party)
		}
	}
	return nil
}

// twoWayOffer checks an offer for a two-way (bot) session, one audio
// track, and keeps the one codec the call uses: Opus when offered (wideband,
// what browsers prefer), else PCMU, else PCMA.
func twoWayOffer(secs []audioSection) error {
	if len(secs) != 1 {
		return fmt.Errorf("whip: a voice call has one audio track, the offer has %d", len(secs))
	}
	sec := &secs[0]
	for _, want := range []codec.Codec{codec.Opus, codec.PCMU, codec.PCMA} {
		if i := slices.Index(sec.codecs, want); i >= 0 {
			sec.codecs = []codec.Codec{want}
			sec.pts = []uint8{sec.pts[i]}
			return nil
		}
	}
	return errNoCodec
}
