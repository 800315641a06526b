package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/earshot/earshot/media/audio"
	"github.com/earshot/earshot/media/codec"
	"github.com/earshot/earshot/media/stt"
	"github.com/earshot/earshot/media/vad"
)

// maxGap caps the silence inserted for one timestamp jump; larger jumps
// (a stream restart, a bogus timestamp) are treated as a discontinuity.
const maxGap = 10 * time.Second

// Party is one speaker's audio stream within an engagement. Its Write
// methods are called from one goroutine (the ingest's reader).
type Party struct {
	e    *Engagement
	opts PartyOptions
	dec  codec.Decoder
	st   stt.Stream
	q    *queue
	rate int // decoded PCM rate

	// ingest side (single writer goroutine)
	scratch []int16
	mono    []int16
	started bool
	lastSeq uint16
	nextTS  uint32
	placed  bool // offset set, on the first write

	// offset is the party's start on the engagement's clock (ms): when its
	// first packet arrived after the engagement's first, for live
	// engagements; 0 for offline ones. Set before the first audio is
	// queued, read by the worker after it is popped.
	offset atomic.Int64
	// heardMs is how far the worker has run the voice activity detector
	// on the engagement's clock (ms); -1 before any audio.
	heardMs atomic.Int64

	// modeReq is a mode change waiting for the worker (nil: none).
	modeReq atomic.Pointer[modeRequest]

	mu sync.Mutex
	s  Stats // +checklocks:mu
}

// modeRequest asks the worker to switch the recogniser's mode; once
// switches back to speech after the next final segment.
type modeRequest struct {
	mode stt.Mode
	once bool
	by   string // "api" or "trigger", for metrics
}

// ErrNoModes is returned by SetMode when the party's recogniser cannot
// switch modes (e.g. a Whisper-class server).
var ErrNoModes = errors.New("pipeline: the recogniser has no listening modes")

// SetMode switches what the party's recogniser listens for, from its next
// utterance: ModeDigits while a virtual agent's step asks for a card or
// account number, ModeSpeech after. It does not block.
func (pt *Party) SetMode(m stt.Mode) error {
	if _, err := stt.ParseMode(string(m)); err != nil {
		return err
	}
	if _, ok := pt.st.(stt.ModeSetter); !ok {
		return ErrNoModes
	}
	pt.modeReq.Store(&modeRequest{mode: m, by: "api"})
	signal(pt.q.wake)
	return nil
}

// requestMode is SetMode for trigger phrases; recognisers without modes
// ignore it.
func (pt *Party) requestMode(m stt.Mode, once bool) {
	if _, ok := pt.st.(stt.ModeSetter); ok {
		pt.modeReq.Store(&modeRequest{mode: m, once: once, by: "trigger"})
		signal(pt.q.wake) // applied before the party's next audio, as SetMode's
	}
}

func newParty(e *Engagement, opts PartyOptions, dec codec.Decoder, st stt.Stream) (*Party, error) {
	rate := dec.SampleRate()
	maxSamples := int64(e.p.cfg.MaxQueuedAudio.Seconds() * float64(rate))
	pt := &Party{e: e, opts: opts, dec: dec, st: st, rate: rate, q: newQueue(maxSamples, rate)}
	pt.heardMs.Store(-1)
	return pt, nil
}

// Name returns the party name.
func (pt *Party) Name() string { return pt.opts.Name }

func (pt *Party) stats() Stats {
	pt.mu.Lock()
	defer pt.mu.Unlock()
	return pt.s
}

func (pt *Party) labels() (string, string) { return pt.e.opts.Source, string(pt.dec.Codec()) }

// place puts the party on the engagement's clock at its first write,
// unless PlaceAt did before.
func (pt *Party) place() {
	if pt.placed {
		return
	}
	pt.placed = true
	pt.offset.Store(pt.e.placeOffset(time.Now(), 0))
}

// PlaceAt puts a live party on the engagement's clock where the ingest
// protocol says its first media lies (ingest.Placer): offset after
// origin, the wall time the session's media clock started, instead of
// when its first payload is written. The engagement's origin is the first
// origin given (or the first write's time, if a party was written
// before). Call it from the writing goroutine before the first write;
// once placed, a party stays where it is.
func (pt *Party) PlaceAt(origin time.Time, offset time.Duration) {
	if pt.placed {
		return
	}
	pt.placed = true
	pt.offset.Store(pt.e.placeOffset(origin, offset))
}

