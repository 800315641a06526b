package wsstream

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/coder/websocket"
	"github.com/earshot/earshot/media/codec"
	"github.com/earshot/earshot/media/ingest"
)

// closeError ends a stream with a WebSocket close status; reason labels the
// metrics.
type closeError struct {
	status websocket.StatusCode
	reason string
	err    error
}

func (e *closeError) Error() string { return e.err.Error() }
func (e *closeError) Unwrap() error { return e.err }

// stream is the protocol state of one WebSocket connection. handle is
// called with each message in order from one goroutine; finish once at the
// end. It holds no connection, so it can be driven by tests and fuzzing.
type stream struct {
	cfg    Config
	m      *metrics
	opener Opener
	ctx    context.Context
	query  url.Values
	remote string

	format string // "" until detected
	eng    ingest.Engagement
	// began is when the message that started the stream arrived (the
	// Twilio start, the PCM stream's first frame): the zero of the
	// stream's media clock, taken before the engagement opens its
	// recognisers, which under load takes seconds while the media wait
	// unread.
	began   time.Time
	closed  bool
	bad     int
	stopped bool

	// newLeg, when set (by the server), gives a Twilio stream its
	// outbound leg at start; leg is that leg.
	newLeg func(streamSid string) *twilioLeg
	leg    *twilioLeg
	sid    string // the Twilio streamSid from start

	audio  int                     // audio payloads written
	tracks map[string]*twilioTrack // Twilio, by track name
	// reachMs is the furthest media time (ms since the start) that any
	// Twilio track's media reached.
	reachMs int64
	pcm     []ingest.Sink // PCM, one per channel
	frame   int           // PCM bytes per sample frame
	rem     []byte        // PCM bytes of an incomplete frame
}

type twilioTrack struct {
	party  ingest.Sink
	name   ingest.Party
	seq    uint16
	next   uint32 // 8 kHz timestamp after the last payload
	placed bool   // the track's first media placed the party
}

func newStream(ctx context.Context, cfg Config, m *metrics, opener Opener, query url.Values, remote string) *stream {
	s := &stream{cfg: cfg, m: m, opener: opener, ctx: ctx, query: query, remote: remote}
	switch f := query.Get("format"); f {
	case FormatTwilio, FormatPCM:
		s.format = f
	}
	return s
}

func (s *stream) label() string {
	if s.format == "" {
		return "unknown"
	}
	return s.format
}

// badMsg counts an invalid message; too many end the stream.
func (s *stream) badMsg(reason string, err error) error {
	s.bad++
	s.m.bad.WithLabelValues(s.label(), reason).Inc()
	if s.bad >= s.cfg.MaxBadMessages {
		return &closeError{websocket.StatusInvalidFramePayloadData, "bad_messages",
			fmt.Errorf("wsstream: %d invalid messages, last: %s: %w", s.bad, reason, err)}
	}
	return nil
}

// handle processes one message; media reports whether it carried audio
// (or started the stream), which alone holds off the idle timeout. A
// non-nil error is a *closeError.
func (s *stream) handle(typ websocket.MessageType, data []byte) (media bool, err error) {
	if s.stopped {
		return false, nil
	}
	opened := s.eng != nil
	if !opened {
		s.began = time.Now()
	}
	sent := s.audio
	defer func() { media = err == nil && (s.audio > sent || !opened && s.eng != nil) }()
	if s.format == "" {
		switch {
		case typ == websocket.MessageBinary:
			s.format = FormatPCM
		case isTwilio(data):
			s.format = FormatTwilio
		case json.Valid(data):
			s.format = FormatPCM
		default:
			return false, s.badMsg("json", errors.New("first message is neither JSON nor audio"))
		}
	}
	if s.format == FormatTwilio {
		return false, s.twilio(typ, data)
	}
	return false, s.pcmMessage(typ, data)
}

func isTwilio(data []byte) bool {
	var probe struct {
		Event *string `json:"event"`
	}
	return json.Unmarshal(data, &probe) == nil && probe.Event != nil
}

// finish closes the engagement, if one was opened.
func (s *stream) finish(err error) {
	if s.leg != nil {
		s.leg.stop()
	}
	if s.eng != nil && !s.closed {
		s.closed = true
		s.eng.Close(err)
	}
}

