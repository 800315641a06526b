package sip

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"strconv"
	"strings"

	"github.com/pion/sdp/v3"

	"github.com/earshot/earshot/media/ingest"
)

// maxBodyBytes bounds an INVITE body.
const maxBodyBytes = 64 << 10

// Body errors; the server maps them to SIP responses.
var (
	// errMediaType: the body is neither SDP nor multipart with SDP (415).
	errMediaType = errors.New("sip: unsupported body")
	// errBadBody: a malformed SDP, multipart or metadata part (400).
	errBadBody = errors.New("sip: malformed body")
	// errNoAudio: no usable audio stream, or no supported codec (488).
	errNoAudio = errors.New("sip: no acceptable audio stream")
)

// offerBody is an INVITE body split into its SDP and recording metadata.
type offerBody struct {
	sdp      []byte
	metadata []byte // nil without an rs-metadata part
}

// splitBody reads an INVITE body of the given Content-Type: bare SDP or
// multipart/mixed with an application/sdp part and an optional
// application/rs-metadata+xml part.
func splitBody(contentType string, body []byte) (offerBody, error) {
	if len(body) > maxBodyBytes {
		return offerBody{}, fmt.Errorf("%w: body larger than %d bytes", errBadBody, maxBodyBytes)
	}
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		return offerBody{}, fmt.Errorf("%w: Content-Type %q", errMediaType, contentType)
	}
	switch {
	case mt == "application/sdp":
		return offerBody{sdp: body}, nil
	case strings.HasPrefix(mt, "multipart/"):
	default:
		return offerBody{}, fmt.Errorf("%w: Content-Type %s", errMediaType, mt)
	}
	boundary := params["boundary"]
	if boundary == "" {
		return offerBody{}, fmt.Errorf("%w: multipart without a boundary", errBadBody)
	}
	var out offerBody
	mr := multipart.NewReader(bytes.NewReader(body), boundary)
	for n := 0; ; n++ {
		p, err := mr.NextRawPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return offerBody{}, fmt.Errorf("%w: multipart part %d: %v", errBadBody, n+1, err)
		}
		data, err := io.ReadAll(io.LimitReader(p, maxBodyBytes))
		if err != nil {
			return offerBody{}, fmt.Errorf("%w: multipart part %d: %v", errBadBody, n+1, err)
		}
		pt, _, err := mime.ParseMediaType(p.Header.Get("Content-Type"))
		if err != nil {
			continue // an untyped part is ignored
		}
		switch pt {
		case "application/sdp":
			if out.sdp == nil {
				// mime/multipart strips the CRLF before the boundary, which
				// ends the SDP's last line.
				if !bytes.HasSuffix(data, []byte("\n")) {
					data = append(data, '\r', '\n')
				}
				out.sdp = data
			}
		case "application/rs-metadata+xml", "application/rs-metadata":
			if out.metadata == nil {
				out.metadata = data
			}
		}
	}
	if out.sdp == nil {
		return offerBody{}, fmt.Errorf("%w: multipart body without an application/sdp part", errMediaType)
	}
	return out, nil
}

// Payload types with a static assignment (RFC 3551).
const (
	ptPCMU = 0
	ptPCMA = 8
	ptCN   = 13
)

// offerStream is one audio m-section of an offer.
type offerStream struct {
	index     int    // m-section position
	label     string // a=label, or "" (then the index names the stream)
	port      int    // 0: the offerer disabled the stream
	addr      string // connection address (media-level or session-level)
	direction string // sendonly, sendrecv, recvonly or inactive
	pt        uint8  // the chosen audio payload type (PCMU or PCMA)
	codecName string // "pcmu" or "pcma"
	dtmfPT    int    // telephone-event payload type, -1 if none
	ok        bool   // a supported codec was offered
}

// key names the stream across re-INVITEs: its label, else its position.
func (s offerStream) key() string {
	if s.label != "" {
		return "label:" + s.label
	}
	return "index:" + strconv.Itoa(s.index)
}