// Write decodes one payload of a contiguous stream (no timestamps, e.g. a
// WebSocket binary frame) and queues it. Decode errors wrap
// codec.ErrDecode and are counted; ErrOverflow means the audio was refused.
func (pt *Party) Write(payload []byte) error {
	pt.place()
	pcm, err := pt.decode(payload)
	if err != nil {
		return err
	}
	return pt.push(pcm, 0)
}

// WriteRTP decodes one RTP payload with its sequence number and timestamp
// (in the codec's clock, see codec.Decoder.ClockRate) and queues it.
// Missing sequence numbers are counted as lost; timestamp gaps (loss or
// DTX) are filled with silence and counted, since pion/opus has no
// packet-loss concealment; packets older than the last one are counted as
// late and dropped. Packet durations are taken from the decoded audio, not
// assumed.
func (pt *Party) WriteRTP(seq uint16, ts uint32, payload []byte) error {
	pt.place()
	src, _ := pt.labels()
	if pt.started {
		d := int16(seq - pt.lastSeq)
		if d <= 0 {
			pt.e.p.m.packetsLate.WithLabelValues(src).Inc()
			pt.mu.Lock()
			pt.s.PacketsLate++
			pt.mu.Unlock()
			return nil
		}
		if d > 1 {
			pt.e.p.m.packetsLost.WithLabelValues(src).Add(float64(d - 1))
			pt.mu.Lock()
			pt.s.PacketsLost += int64(d - 1)
			pt.mu.Unlock()
		}
	}
	pt.lastSeq = seq
	pcm, err := pt.decode(payload)
	if err != nil {
		// Keep the timeline: the next packet's timestamp gap fills it.
		if !pt.started {
			pt.started, pt.nextTS = true, ts
		}
		return err
	}
	clock := pt.dec.ClockRate()
	var silence int
	if pt.started {
		if gap := int32(ts - pt.nextTS); gap > 0 {
			silence = int(int64(gap) * int64(pt.rate) / int64(clock))
			if limit := int(maxGap.Seconds()) * pt.rate; silence > limit {
				silence = limit
			}
			pt.e.p.m.gaps.WithLabelValues(src).Inc()
			pt.e.p.m.silenceSeconds.WithLabelValues(src).Add(float64(silence) / float64(pt.rate))
			pt.mu.Lock()
			pt.s.SilenceMs += int64(silence) * 1000 / int64(pt.rate)
			pt.mu.Unlock()
		}
	}
	pt.started = true
	pt.nextTS = ts + uint32(int64(len(pcm))*int64(clock)/int64(pt.rate))
	return pt.push(pcm, silence)
}

// WritePCM queues already decoded PCM in the party's format (interleaved
// if the format has several channels). Uploads and files use it.
func (pt *Party) WritePCM(pcm []int16) error {
	pt.place()
	if pt.dec.Channels() > 1 {
		pt.mono = pt.selectChannel(pt.mono[:0], pcm)
		return pt.push(append([]int16(nil), pt.mono...), 0)
	}
	return pt.push(append([]int16(nil), pcm...), 0)
}

func (pt *Party) decode(payload []byte) ([]int16, error) {
	var err error
	pt.scratch, err = pt.dec.Decode(pt.scratch[:0], payload)
	if err != nil {
		src, c := pt.labels()
		pt.e.p.m.decodeErrors.WithLabelValues(src, c).Inc()
		pt.mu.Lock()
		pt.s.DecodeErrors++
		pt.mu.Unlock()
		return nil, fmt.Errorf("pipeline: party %q: %w", pt.opts.Name, err)
	}
	if pt.dec.Channels() > 1 {
		return pt.selectChannel(nil, pt.scratch), nil
	}
	return append([]int16(nil), pt.scratch...), nil
}

func (pt *Party) selectChannel(dst, pcm []int16) []int16 {
	if pt.opts.Channel < 0 {
		return audio.Downmix(dst, pcm, pt.dec.Channels())
	}
	return audio.Channel(dst, pcm, pt.dec.Channels(), pt.opts.Channel)
}

func (pt *Party) push(pcm []int16, silence int) error {
	if silence > 0 {
		pcm = append(make([]int16, silence, silence+len(pcm)), pcm...)
	}
	n := len(pcm) - silence
	src, c := pt.labels()
	err := pt.q.push(pt.e.ctx, chunk{pcm: pcm, arrived: time.Now()}, pt.e.opts.Blocking)
	if err != nil {
		if errors.Is(err, ErrOverflow) {
			pt.e.p.m.droppedSeconds.WithLabelValues(src).Add(float64(len(pcm)) / float64(pt.rate))
			pt.mu.Lock()
			pt.s.OverflowMs += int64(len(pcm)) * 1000 / int64(pt.rate)
			pt.mu.Unlock()
			pt.e.p.log.Warn("party queue full, audio refused", "engagement", pt.e.opts.ID, "party", pt.opts.Name,
				"samples", len(pcm))
		}
		return err
	}
	pt.e.p.m.audioSeconds.WithLabelValues(src, c).Add(float64(n) / float64(pt.rate))
	pt.mu.Lock()
	pt.s.AudioMs += int64(n) * 1000 / int64(pt.rate)
	pt.mu.Unlock()
	return nil
}

