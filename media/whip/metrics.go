package whip

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the signalling and transport counters. Decoding, packet loss
// and lateness, inserted silence and audio seconds are counted by the media
// pipeline under source "whip".
type metrics struct {
	sessions      prometheus.Gauge
	sessionsTotal prometheus.Counter
	refused       *prometheus.CounterVec // reason
	sessRefused   *prometheus.CounterVec // method, reason
	ended         *prometheus.CounterVec // reason
	packets       *prometheus.CounterVec // codec
	dropped       *prometheus.CounterVec // codec, reason
	reordered     *prometheus.CounterVec // codec
	legOut        *prometheus.CounterVec // kind
	voiceCodec    *prometheus.CounterVec // codec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	opts := func(name, help string) prometheus.CounterOpts {
		return prometheus.CounterOpts{Namespace: "earshot", Subsystem: "whip", Name: name, Help: help}
	}
	m := &metrics{
		sessions: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "earshot", Subsystem: "whip",
			Name: "sessions", Help: "WHIP sessions currently open."}),
		sessionsTotal: prometheus.NewCounter(opts("sessions_total", "WHIP sessions accepted (201 Created).")),
		refused: prometheus.NewCounterVec(opts("refusals_total",
			"WHIP offers refused, by reason (bad_request, too_large, bad_sdp, unsupported_codec, too_many_sessions, busy, engagement, internal)."), []string{"reason"}),
		sessRefused: prometheus.NewCounterVec(opts("session_refusals_total",
			"Requests on a WHIP session (PATCH, DELETE) refused, by method and reason (not_found, bad_request, too_large, too_many_candidates, ice_restart, bad_candidate)."), []string{"method", "reason"}),
		ended: prometheus.NewCounterVec(opts("sessions_ended_total",
			"WHIP sessions ended, by reason (delete, ice_failed, closed, connect_timeout, idle_timeout, engagement_ended, shutdown)."), []string{"reason"}),
		packets: prometheus.NewCounterVec(opts("rtp_packets_total", "RTP packets received, by codec."), []string{"codec"}),
		dropped: prometheus.NewCounterVec(opts("rtp_packets_dropped_total",
			"RTP packets dropped before decoding, by codec and reason (oversized, empty)."), []string{"codec", "reason"}),
		reordered: prometheus.NewCounterVec(opts("rtp_packets_reordered_total",
			"RTP packets that arrived early and were put back in order by the jitter buffer, by codec."), []string{"codec"}),
		legOut: prometheus.NewCounterVec(opts("sent_total",
			"What two-way (bot) sessions sent, by kind (rtp packets, mark reached, clear, write_failed, encode_failed)."), []string{"kind"}),
		voiceCodec: prometheus.NewCounterVec(opts("voice_sessions_total",
			"Two-way (bot) sessions started, by the codec of the call (opus, pcmu, pcma)."), []string{"codec"}),
	}
	for _, c := range []prometheus.Collector{m.sessions, m.sessionsTotal, m.refused, m.sessRefused, m.ended, m.packets, m.dropped, m.reordered, m.legOut, m.voiceCodec} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("whip: register metrics: %w", err)
		}
	}
	return m, nil
}
