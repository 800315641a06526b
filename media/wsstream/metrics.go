package wsstream

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the protocol counters; decoding, gaps and audio seconds are
// counted by the media pipeline under source "websocket".
type metrics struct {
	streams  prometheus.Gauge
	started  *prometheus.CounterVec // format
	refused  *prometheus.CounterVec // reason
	ended    *prometheus.CounterVec // reason
	messages *prometheus.CounterVec // format, kind
	bad      *prometheus.CounterVec // format, reason
	// Two-way (bot) streams.
	out         *prometheus.CounterVec // kind
	marksEchoed prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	opts := func(name, help string) prometheus.CounterOpts {
		return prometheus.CounterOpts{Namespace: "earshot", Subsystem: "wsstream", Name: name, Help: help}
	}
	m := &metrics{
		streams: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "earshot", Subsystem: "wsstream",
			Name: "streams", Help: "WebSocket media streams currently connected."}),
		started: prometheus.NewCounterVec(opts("streams_total", "Streams whose engagement was opened, by format (twilio, pcm)."), []string{"format"}),
		refused: prometheus.NewCounterVec(opts("refusals_total",
			"Streams refused, by reason (too_many_streams, upgrade, busy, engagement, bad_format)."), []string{"reason"}),
		ended: prometheus.NewCounterVec(opts("streams_ended_total",
			"Streams ended, by reason (stop, client_closed, idle_timeout, oversized, bad_messages, read_error, engagement_ended, request_ended, shutdown, refused)."), []string{"reason"}),
		messages: prometheus.NewCounterVec(opts("messages_total",
			"Messages received, by format and kind (Twilio event name, metadata, audio)."), []string{"format", "kind"}),
		bad: prometheus.NewCounterVec(opts("bad_messages_total",
			"Invalid messages skipped, by format and reason."), []string{"format", "reason"}),
		out: prometheus.NewCounterVec(opts("sent_total",
			"Messages sent to two-way (bot) Twilio streams, by kind (media frames, mark, clear) and failures (write_failed, mark_overflow: a mark released unechoed)."), []string{"kind"}),
		marksEchoed: prometheus.NewCounter(opts("marks_echoed_total", "Marks the far end echoed back (its playback reached them).")),
	}
	for _, c := range []prometheus.Collector{m.streams, m.started, m.refused, m.ended, m.messages, m.bad, m.out, m.marksEchoed} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("wsstream: register metrics: %w", err)
		}
	}
	return m, nil
}