// region maps recogniser ("fed") time to party time for one speech region.
type region struct {
	fedStart   int64 // samples fed to the recogniser before the region
	partyStart int64 // party sample index of the region's first sample
	// speechFrom and speechTo are the party sample indexes of the VAD's
	// speech frames in the region (pre-roll and hangover left out), set
	// when the region ends (closed).
	speechFrom, speechTo int64
	closed               bool
}

// run is the party worker: resample -> VAD -> recogniser -> segments.
func (pt *Party) run() {
	defer pt.st.Close()
	engine := pt.e.p.engine.Name()
	var rs *audio.Resampler
	if pt.rate != audio.RecognizerRate {
		var err error
		rs, err = audio.NewResampler(pt.rate, audio.RecognizerRate)
		if err != nil {
			pt.e.p.log.Error("resampler", "engagement", pt.e.opts.ID, "err", err)
			return
		}
	}
	det, err := vad.New(pt.e.p.cfg.VAD, audio.RecognizerRate)
	if err != nil {
		pt.e.p.log.Error("vad", "engagement", pt.e.opts.ID, "err", err)
		return
	}
	var (
		fed         int64 // samples fed to the recogniser
		vadIn       int64 // samples run through the detector
		regions     []region
		uttFed      int64
		uttCPU      time.Duration
		lastPartial int64
		buf16       []int16
		partialGap  = int64(pt.e.p.cfg.PartialInterval.Seconds() * audio.RecognizerRate)
	)
	// toEngagement maps recogniser time (ms of audio fed to the stream)
	// to the engagement's clock: the party's sample index, through the
	// speech region the time falls in, plus the party's offset.
	toEngagement := func(ms int64) int64 {
		s := ms * audio.RecognizerRate / 1000
		r := region{}
		for i := len(regions) - 1; i >= 0; i-- {
			if regions[i].fedStart <= s {
				r = regions[i]
				break
			}
		}
		return pt.offset.Load() + (r.partyStart+s-r.fedStart)*1000/audio.RecognizerRate
	}
	// toSpeech moves a recogniser interval's edges that lie outside the
	// speech of its (ended) region onto that speech: recognisers place
	// word and utterance edges some tens of milliseconds into the pre-roll
	// and hangover, which would make every stretch of talk too long and
	// every silence too short.
	toSpeech := func(startMs, endMs int64) (int64, int64) {
		s := (startMs + endMs) / 2 * audio.RecognizerRate / 1000
		for i := len(regions) - 1; i >= 0; i-- {
			r := regions[i]
			if r.fedStart > s {
				continue
			}
			if !r.closed {
				// The recogniser ended the utterance before the VAD's
				// hangover did: the speech so far bounds it.
				reg, from, to, ok := det.OpenSpeech()
				if !ok || reg != r.partyStart {
					break
				}
				r.speechFrom, r.speechTo = from, to
			}
			if r.speechTo <= r.speechFrom {
				break
			}
			from := (r.speechFrom - r.partyStart + r.fedStart) * 1000 / audio.RecognizerRate
			to := (r.speechTo - r.partyStart + r.fedStart + audio.RecognizerRate/1000 - 1) * 1000 / audio.RecognizerRate
			startMs = min(max(startMs, from), to)
			endMs = max(min(endMs, to), startMs)
			break
		}
		return startMs, endMs
	}
	// finals maps the recogniser's IDs of final results that may be
	// revised to the Seq of the segment they were delivered as.
	finals := map[uint64]uint64{}
	modeSetter, _ := pt.st.(stt.ModeSetter)
	var revertMode bool // switch back to speech after the next final
	applyMode := func() {
		req := pt.modeReq.Swap(nil)
		if req == nil || modeSetter == nil {
			return
		}
		if err := modeSetter.SetMode(req.mode); err != nil {
			pt.e.p.log.Warn("recogniser mode", "engagement", pt.e.opts.ID, "party", pt.opts.Name, "mode", req.mode, "err", err)
			return
		}
		revertMode = req.once && req.mode != stt.ModeSpeech
		pt.e.p.m.modeSwitches.WithLabelValues(string(req.mode), req.by).Inc()
	}
	deliver := func(res []stt.Result, arrived time.Time) bool {
		for _, r := range res {
			if !r.Final {
				if partialGap == 0 || fed-lastPartial < partialGap || r.Text == "" {
					continue
				}
				lastPartial = fed
			}
			if r.Final && r.Text == "" {
				continue
			}
			start, end := toSpeech(r.StartMs, r.EndMs)
			seg := Segment{Party: pt.opts.Name, StartMs: toEngagement(start), EndMs: toEngagement(end), Text: r.Text, Final: r.Final}
			for _, w := range r.Words {
				start, end := toSpeech(w.StartMs, w.EndMs)
				w.StartMs, w.EndMs = toEngagement(start), toEngagement(end)
				seg.Words = append(seg.Words, w)
			}
			if r.Revises != 0 {
				// Unknown when the first final was empty (not delivered):
				// then the revision is a new final.
				seg.Revises = finals[r.Revises]
				delete(finals, r.Revises)
			}
			if r.Final && r.Revises == 0 {
				// A trigger phrase switches the other parties before
				// anyone sees the final: whoever answers it (a client
				// that sends the caller's reply on seeing the agent's
				// question) must meet the new mode.
				pt.e.modeHeard(pt, r.Text)
			}
			seq, ok := pt.e.emit(seg)
			if !ok {
				return false
			}
			if r.Final && r.ID != 0 && r.Revises == 0 {
				finals[r.ID] = seq
			}
			if r.Final && r.Revises == 0 {
				pt.e.p.m.finalLatency.WithLabelValues(engine).Observe(time.Since(arrived).Seconds())
				if revertMode && modeSetter != nil {
					revertMode = false
					modeSetter.SetMode(stt.ModeSpeech)
				}
			}
		}
		return true
	}
	cpuRep, _ := pt.st.(stt.CPUReporter)
	var cpuMark time.Duration
	endUtt := func(arrived time.Time) bool {
		t0 := time.Now()
		res, err := pt.st.EndUtterance()
		uttCPU += time.Since(t0)
		if uttFed > 0 {
			secs := float64(uttFed) / audio.RecognizerRate
			pt.e.p.m.rtf.WithLabelValues(engine, "wall").Observe(uttCPU.Seconds() / secs)
			var cpu time.Duration
			if cpuRep != nil {
				c := cpuRep.CPUTime()
				cpu, cpuMark = c-cpuMark, c
				pt.e.p.m.rtf.WithLabelValues(engine, "cpu").Observe(cpu.Seconds() / secs)
			}
			pt.mu.Lock()
			pt.s.Utterances++
			pt.s.RecognizerTime += uttCPU
			pt.s.RecognizerCPU += cpu
			pt.s.RecognizedMs += uttFed * 1000 / audio.RecognizerRate
			pt.mu.Unlock()
		}
		uttFed, uttCPU = 0, 0
		if err != nil {
			pt.e.p.log.Warn("recogniser end of utterance", "engagement", pt.e.opts.ID, "party", pt.opts.Name, "err", err)
			return true
		}
		return deliver(res, arrived)
	}
	// heard records that the detector has been through the party's first
	// n samples (at the recogniser's rate).
	heard := func(n int64) {
		ms := pt.offset.Load() + n*1000/audio.RecognizerRate
		if ms > pt.heardMs.Load() {
			pt.heardMs.Store(ms)
		}
	}
	handle := func(evs []vad.Event, arrived time.Time) bool {
		for _, ev := range evs {
			switch ev.Kind {
			case vad.Audio:
				if len(regions) == 0 || uttFed == 0 && regions[len(regions)-1].fedStart != fed {
					regions = append(regions, region{fedStart: fed, partyStart: ev.Offset})
				}
				if uttFed == 0 && pt.e.opts.OnSpeechStart != nil {
					pt.e.opts.OnSpeechStart(pt.opts.Name)
				}
				t0 := time.Now()
				res, err := pt.st.Write(ev.PCM)
				uttCPU += time.Since(t0)
				fed += int64(len(ev.PCM))
				uttFed += int64(len(ev.PCM))
				if err != nil {
					pt.e.p.log.Warn("recogniser write", "engagement", pt.e.opts.ID, "party", pt.opts.Name, "err", err)
					continue
				}
				heard(ev.Offset + int64(len(ev.PCM)))
				if !deliver(res, arrived) {
					return false
				}
			case vad.End:
				if n := len(regions); n > 0 {
					regions[n-1].speechFrom, regions[n-1].speechTo, regions[n-1].closed = ev.SpeechFrom, ev.SpeechTo, true
				}
				heard(ev.Offset)
				if !endUtt(arrived) {
					return false
				}
			}
		}
		return true
	}
	reviser, _ := pt.st.(stt.Reviser)
	var revisions <-chan stt.Result
	if reviser != nil {
		revisions = reviser.Revisions()
	}
	for {
		applyMode()
		c, rev, what := pt.q.popOr(pt.e.ctx, revisions)
		if what == poppedEnd {
			break
		}
		switch what {
		case poppedRevision:
			if !deliver([]stt.Result{rev}, time.Now()) {
				return
			}
			continue
		case poppedRevsDone:
			revisions = nil
			continue
		case poppedWake:
			continue
		}
		pcm := c.pcm
		if rs != nil {
			buf16 = rs.Process(buf16[:0], pcm)
			pcm = buf16
		}
		if !handle(det.Write(pcm), c.arrived) {
			return
		}
		vadIn += int64(len(pcm))
		heard(vadIn)
	}
	if pt.e.ctx.Err() != nil {
		return
	}
	now := time.Now()
	if rs != nil {
		buf16 = rs.Flush(buf16[:0])
		if !handle(det.Write(buf16), now) {
			return
		}
	}
	if !handle(det.Flush(), now) {
		return
	}
	// Wait for the revisions still being made (bounded by the second
	// recogniser's timeout), so that they reach the engagement before its
	// segments end.
	if reviser != nil {
		reviser.Drain()
		for revisions != nil {
			select {
			case r, ok := <-revisions:
				if !ok {
					revisions = nil
					break
				}
				if !deliver([]stt.Result{r}, time.Now()) {
					return
				}
			case <-pt.e.ctx.Done():
				return
			}
		}
	}
}