// open starts the engagement and its parties.
func (s *stream) open(meta Meta, names []string, f codec.Format) error {
	meta.Query, meta.RemoteAddr, meta.Source, meta.Format = s.query, s.remote, Source, s.format
	eng, err := s.opener.Open(s.ctx, meta)
	if err != nil {
		if ingest.IsBusy(err) {
			s.m.refused.WithLabelValues("busy").Inc()
			return &closeError{websocket.StatusTryAgainLater, "refused", err}
		}
		s.m.refused.WithLabelValues("engagement").Inc()
		return &closeError{websocket.StatusPolicyViolation, "refused", err}
	}
	s.eng = eng
	parties := make([]ingest.Sink, len(names))
	for i, n := range names {
		ch := i // PCM: one party per channel
		if s.format == FormatTwilio {
			ch = 0 // one mono track each
		}
		p, err := eng.AddParty(meta.Parties[i], f, ch)
		if err != nil {
			st := websocket.StatusInternalError
			if ingest.IsBusy(err) {
				s.m.refused.WithLabelValues("busy").Inc()
				st = websocket.StatusTryAgainLater
			}
			return &closeError{st, "refused", fmt.Errorf("wsstream: party %s: %w", n, err)}
		}
		parties[i] = p
	}
	s.m.started.WithLabelValues(s.format).Inc()
	if s.format == FormatPCM {
		s.pcm = parties
		return nil
	}
	s.tracks = map[string]*twilioTrack{}
	for i, n := range names {
		s.tracks[n] = &twilioTrack{party: parties[i], name: meta.Parties[i]}
	}
	return nil
}

// partyOf maps a track or channel to its party: query party.<key> first.
func (s *stream) partyOf(key string, def ingest.Party) (ingest.Party, error) {
	v := s.query.Get("party." + key)
	if v == "" {
		return def, nil
	}
	p, err := ingest.ParseParty(v)
	if err != nil {
		return "", fmt.Errorf("wsstream: query parameter party.%s: %w", key, err)
	}
	return p, nil
}

func badFormat(s *stream, err error) error {
	s.m.refused.WithLabelValues("bad_format").Inc()
	return &closeError{websocket.StatusUnsupportedData, "refused", err}
}

// ---- Twilio Media Streams ----

// flexInt is a JSON number that Twilio sends as a string ("12") or number.
type flexInt struct {
	v   int64
	set bool
}

