// Package vad is the pipeline's voice activity detector: an adaptive
// energy detector on 20 ms frames with a tracked noise floor, an onset
// requirement, pre-roll and hangover. It splits a party's audio into speech
// regions so the recogniser sees only speech (saving CPU on silence) and so
// utterance ends are known without waiting for the recogniser.
package vad

import (
	"fmt"
	"math"
	"slices"
)

// Config tunes the detector. Zero fields take the defaults of DefaultConfig.
type Config struct {
	FrameMs     int     `json:"frame_ms"`      // analysis frame (default 20)
	ThresholdDB float64 `json:"threshold_db"`  // frame energy above the noise floor that counts as speech (default 10)
	MinLevelDB  float64 `json:"min_level_db"`  // absolute floor in dBFS below which nothing is speech (default -55)
	OnsetMs     int     `json:"onset_ms"`      // speech needed to open a region (default 60)
	PreRollMs   int     `json:"pre_roll_ms"`   // audio kept before the onset (default 300)
	HangoverMs  int     `json:"hangover_ms"`   // silence that closes a region (default 500)
	MaxRegionMs int     `json:"max_region_ms"` // force a region end after this long (default 30000)
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{FrameMs: 20, ThresholdDB: 10, MinLevelDB: -55, OnsetMs: 60, PreRollMs: 300, HangoverMs: 500, MaxRegionMs: 30000}
}

// Validate checks the configuration.
func (c Config) Validate() error {
	switch {
	case c.FrameMs < 10 || c.FrameMs > 50:
		return fmt.Errorf("vad: frame_ms must be 10..50, got %d", c.FrameMs)
	case c.ThresholdDB <= 0:
		return fmt.Errorf("vad: threshold_db must be positive, got %g", c.ThresholdDB)
	case c.HangoverMs < c.FrameMs:
		return fmt.Errorf("vad: hangover_ms must be at least frame_ms, got %d", c.HangoverMs)
	case c.MaxRegionMs < 1000:
		return fmt.Errorf("vad: max_region_ms must be at least 1000, got %d", c.MaxRegionMs)
	case c.OnsetMs < 0 || c.PreRollMs < 0:
		return fmt.Errorf("vad: onset_ms and pre_roll_ms must not be negative")
	}
	return nil
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.FrameMs == 0 {
		c.FrameMs = d.FrameMs
	}
	if c.ThresholdDB == 0 {
		c.ThresholdDB = d.ThresholdDB
	}
	if c.MinLevelDB == 0 {
		c.MinLevelDB = d.MinLevelDB
	}
	if c.OnsetMs == 0 {
		c.OnsetMs = d.OnsetMs
	}
	if c.PreRollMs == 0 {
		c.PreRollMs = d.PreRollMs
	}
	if c.HangoverMs == 0 {
		c.HangoverMs = d.HangoverMs
	}
	if c.MaxRegionMs == 0 {
		c.MaxRegionMs = d.MaxRegionMs
	}
	return c
}

// Kind tells what an Event carries.
type Kind int

// Event kinds.
const (
	Audio Kind = iota // PCM inside a speech region (including pre-roll and hangover)
	End               // the current speech region ended
)

// floorWindowMs is the span of the noise-floor minimum: long enough that
// continuous speech always contains a pause inside it (a 3 s window split
// long sentences and cost WER).
const floorWindowMs = 10000

// Event is one output of the detector.
type Event struct {
	Kind Kind
	PCM  []int16 // Audio only; owned by the receiver
	// Offset is the sample index (since the detector started) of PCM[0],
	// or, for End, of the first sample after the region.
	Offset int64
	// SpeechFrom and SpeechTo (End only) bound the region's speech frames:
	// the sample index of its first speech frame and of the first sample
	// after its last one, without pre-roll and hangover.
	SpeechFrom, SpeechTo int64
}

// Detector is a streaming voice activity detector for one mono stream. It
// is not safe for concurrent use.
type Detector struct {
	cfg                   Config
	frame                 int
	pending               []int16   // samples not yet a whole frame
	pre                   []int16   // pre-roll ring (last PreRollMs of non-region audio)
	offset                int64     // sample index of pending[0]
	floor                 float64   // noise floor, dB
	levels                []float64 // recent frame levels, dB
	hlevels               []float64 // recent frame levels of the first difference (a high-pass), dB
	inRegion              bool
	onset, silent, region int // frame counts
	onsetBuf              []int16
	speechFrom, speechTo  int64     // the open region's speech frames (sample indexes)
	regionStart           int64     // sample index of the open region's first levelled frame
	regionOffset          int64     // sample index of the open region's first sample (its first Audio's Offset)
	regionLv              []float64 // levels of the open region's frames, pre-roll included
	regionHv              []float64 // their high-pass levels
	last                  int16     // the previous frame's last sample
}