type chunk struct {
	pcm     []int16
	arrived time.Time
}

// queue is a bounded FIFO of PCM chunks, bounded by total samples.
type queue struct {
	mu      sync.Mutex
	chunks  []chunk // +checklocks:mu
	samples int64   // +checklocks:mu
	closed  bool    // +checklocks:mu
	max     int64
	rate    int
	wake    chan struct{} // signalled on push/close
	space   chan struct{} // signalled on pop
}

func newQueue(max int64, rate int) *queue {
	return &queue{max: max, rate: rate, wake: make(chan struct{}, 1), space: make(chan struct{}, 1)}
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

func (q *queue) backlog() time.Duration {
	q.mu.Lock()
	defer q.mu.Unlock()
	return time.Duration(q.samples) * time.Second / time.Duration(q.rate)
}

func (q *queue) push(ctx context.Context, c chunk, block bool) error {
	for {
		q.mu.Lock()
		if q.closed {
			q.mu.Unlock()
			return ErrClosed
		}
		if q.samples+int64(len(c.pcm)) <= q.max || q.samples == 0 {
			q.chunks = append(q.chunks, c)
			q.samples += int64(len(c.pcm))
			q.mu.Unlock()
			signal(q.wake)
			return nil
		}
		q.mu.Unlock()
		if !block {
			return ErrOverflow
		}
		select {
		case <-q.space:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// popped says what popOr returned.
type popped int

const (
	poppedChunk    popped = iota // audio
	poppedRevision               // a revision from revs
	poppedRevsDone               // revs was closed: stop reading it
	poppedWake                   // woken without audio (e.g. a mode request)
	poppedEnd                    // closed and empty, or ctx done
)

// popOr is pop that also returns a revision from revs when one comes
// first, and returns when the queue is woken without audio.
func (q *queue) popOr(ctx context.Context, revs <-chan stt.Result) (chunk, stt.Result, popped) {
	q.mu.Lock()
	if len(q.chunks) > 0 {
		c := q.chunks[0]
		q.chunks[0] = chunk{}
		q.chunks = q.chunks[1:]
		q.samples -= int64(len(c.pcm))
		q.mu.Unlock()
		signal(q.space)
		return c, stt.Result{}, poppedChunk
	}
	if q.closed {
		q.mu.Unlock()
		return chunk{}, stt.Result{}, poppedEnd
	}
	q.mu.Unlock()
	select {
	case <-q.wake:
		return chunk{}, stt.Result{}, poppedWake
	case r, ok := <-revs:
		if !ok {
			return chunk{}, stt.Result{}, poppedRevsDone
		}
		return chunk{}, r, poppedRevision
	case <-ctx.Done():
		return chunk{}, stt.Result{}, poppedEnd
	}
}

func (q *queue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	signal(q.wake)
}