// held reports whether the offerer does not send on the stream.
func (s offerStream) held() bool {
	return s.direction == "recvonly" || s.direction == "inactive" || s.addr == "0.0.0.0" || s.addr == "::"
}

// onHold reports whether the offer puts the stream on hold: the offerer
// stops sending (held), or offers sendonly a stream it first offered
// sendrecv (RFC 3264 8.4; a recording's streams are sendonly throughout).
func (s offerStream) onHold(first string) bool {
	return s.held() || (first == "sendrecv" && s.direction == "sendonly")
}

// parseOffer reads the audio m-sections of an SDP offer. Non-audio
// sections are kept (rejected in the answer) so that the answer has as
// many m-lines as the offer.
func parseOffer(raw []byte) (*sdp.SessionDescription, []offerStream, error) {
	var sd sdp.SessionDescription
	if err := sd.UnmarshalString(string(raw)); err != nil {
		return nil, nil, fmt.Errorf("%w: SDP: %v", errBadBody, err)
	}
	sessAddr := ""
	if sd.ConnectionInformation != nil && sd.ConnectionInformation.Address != nil {
		sessAddr = sd.ConnectionInformation.Address.Address
	}
	sessDir := ""
	for _, a := range sd.Attributes {
		if isDirection(a.Key) {
			sessDir = a.Key
		}
	}
	var out []offerStream
	audio := 0
	for i, md := range sd.MediaDescriptions {
		if md.MediaName.Media != "audio" {
			continue
		}
		audio++
		st := offerStream{index: i, port: md.MediaName.Port.Value, addr: sessAddr, direction: "sendrecv", dtmfPT: -1}
		if sessDir != "" {
			st.direction = sessDir
		}
		if md.ConnectionInformation != nil && md.ConnectionInformation.Address != nil {
			st.addr = md.ConnectionInformation.Address.Address
		}
		rtpmap := map[int]string{}
		for _, a := range md.Attributes {
			switch {
			case a.Key == "label":
				st.label = strings.TrimSpace(a.Value)
			case isDirection(a.Key):
				st.direction = a.Key
			case a.Key == "rtpmap":
				pt, enc, ok := strings.Cut(a.Value, " ")
				if n, err := strconv.Atoi(pt); ok && err == nil {
					rtpmap[n] = strings.ToLower(enc)
				}
			}
		}
		for _, f := range md.MediaName.Formats {
			n, err := strconv.Atoi(f)
			if err != nil || n < 0 || n > 127 {
				continue
			}
			enc := rtpmap[n]
			switch {
			case !st.ok && (n == ptPCMU && enc == "" || strings.HasPrefix(enc, "pcmu/8000")):
				st.pt, st.codecName, st.ok = uint8(n), "pcmu", true
			case !st.ok && (n == ptPCMA && enc == "" || strings.HasPrefix(enc, "pcma/8000")):
				st.pt, st.codecName, st.ok = uint8(n), "pcma", true
			case strings.HasPrefix(enc, "telephone-event/8000") && st.dtmfPT < 0:
				st.dtmfPT = n
			}
		}
		if md.MediaName.Protos == nil || !strings.EqualFold(strings.Join(md.MediaName.Protos, "/"), "RTP/AVP") {
			st.ok = false // SRTP and other profiles are not supported
		}
		out = append(out, st)
	}
	if audio == 0 {
		return nil, nil, fmt.Errorf("%w: the offer has no audio m-section", errNoAudio)
	}
	return &sd, out, nil
}

func isDirection(k string) bool {
	return k == "sendonly" || k == "recvonly" || k == "sendrecv" || k == "inactive"
}

// answerStream is the server's side of one accepted audio stream.
type answerStream struct {
	port int // 0 rejects the stream
	st   offerStream
	// bot: the stream of a bot call, which sends as well as receives.
	bot bool
}