// New returns a detector for mono PCM at rate Hz.
func New(cfg Config, rate int) (*Detector, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if rate <= 0 {
		return nil, fmt.Errorf("vad: rate must be positive, got %d", rate)
	}
	return &Detector{cfg: cfg, frame: rate * cfg.FrameMs / 1000}, nil
}

// InRegion reports whether a speech region is open.
func (d *Detector) InRegion() bool { return d.inRegion }

// Write consumes pcm and returns the events it completes.
func (d *Detector) Write(pcm []int16) []Event {
	var ev []Event
	d.pending = append(d.pending, pcm...)
	n := 0
	for ; n+d.frame <= len(d.pending); n += d.frame {
		ev = d.frameEvent(ev, d.pending[n:n+d.frame], d.offset+int64(n))
	}
	d.offset += int64(n)
	d.pending = append(d.pending[:0], d.pending[n:]...)
	return ev
}

// Flush ends the stream: an open region is closed with its remaining audio.
func (d *Detector) Flush() []Event {
	var ev []Event
	if d.inRegion {
		if len(d.pending) > 0 {
			ev = append(ev, Event{Kind: Audio, PCM: append([]int16(nil), d.pending...), Offset: d.offset})
		}
		from, to := d.speechEdges()
		ev = append(ev, Event{Kind: End, Offset: d.offset + int64(len(d.pending)), SpeechFrom: from, SpeechTo: to})
		d.inRegion = false
	}
	d.offset += int64(len(d.pending))
	d.pending = d.pending[:0]
	return ev
}

func levelDB(f []int16) float64 {
	var e float64
	for _, v := range f {
		e += float64(v) * float64(v)
	}
	e /= float64(len(f))
	return 10*math.Log10(e+1e-9) - 90.309 // dBFS (20*log10(32768) = 90.309)
}

// diffLevelDB is the level of the first difference of f (prev is the
// sample before it): a high-pass that keeps the soft fricatives ("s",
// "f", "th") whose energy is too small to raise the frame's level.
func diffLevelDB(f []int16, prev int16) float64 {
	var e float64
	for _, v := range f {
		x := float64(v) - float64(prev)
		e += x * x
		prev = v
	}
	e /= float64(len(f))
	return 10*math.Log10(e+1e-9) - 90.309
}

func (d *Detector) frameEvent(ev []Event, f []int16, off int64) []Event {
	lvl := levelDB(f)
	hlvl := diffLevelDB(f, d.last)
	d.last = f[len(f)-1]
	d.hlevels = append(d.hlevels, hlvl)
	if n := floorWindowMs / d.cfg.FrameMs; len(d.hlevels) > n {
		d.hlevels = d.hlevels[len(d.hlevels)-n:]
	}
	// Noise floor by minimum statistics: the quietest frame of the last
	// floorWindow. Speech has pauses, so the minimum tracks the line noise
	// and follows it up or down within the window.
	d.levels = append(d.levels, lvl)
	if n := floorWindowMs / d.cfg.FrameMs; len(d.levels) > n {
		d.levels = d.levels[len(d.levels)-n:]
	}
	d.floor = math.Inf(1)
	for _, l := range d.levels {
		d.floor = math.Min(d.floor, l)
	}
	speech := lvl > d.floor+d.cfg.ThresholdDB && lvl > d.cfg.MinLevelDB
	frames := func(ms int) int { return max(1, ms/d.cfg.FrameMs) }
	if !d.inRegion {
		if speech {
			d.onset++
			d.onsetBuf = append(d.onsetBuf, f...)
			if d.onset >= frames(d.cfg.OnsetMs) {
				d.inRegion = true
				d.region = d.onset
				d.silent = 0
				d.speechTo = off + int64(len(f))
				d.speechFrom = d.speechTo - int64(len(d.onsetBuf))
				buf := make([]int16, 0, len(d.pre)+len(d.onsetBuf))
				buf = append(append(buf, d.pre...), d.onsetBuf...)
				start := off + int64(len(f)) - int64(len(buf))
				ev = append(ev, Event{Kind: Audio, PCM: buf, Offset: start})
				d.regionOffset = start
				n := min(len(buf)/d.frame, len(d.levels))
				d.regionStart = off + int64(len(f)) - int64(n*d.frame)
				d.regionLv = append(d.regionLv[:0], d.levels[len(d.levels)-n:]...)
				d.regionHv = append(d.regionHv[:0], d.hlevels[len(d.hlevels)-n:]...)
				d.pre = d.pre[:0]
				d.onset = 0
				d.onsetBuf = d.onsetBuf[:0]
			}
			return ev
		}
		// Not speech: onset candidates go back to the pre-roll.
		d.pre = append(d.pre, d.onsetBuf...)
		d.pre = append(d.pre, f...)
		d.onset = 0
		d.onsetBuf = d.onsetBuf[:0]
		if keep := d.cfg.PreRollMs * d.frame / d.cfg.FrameMs; len(d.pre) > keep {
			d.pre = append(d.pre[:0], d.pre[len(d.pre)-keep:]...)
		}
		return ev
	}
	ev = append(ev, Event{Kind: Audio, PCM: append([]int16(nil), f...), Offset: off})
	d.regionLv = append(d.regionLv, lvl)
	d.regionHv = append(d.regionHv, hlvl)
	d.region++
	if speech {
		d.silent = 0
		d.speechTo = off + int64(len(f))
	} else {
		d.silent++
	}
	if d.silent >= frames(d.cfg.HangoverMs) || d.region >= frames(d.cfg.MaxRegionMs) {
		d.inRegion = false
		d.silent, d.region = 0, 0
		from, to := d.speechEdges()
		ev = append(ev, Event{Kind: End, Offset: off + int64(len(f)), SpeechFrom: from, SpeechTo: to})
	}
	return ev
}

