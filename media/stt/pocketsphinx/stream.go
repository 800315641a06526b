package pocketsphinx

import (
	"errors"
	"strings"
	"time"

	"github.com/earshot/earshot/media/stt"
)

// chunk is the 20 ms block fed to ps_process_raw.
const chunk = stt.Rate / 50

type stream struct {
	e            *Engine
	d            *decoder
	pending      []int16
	fed          int64 // samples processed by the decoder
	uttStart     int64 // fed index at ps_start_utt
	lastPartial  int64
	partialEvery int64
	closed       bool
	cmnEvery     int64 // samples between live CMN updates (0: at utterance ends only)
	lastCMN      int64
	cpu0         float64 // decoder CPU when the stream started
}

func ms(samples int64) int64 { return samples * 1000 / stt.Rate }

// Write implements stt.Stream.
func (s *stream) Write(pcm []int16) ([]stt.Result, error) {
	if s.closed {
		return nil, errors.New("pocketsphinx: stream closed")
	}
	s.pending = append(s.pending, pcm...)
	var res []stt.Result
	var err error
	s.d.do(func() {
		n := 0
		for ; n+chunk <= len(s.pending); n += chunk {
			if !s.d.inUtt {
				if err = s.d.startUtt(); err != nil {
					return
				}
				s.uttStart = s.fed
			}
			if err = s.d.processRaw(s.pending[n : n+chunk]); err != nil {
				return
			}
			s.fed += chunk
			if s.cmnEvery > 0 && s.fed-s.lastCMN >= s.cmnEvery {
				s.lastCMN = s.fed
				s.d.updateCMN()
			}
			if s.d.inSpeech() {
				s.d.speech = true
			} else if s.d.speech {
				// The decoder's own VAD closed the utterance.
				var r stt.Result
				if r, err = s.final(); err != nil {
					return
				}
				res = append(res, r)
			}
		}
		s.pending = append(s.pending[:0], s.pending[n:]...)
		if s.d.inUtt && s.d.speech && s.partialEvery > 0 && s.fed-s.lastPartial >= s.partialEvery {
			s.lastPartial = s.fed
			if h := cleanText(s.d.hyp()); h != "" {
				res = append(res, stt.Result{Text: h, StartMs: ms(s.uttStart), EndMs: ms(s.fed)})
			}
		}
	})
	return res, err
}

// EndUtterance implements stt.Stream.
func (s *stream) EndUtterance() ([]stt.Result, error) {
	if s.closed {
		return nil, errors.New("pocketsphinx: stream closed")
	}
	var res []stt.Result
	var err error
	s.d.do(func() {
		if len(s.pending) > 0 {
			if !s.d.inUtt {
				if err = s.d.startUtt(); err != nil {
					return
				}
				s.uttStart = s.fed
			}
			if err = s.d.processRaw(s.pending); err != nil {
				return
			}
			s.fed += int64(len(s.pending))
			s.pending = s.pending[:0]
		}
		if s.d.inUtt {
			var r stt.Result
			if r, err = s.final(); err != nil {
				return
			}
			res = append(res, r)
		}
	})
	return res, err
}

// final ends the utterance and reads its hypothesis (decoder thread).
func (s *stream) final() (stt.Result, error) {
	if err := s.d.endUtt(); err != nil {
		return stt.Result{}, err
	}
	s.d.speech = false
	r := stt.Result{Final: true, StartMs: ms(s.uttStart), EndMs: ms(s.fed)}
	var texts []string
	for _, w := range s.d.words() {
		t := cleanWord(w.word)
		if t == "" {
			continue
		}
		conf := w.confidence
		if conf > 1 {
			conf = 1
		}
		// Word frames (10 ms) count from the stream's start, like fed.
		r.Words = append(r.Words, stt.Word{Text: t, StartMs: int64(w.sf) * 10, EndMs: int64(w.ef+1) * 10, Confidence: conf})
		texts = append(texts, t)
	}
	if len(r.Words) > 0 {
		r.StartMs = r.Words[0].StartMs
		r.EndMs = r.Words[len(r.Words)-1].EndMs
		r.Text = strings.Join(texts, " ")
	} else {
		r.Text = cleanText(s.d.hyp())
	}
	return r, nil
}

func cleanText(h string) string {
	var out []string
	for _, w := range strings.Fields(h) {
		if t := cleanWord(w); t != "" {
			out = append(out, t)
		}
	}
	return strings.Join(out, " ")
}

// CPUTime returns the CPU time the decoder thread spent on this stream
// (thread CPU clock, so it is not inflated by other processes' load).
func (s *stream) CPUTime() time.Duration {
	var c float64
	s.d.do(func() {})
	c = s.d.cpu - s.cpu0
	return time.Duration(c * float64(time.Second))
}

// Close implements stt.Stream: the decoder goes back to the pool.
func (s *stream) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	s.d.do(func() {
		if s.d.inUtt {
			_ = s.d.endUtt()
		}
	})
	s.e.put(s.d)
	return nil
}