// buildAnswer writes the SDP answer: accepted audio streams recvonly on
// their port with the chosen codec (and telephone-event), everything else
// rejected with port 0.
func buildAnswer(offer *sdp.SessionDescription, ip string, sessID uint64, version uint64, accepted map[int]answerStream) []byte {
	ipv := "IP4"
	if strings.Contains(ip, ":") {
		ipv = "IP6"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "v=0\r\no=earshot %d %d IN %s %s\r\ns=earshot\r\nc=IN %s %s\r\nt=0 0\r\n", sessID, version, ipv, ip, ipv, ip)
	for i, md := range offer.MediaDescriptions {
		a, ok := accepted[i]
		if !ok || a.port == 0 {
			proto := strings.Join(md.MediaName.Protos, "/")
			if proto == "" {
				proto = "RTP/AVP"
			}
			f := "0"
			if len(md.MediaName.Formats) > 0 {
				f = md.MediaName.Formats[0]
			}
			fmt.Fprintf(&b, "m=%s 0 %s %s\r\n", md.MediaName.Media, proto, f)
			continue
		}
		name := "PCMU"
		if a.st.codecName == "pcma" {
			name = "PCMA"
		}
		if a.st.dtmfPT >= 0 {
			fmt.Fprintf(&b, "m=audio %d RTP/AVP %d %d\r\n", a.port, a.st.pt, a.st.dtmfPT)
		} else {
			fmt.Fprintf(&b, "m=audio %d RTP/AVP %d\r\n", a.port, a.st.pt)
		}
		fmt.Fprintf(&b, "a=rtpmap:%d %s/8000\r\n", a.st.pt, name)
		if a.st.dtmfPT >= 0 {
			fmt.Fprintf(&b, "a=rtpmap:%d telephone-event/8000\r\na=fmtp:%d 0-16\r\n", a.st.dtmfPT, a.st.dtmfPT)
		}
		if a.st.label != "" {
			fmt.Fprintf(&b, "a=label:%s\r\n", a.st.label)
		}
		dir := "recvonly"
		if a.st.direction == "inactive" || a.st.direction == "recvonly" {
			dir = "inactive" // the offerer sends nothing (hold)
		}
		if a.bot {
			dir = botDirection(a.st)
		}
		b.WriteString("a=" + dir + "\r\n")
	}
	return []byte(b.String())
}

// recordingMetadata is the part of an rs-metadata document (RFC 7865) the
// server uses. Unknown elements are ignored.
type recordingMetadata struct {
	XMLName  xml.Name `xml:"recording"`
	DataMode string   `xml:"datamode"`
	Sessions []struct {
		ID           string `xml:"session_id,attr"`
		SIPSessionID string `xml:"sipSessionID"`
	} `xml:"session"`
	Participants []struct {
		ID      string `xml:"participant_id,attr"`
		NameIDs []struct {
			AoR  string `xml:"aor,attr"`
			Name string `xml:"name"`
		} `xml:"nameID"`
		AoR  string `xml:"aor"`  // pre-RFC drafts
		Name string `xml:"name"` // pre-RFC drafts
	} `xml:"participant"`
	Streams []struct {
		ID      string `xml:"stream_id,attr"`
		Session string `xml:"session_id,attr"`
		Label   string `xml:"label"`
	} `xml:"stream"`
	Assocs []struct {
		Participant string   `xml:"participant_id,attr"`
		Send        []string `xml:"send"`
		Recv        []string `xml:"recv"`
	} `xml:"participantstreamassoc"`
}

// Participant is one participant of a recorded call.
type Participant struct {
	// ID is the metadata's participant_id.
	ID string `json:"id"`
	// Name and AoR are its display name and address of record.
	Name string `json:"name,omitempty"`
	AoR  string `json:"aor,omitempty"`
	// Labels are the labels of the streams it sends.
	Labels []string `json:"labels,omitempty"`
	// Party is the party it was mapped to (customer, agent), or "" when it
	// sends no stream.
	Party ingest.Party `json:"party,omitempty"`
}

