package tts

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	syntheses    *prometheus.CounterVec   // engine, voice, outcome
	audioSeconds *prometheus.CounterVec   // engine, voice
	rtf          *prometheus.HistogramVec // engine
	firstAudio   *prometheus.HistogramVec // engine
	cacheHits    prometheus.Counter
	cacheMisses  prometheus.Counter
	fallbacks    *prometheus.CounterVec // engine, reason
	refused      *prometheus.CounterVec // reason
}

func newMetrics(reg prometheus.Registerer, f *Front) (*metrics, error) {
	const ns, sub = "earshot", "tts"
	m := &metrics{
		syntheses: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "syntheses_total", Help: "Prompt chunks (sentences) synthesised, by engine, voice and outcome (ok, failed, canceled)."},
			[]string{"engine", "voice", "outcome"}),
		audioSeconds: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "audio_seconds_total", Help: "Seconds of speech produced, by engine and voice (cache hits included under engine \"cache\")."},
			[]string{"engine", "voice"}),
		rtf: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub,
			Name:    "real_time_factor",
			Help:    "Engine wall time (receiver time excluded) divided by the audio duration, per chunk.",
			Buckets: []float64{0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2}}, []string{"engine"}),
		firstAudio: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub,
			Name:    "first_audio_seconds",
			Help:    "From a prompt's start to its first audio chunk.",
			Buckets: []float64{0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1, 2, 5}}, []string{"engine"}),
		cacheHits: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "cache_hits_total", Help: "Static prompts served from the prompt cache."}),
		cacheMisses: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "cache_misses_total", Help: "Static prompts not in the prompt cache."}),
		fallbacks: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "fallbacks_total", Help: "Turns that fell back to the built-in voice, by the failing engine and reason."},
			[]string{"engine", "reason"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "prompts_refused_total", Help: "Prompts refused, by reason (too_long, bad_rate, no_voice)."}, []string{"reason"}),
	}
	cs := []prometheus.Collector{m.syntheses, m.audioSeconds, m.rtf, m.firstAudio, m.cacheHits, m.cacheMisses, m.fallbacks, m.refused,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub, Name: "cache_bytes",
			Help: "Bytes of audio held by the prompt cache (memory only)."}, func() float64 {
			_, b := f.cache.size()
			return float64(b)
		}),
	}
	for name, e := range f.engines {
		if cm, ok := e.(CPUMeter); ok {
			cs = append(cs, prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
				Name: "cpu_seconds_total", Help: "Thread CPU time spent synthesising, by engine (divide by audio_seconds_total for CPU per audio second).",
				ConstLabels: prometheus.Labels{"engine": name}}, func() float64 { return cm.CPUTime().Seconds() }))
		}
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("tts: register metrics: %w", err)
		}
	}
	return m, nil
}