func (f *flexInt) UnmarshalJSON(b []byte) error {
	s := string(bytes.Trim(b, `"`))
	if s == "" || s == "null" {
		return nil
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < 0 {
		return fmt.Errorf("not a non-negative integer: %s", b)
	}
	f.v, f.set = v, true
	return nil
}

type twilioMsg struct {
	Event          string  `json:"event"`
	SequenceNumber flexInt `json:"sequenceNumber"`
	StreamSid      string  `json:"streamSid"`
	Start          *struct {
		StreamSid        string            `json:"streamSid"`
		CallSid          string            `json:"callSid"`
		Tracks           []string          `json:"tracks"`
		CustomParameters map[string]string `json:"customParameters"`
		MediaFormat      struct {
			Encoding   string `json:"encoding"`
			SampleRate int    `json:"sampleRate"`
			Channels   int    `json:"channels"`
		} `json:"mediaFormat"`
	} `json:"start"`
	Media *struct {
		Track     string  `json:"track"`
		Chunk     flexInt `json:"chunk"`
		Timestamp flexInt `json:"timestamp"`
		Payload   string  `json:"payload"`
	} `json:"media"`
	DTMF *struct {
		Track string `json:"track"`
		Digit string `json:"digit"`
	} `json:"dtmf"`
	Mark *struct {
		Name string `json:"name"`
	} `json:"mark"`
}

func (s *stream) twilio(typ websocket.MessageType, data []byte) error {
	if typ != websocket.MessageText {
		return s.badMsg("binary", errors.New("binary message in a Twilio stream"))
	}
	var msg twilioMsg
	if err := json.Unmarshal(data, &msg); err != nil {
		return s.badMsg("json", err)
	}
	if s.sid != "" && msg.StreamSid != "" && msg.StreamSid != s.sid {
		return s.badMsg("stream_sid", fmt.Errorf("message for stream %q, not this one", truncate(msg.StreamSid, 40)))
	}
	switch msg.Event {
	case "connected":
	case "mark":
		// On a two-way stream a mark is the echo of one the leg sent: one
		// never sent (or already echoed) is invalid, so floods end the
		// stream as other bad messages do.
		if s.leg != nil && (msg.Mark == nil || !s.leg.echoed(msg.Mark.Name)) {
			return s.badMsg("mark", errors.New("mark that was not sent"))
		}
	case "start":
		if s.eng != nil || msg.Start == nil {
			return s.badMsg("start", errors.New("duplicate or empty start"))
		}
		return s.twilioStart(&msg)
	case "media":
		return s.twilioMedia(&msg)
	case "dtmf":
		if msg.DTMF == nil || len(msg.DTMF.Digit) != 1 || !strings.Contains("0123456789*#ABCD", msg.DTMF.Digit) {
			return s.badMsg("dtmf", errors.New("dtmf without a valid digit"))
		}
		tr := s.tracks[strings.TrimSuffix(msg.DTMF.Track, "_track")]
		if d, ok := s.eng.(ingest.DTMFReceiver); ok && tr != nil {
			d.DTMF(tr.name, msg.DTMF.Digit)
		}
	case "stop":
		s.stopped = true
	default:
		return s.badMsg("event", fmt.Errorf("unknown event %q", msg.Event))
	}
	s.m.messages.WithLabelValues(FormatTwilio, msg.Event).Inc()
	return nil
}

func (s *stream) twilioStart(msg *twilioMsg) error {
	st := msg.Start
	mf := st.MediaFormat
	if enc := strings.ToLower(mf.Encoding); (enc != "audio/x-mulaw" && enc != "") || (mf.SampleRate != 8000 && mf.SampleRate != 0) ||
		mf.Channels > 1 {
		return badFormat(s, fmt.Errorf("wsstream: Twilio media format %s/%d/%d not supported (audio/x-mulaw/8000/1)",
			mf.Encoding, mf.SampleRate, mf.Channels))
	}
	tracks := st.Tracks
	if len(tracks) == 0 {
		tracks = []string{"inbound"}
	}
	if len(tracks) > 2 {
		return badFormat(s, fmt.Errorf("wsstream: %d tracks, at most inbound and outbound", len(tracks)))
	}
	meta := Meta{Params: st.CustomParameters, CallID: st.CallSid, StreamID: st.StreamSid, SampleRate: 8000, Channels: 1}
	s.sid = st.StreamSid
	if s.sid == "" {
		s.sid = msg.StreamSid
	}
	if s.newLeg != nil {
		s.leg = s.newLeg(s.sid)
		meta.Leg = s.leg
	}
	seen := map[ingest.Party]bool{}
	for _, tr := range tracks {
		def := ingest.PartyCustomer
		switch tr {
		case "inbound":
		case "outbound":
			def = ingest.PartyAgent
		default:
			return badFormat(s, fmt.Errorf("wsstream: unknown Twilio track %q", tr))
		}
		p, err := s.partyOf(tr, def)
		if err != nil {
			return badFormat(s, err)
		}
		if seen[p] {
			return badFormat(s, fmt.Errorf("wsstream: two tracks map to party %s", p))
		}
		seen[p] = true
		meta.Parties = append(meta.Parties, p)
	}
	return s.open(meta, tracks, codec.Format{Codec: codec.PCMU, SampleRate: 8000, Channels: 1})
}

func (s *stream) twilioMedia(msg *twilioMsg) error {
	if s.eng == nil {
		return s.badMsg("media_before_start", errors.New("media before start"))
	}
	if msg.Media == nil {
		return s.badMsg("media", errors.New("media event without media"))
	}
	name := msg.Media.Track
	if name == "" {
		name = "inbound"
	}
	tr := s.tracks[name]
	if tr == nil {
		return s.badMsg("track", fmt.Errorf("media for track %q not in start", name))
	}
	payload, err := base64.StdEncoding.DecodeString(msg.Media.Payload)
	if err != nil {
		return s.badMsg("base64", err)
	}
	if len(payload) == 0 {
		return s.badMsg("empty", errors.New("empty media payload"))
	}
	ts := tr.next
	if t := msg.Media.Timestamp; t.set {
		ts = uint32(t.v * 8) // milliseconds -> 8 kHz ticks
	}
	if !tr.placed {
		// The track's first media: its timestamp is its time since the
		// stream's start, which is the media clock's zero. A timestamp is
		// believed up to the later of the time since the start and a
		// second past the media the other tracks have sent (a client may
		// send faster than real time); without one, the media arrived now.
		tr.placed = true
		since := time.Since(s.began)
		at := since
		if t := msg.Media.Timestamp; t.set && t.v < int64(time.Hour/time.Millisecond) {
			at = min(time.Duration(t.v)*time.Millisecond, max(since, time.Duration(s.reachMs)*time.Millisecond+time.Second))
		}
		ingest.Place(tr.party, s.began, at)
	}
	s.reachMs = max(s.reachMs, int64(ts+uint32(len(payload)))/8)
	tr.seq++
	tr.next = ts + uint32(len(payload))
	_ = tr.party.WriteRTP(tr.seq, ts, payload) // counted by the Party
	s.audio++
	s.m.messages.WithLabelValues(FormatTwilio, "media").Inc()
	return nil
}

// ---- raw PCM after optional JSON metadata ----

func (s *stream) pcmMessage(typ websocket.MessageType, data []byte) error {
	if typ == websocket.MessageText {
		var md map[string]any
		if err := json.Unmarshal(data, &md); err != nil {
			return s.badMsg("json", err)
		}
		if s.eng != nil {
			s.m.messages.WithLabelValues(FormatPCM, "text").Inc()
			return nil // later text messages carry nothing we use
		}
		s.m.messages.WithLabelValues(FormatPCM, "metadata").Inc()
		return s.pcmOpen(md)
	}
	if s.eng == nil {
		if err := s.pcmOpen(nil); err != nil {
			return err
		}
		// This frame opened the stream: its audio began when it arrived,
		// not when the recognisers were ready. (After a metadata message
		// the first frame's arrival is unknown here: the party is placed
		// when it is written.)
		for _, p := range s.pcm {
			ingest.Place(p, s.began, 0)
		}
	}
	s.m.messages.WithLabelValues(FormatPCM, "audio").Inc()
	if len(data) == 0 {
		return nil
	}
	buf := data
	if len(s.rem) > 0 {
		buf = append(s.rem, data...)
	}
	n := len(buf) - len(buf)%s.frame
	if n > 0 {
		for _, p := range s.pcm {
			_ = p.Write(buf[:n]) // counted by the Party
		}
		s.audio++
	}
	s.rem = append(s.rem[:0:0], buf[n:]...)
	return nil
}

// pcmOpen reads rate and channels from the query (rate, channels) or the
// metadata (sampleRate/sample_rate, channels, mixType stereo) and opens.
func (s *stream) pcmOpen(md map[string]any) error {
	params := map[string]string{}
	for k, v := range md {
		switch v := v.(type) {
		case string:
			params[k] = v
		case float64:
			params[k] = strconv.FormatFloat(v, 'f', -1, 64)
		}
	}
	pick := func(def string, keys ...string) string {
		for _, k := range keys {
			if v := s.query.Get(k); v != "" {
				return v
			}
		}
		for _, k := range keys {
			if v := params[k]; v != "" {
				return v
			}
		}
		return def
	}
	rate, err := strconv.Atoi(strings.TrimSuffix(pick("8000", "rate", "sampleRate", "sample_rate", "samplingRate"), "k"))
	if err == nil && rate < 100 {
		rate *= 1000 // "16k"
	}
	if err != nil || rate < 8000 || rate > 48000 {
		return badFormat(s, fmt.Errorf("wsstream: PCM sample rate %q not supported (8000..48000)", pick("", "rate", "sampleRate", "sample_rate")))
	}
	chDef := "1"
	if strings.EqualFold(params["mixType"], "stereo") || strings.EqualFold(params["mix_type"], "stereo") {
		chDef = "2"
	}
	ch, err := strconv.Atoi(pick(chDef, "channels"))
	if err != nil || ch < 1 || ch > 2 {
		return badFormat(s, fmt.Errorf("wsstream: PCM channels %q not supported (1 or 2)", pick("", "channels")))
	}
	meta := Meta{Params: params, SampleRate: rate, Channels: ch}
	for _, k := range []string{"callSid", "call_id", "callId", "uuid"} {
		if v := params[k]; v != "" && meta.CallID == "" {
			meta.CallID = v
		}
	}
	names := []string{"0"}
	var defs []ingest.Party
	if ch == 1 {
		def := ingest.PartyMixed
		if v := s.query.Get("party"); v != "" {
			p, err := ingest.ParseParty(v)
			if err != nil {
				return badFormat(s, fmt.Errorf("wsstream: query parameter party: %w", err))
			}
			def = p
		}
		defs = []ingest.Party{def}
	} else {
		names = []string{"0", "1"}
		defs = []ingest.Party{ingest.PartyCustomer, ingest.PartyAgent}
	}
	for i, n := range names {
		p, err := s.partyOf(n, defs[i])
		if err != nil {
			return badFormat(s, err)
		}
		meta.Parties = append(meta.Parties, p)
	}
	if ch == 2 && meta.Parties[0] == meta.Parties[1] {
		return badFormat(s, fmt.Errorf("wsstream: both channels map to party %s", meta.Parties[0]))
	}
	s.frame = 2 * ch
	return s.open(meta, names, codec.Format{Codec: codec.S16LE, SampleRate: rate, Channels: ch})
}