// metadata is a parsed recording metadata document.
type metadata struct {
	sessionID    string
	participants []Participant
	// senders maps a stream label to the participant that sends it.
	senders map[string]int
}

// maxParticipants bounds the participants of a metadata document.
const maxParticipants = 64

// parseMetadata reads an rs-metadata document. Every stream it maps must
// be one of the offer's labels (labels, if non-nil); unknown streams and
// participants are errors naming the element.
func parseMetadata(raw []byte, labels map[string]bool) (*metadata, error) {
	var doc recordingMetadata
	dec := xml.NewDecoder(bytes.NewReader(raw))
	dec.Strict = true
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("%w: rs-metadata: %v", errBadBody, err)
	}
	if len(doc.Participants) > maxParticipants {
		return nil, fmt.Errorf("%w: rs-metadata: %d participants, at most %d", errBadBody, len(doc.Participants), maxParticipants)
	}
	m := &metadata{senders: map[string]int{}}
	for _, s := range doc.Sessions {
		if s.ID != "" {
			m.sessionID = s.ID
			break
		}
	}
	byID := map[string]int{}
	for _, p := range doc.Participants {
		if p.ID == "" {
			return nil, fmt.Errorf("%w: rs-metadata: participant without participant_id", errBadBody)
		}
		if _, dup := byID[p.ID]; dup {
			return nil, fmt.Errorf("%w: rs-metadata: participant %q appears twice", errBadBody, p.ID)
		}
		pp := Participant{ID: p.ID, AoR: strings.TrimSpace(p.AoR), Name: strings.TrimSpace(p.Name)}
		for _, n := range p.NameIDs {
			if pp.AoR == "" {
				pp.AoR = strings.TrimSpace(n.AoR)
			}
			if pp.Name == "" {
				pp.Name = strings.TrimSpace(n.Name)
			}
		}
		byID[p.ID] = len(m.participants)
		m.participants = append(m.participants, pp)
	}
	streamLabel := map[string]string{}
	for _, s := range doc.Streams {
		if s.ID == "" {
			return nil, fmt.Errorf("%w: rs-metadata: stream without stream_id", errBadBody)
		}
		l := strings.TrimSpace(s.Label)
		if labels != nil && !labels[l] {
			return nil, fmt.Errorf("%w: rs-metadata: stream %q has label %q, which no m-section of the offer carries", errBadBody, s.ID, l)
		}
		streamLabel[s.ID] = l
	}
	for _, a := range doc.Assocs {
		i, ok := byID[a.Participant]
		if !ok {
			return nil, fmt.Errorf("%w: rs-metadata: participantstreamassoc names unknown participant %q", errBadBody, a.Participant)
		}
		for _, sid := range a.Send {
			sid = strings.TrimSpace(sid)
			l, ok := streamLabel[sid]
			if !ok {
				return nil, fmt.Errorf("%w: rs-metadata: participant %q sends unknown stream %q", errBadBody, a.Participant, sid)
			}
			if prev, dup := m.senders[l]; dup && prev != i {
				continue // a mixed stream: the first sender names it
			}
			m.senders[l] = i
			m.participants[i].Labels = append(m.participants[i].Labels, l)
		}
		for _, sid := range a.Recv {
			if _, ok := streamLabel[strings.TrimSpace(sid)]; !ok {
				return nil, fmt.Errorf("%w: rs-metadata: participant %q receives unknown stream %q", errBadBody, a.Participant, sid)
			}
		}
	}
	return m, nil
}

// botDirection answers a bot call's stream (RFC 3264 section 6.1): the bot
// sends and receives, except where the offer holds the call.
func botDirection(st offerStream) string {
	switch st.direction {
	case "sendonly":
		return "recvonly"
	case "recvonly":
		return "sendonly"
	case "inactive":
		return "inactive"
	}
	return "sendrecv"
}