// OpenSpeech returns, while a region is open, the Offset of its first
// Audio event and its speech bounds so far (as End's SpeechFrom and
// SpeechTo): a recogniser may end an utterance on its own during the
// hangover, before End.
func (d *Detector) OpenSpeech() (region, from, to int64, ok bool) {
	if !d.inRegion {
		return 0, 0, 0, false
	}
	from, to = d.speechEdges()
	return d.regionOffset, from, to, true
}

// edgeMarginDB is how far above the quiet of its own region a frame must
// be to count as a speech edge.
const edgeMarginDB = 15

// highPassMarginDB is the margin of the high-pass level: wider than the
// level's, as breaths and clicks show in the high-pass level too. Chosen
// on the development calls of the speaker metrics ground truth (with the
// quiet over the whole region, 15 dB stretched utterances by ~100 ms and
// 25 dB no longer kept the fricatives; with the idle line left out of the
// quiet, 20 dB gave a mean silence error by the edges alone of 120-150
// ms, 15 dB 218 ms).
const highPassMarginDB = 20

// digitalSilenceDB: frames below it hold no signal at all (zeros, or the
// last bit flickering), not the background of a recording or a line.
const digitalSilenceDB = -90

// speechEdges bounds the open region's speech more tightly than the
// detector's own speech frames, whose threshold follows the noise floor
// of the last seconds (over digital silence between recordings, or a
// line that was silent, that floor is far below the recording's own
// background, and the background counts as speech): the first and last
// frames more than edgeMarginDB above the region's quiet in level, or
// more than highPassMarginDB above it in high-pass level (a soft
// fricative ending a word, the "s" of "was", barely raises a frame's
// level but does its high-pass level: over 8 kHz mu-law calls the level
// alone cut such endings by ~300 ms, over 16 kHz ones ~60 ms), within the
// detector's speech frames. The region's quiet is the 10th percentile of
// its frames' levels, pre-roll and hangover included, leaving out
// digital silence and an idle line (see below).
func (d *Detector) speechEdges() (from, to int64) {
	from, to = d.speechFrom, d.speechTo
	if len(d.regionLv) == 0 {
		return from, to
	}
	// Frames so far below the quiet of the speech span itself that the
	// span's quiet frames would be speech over them are not the
	// speaker's background but an idle line or a gap between recordings
	// (a mu-law channel's idle noise, a muted microphone): counted, they
	// would put the quiet under the background that the speaker's own
	// audio carries, and that background would count as speech.
	lo := max(int((from-d.regionStart)/int64(d.frame)), 0)
	hi := min(int((to-d.regionStart+int64(d.frame)-1)/int64(d.frame)), len(d.regionLv))
	var span []float64
	for i := lo; i < hi; i++ {
		if l := d.regionLv[i]; l > digitalSilenceDB {
			span = append(span, l)
		}
	}
	idle := float64(digitalSilenceDB)
	if len(span) > 0 {
		slices.Sort(span)
		idle = max(idle, span[len(span)/10]-edgeMarginDB)
	}
	var heard, heardH []float64 // frames that are neither digital silence nor an idle line
	for i, l := range d.regionLv {
		if l > idle {
			heard = append(heard, l)
			heardH = append(heardH, d.regionHv[i])
		}
	}
	slices.Sort(heard)
	slices.Sort(heardH)
	quiet, quietH := heard[len(heard)/10], heardH[len(heardH)/10]
	first, last := -1, -1
	for i, l := range d.regionLv {
		hp := d.regionHv[i] > quietH+highPassMarginDB
		if (l > quiet+edgeMarginDB || hp) && l > d.cfg.MinLevelDB {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	if first < 0 {
		return from, to
	}
	lf := d.regionStart + int64(first*d.frame)
	lt := d.regionStart + int64((last+1)*d.frame)
	if f, t := max(from, lf), min(to, lt); t > f {
		return f, t
	}
	return from, to
}
