package whip

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	sessions      prometheus.Gauge
	sessionsTotal prometheus.Counter
	refused       *prometheus.CounterVec // reason
	ended         *prometheus.CounterVec // reason
	packets       *prometheus.CounterVec // codec
	lost          *prometheus.CounterVec // codec
	late          *prometheus.CounterVec // codec
	dropped       *prometheus.CounterVec // codec, reason
	decodeErrors  *prometheus.CounterVec // codec
	audioSeconds  *prometheus.CounterVec // source, codec
	silenceSecs   *prometheus.CounterVec // codec
	gaps          *prometheus.CounterVec // codec
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
			"WHIP offers refused, by reason (bad_request, bad_sdp, unsupported_codec, too_many_sessions, engagement, internal)."), []string{"reason"}),
		ended: prometheus.NewCounterVec(opts("sessions_ended_total",
			"WHIP sessions ended, by reason (delete, ice_failed, connect_timeout, idle_timeout, shutdown)."), []string{"reason"}),
		packets: prometheus.NewCounterVec(opts("rtp_packets_total", "RTP packets received, by codec."), []string{"codec"}),
		lost: prometheus.NewCounterVec(opts("rtp_packets_lost_total",
			"RTP packets never received (sequence number gaps), by codec."), []string{"codec"}),
		late: prometheus.NewCounterVec(opts("rtp_packets_late_total",
			"RTP packets dropped because they arrived after a later packet (reordered or duplicate), by codec."), []string{"codec"}),
		dropped: prometheus.NewCounterVec(opts("rtp_packets_dropped_total",
			"RTP packets dropped as invalid, by codec and reason (oversized, empty)."), []string{"codec", "reason"}),
		decodeErrors: prometheus.NewCounterVec(opts("decode_errors_total",
			"RTP payloads that failed to decode, by codec."), []string{"codec"}),
		audioSeconds: prometheus.NewCounterVec(opts("audio_seconds_total",
			"Seconds of audio decoded, by source and codec."), []string{"source", "codec"}),
		silenceSecs: prometheus.NewCounterVec(opts("inserted_silence_seconds_total",
			"Seconds of silence inserted for lost packets, decode errors and stream pauses, by codec."), []string{"codec"}),
		gaps: prometheus.NewCounterVec(opts("gaps_total",
			"Gaps in a stream filled with silence, by codec."), []string{"codec"}),
	}
	for _, c := range []prometheus.Collector{m.sessions, m.sessionsTotal, m.refused, m.ended, m.packets,
		m.lost, m.late, m.dropped, m.decodeErrors, m.audioSeconds, m.silenceSecs, m.gaps} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("whip: register metrics: %w", err)
		}
	}
	return m, nil
}
