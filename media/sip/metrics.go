package sip

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the signalling and transport counters. Decoding, losses,
// inserted silence and audio seconds are counted by the media pipeline
// under source "sip".
type metrics struct {
	calls       prometheus.Gauge
	callsTotal  *prometheus.CounterVec // kind: siprec, plain
	refused     *prometheus.CounterVec // reason
	ended       *prometheus.CounterVec // reason
	malformed   prometheus.Counter
	reinvites   prometheus.Counter
	packets     *prometheus.CounterVec // codec
	dropped     *prometheus.CounterVec // reason
	rtcp        prometheus.Counter
	ssrcChanges prometheus.Counter
	dtmf        prometheus.Counter
	delay       prometheus.Histogram
	tcpConns    prometheus.Gauge
	tcpRefused  *prometheus.CounterVec // reason
	tcpClosed   *prometheus.CounterVec // reason
	sent        *prometheus.CounterVec // result: ok, error
	transfers   *prometheus.CounterVec // result
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	opts := func(name, help string) prometheus.CounterOpts {
		return prometheus.CounterOpts{Namespace: "earshot", Subsystem: "sip", Name: name, Help: help}
	}
	m := &metrics{
		calls: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "earshot", Subsystem: "sip",
			Name: "calls", Help: "SIP calls currently recorded."}),
		callsTotal: prometheus.NewCounterVec(opts("calls_total", "SIP calls accepted (200 OK), by kind (siprec, plain, bot)."), []string{"kind"}),
		refused: prometheus.NewCounterVec(opts("refusals_total",
			"SIP requests refused, by reason (forbidden_source, auth_required, auth_stale, auth_replay, auth_failed, bad_body, unsupported_body, not_acceptable, too_many_streams, too_large, too_many_calls, no_ports, busy, engagement, unknown_dialog, duplicate_call, method_not_allowed, internal)."), []string{"reason"}),
		ended: prometheus.NewCounterVec(opts("calls_ended_total",
			"SIP calls ended, by reason (bye, rtp_timeout, hold_timeout, engagement_ended, shutdown, bot_ended, transferred)."), []string{"reason"}),
		malformed: prometheus.NewCounter(opts("malformed_messages_total", "SIP datagrams that do not parse as SIP messages (dropped).")),
		reinvites: prometheus.NewCounter(opts("reinvites_total", "Re-INVITEs and UPDATEs answered within a call.")),
		packets:   prometheus.NewCounterVec(opts("rtp_packets_total", "RTP packets accepted, by codec."), []string{"codec"}),
		dropped: prometheus.NewCounterVec(opts("rtp_packets_dropped_total",
			"RTP packets dropped before decoding, by reason (malformed, source_not_allowed, unexpected_source, payload_type, comfort_noise, empty, oversized, late)."), []string{"reason"}),
		rtcp:        prometheus.NewCounter(opts("rtcp_packets_total", "RTCP packets received and ignored.")),
		ssrcChanges: prometheus.NewCounter(opts("ssrc_changes_total", "RTP streams whose SSRC changed mid-call.")),
		dtmf:        prometheus.NewCounter(opts("dtmf_events_total", "RFC 4733 DTMF digits received.")),
		tcpConns: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "earshot", Subsystem: "sip",
			Name: "tcp_connections", Help: "SIP TCP and TLS connections open."}),
		tcpRefused: prometheus.NewCounterVec(opts("tcp_connections_refused_total",
			"SIP TCP and TLS connections closed on arrival, by reason (forbidden_source, too_many_connections, too_many_from_source)."), []string{"reason"}),
		tcpClosed: prometheus.NewCounterVec(opts("tcp_connections_closed_total",
			"SIP TCP and TLS connections the server closed, by reason (idle_timeout, too_large, malformed)."), []string{"reason"}),
		sent: prometheus.NewCounterVec(opts("rtp_packets_sent_total", "RTP packets a bot sent to its callers, by result (ok, error)."), []string{"result"}),
		transfers: prometheus.NewCounterVec(opts("transfers_total",
			"Bot calls transferred with REFER, by result (accepted, refused, timeout, error)."), []string{"result"}),
		delay: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "earshot", Subsystem: "sip",
			Name: "rtp_to_pipeline_seconds", Help: "Time from an RTP packet's arrival to its hand-over to the media pipeline (reorder buffer included).",
			Buckets: []float64{0.00001, 0.00002, 0.000035, 0.00005, 0.000075, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25}}),
	}
	for _, c := range []prometheus.Collector{m.calls, m.callsTotal, m.refused, m.ended, m.malformed, m.reinvites,
		m.packets, m.dropped, m.rtcp, m.ssrcChanges, m.dtmf, m.delay, m.tcpConns, m.tcpRefused, m.tcpClosed, m.sent, m.transfers} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("sip: register metrics: %w", err)
		}
	}
	return m, nil
}
