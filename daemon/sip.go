package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"slices"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/earshot/earshot/media/ingest"
	"github.com/earshot/earshot/media/sip"
)

// SIPConfig configures SIP and SIPREC ingest (media.sip). The section is
// off unless enabled; keys left out of a present section take the
// defaults of sip.DefaultConfig.
type SIPConfig struct {
	// Enabled starts the SIP server with the daemon.
	Enabled bool `yaml:"enabled"`
	// DefaultQueue is the queue of calls whose headers name none (see
	// Headers, e.g. X-Queue: queue).
	DefaultQueue string `yaml:"default_queue"`
	// Queues are the other queues a call's headers may name; a call naming
	// any other queue is refused (SIP 403). SIP calls carry no token: this
	// is their ingest scope.
	Queues []string `yaml:"queues"`
	// Direction is the engagement direction of calls whose headers name
	// none: inbound (default) or outbound.
	Direction string `yaml:"direction"`
	// AgentUser, if set, is a regular expression with one capturing group
	// applied to the address of record of the participant mapped to the
	// agent: the group is the agent's user ID (e.g. `^sip:(\d{4})@` for
	// users named by extension). Unknown users are left out.
	AgentUser  string `yaml:"agent_user"`
	sip.Config `yaml:",inline"`
}

// DefaultSIPConfig returns the SIP defaults (disabled).
func DefaultSIPConfig() SIPConfig {
	return SIPConfig{Direction: "inbound", Config: sip.DefaultConfig()}
}

// UnmarshalYAML decodes a present section over the defaults.
func (c *SIPConfig) UnmarshalYAML(unmarshal func(any) error) error {
	type plain SIPConfig
	p := plain(DefaultSIPConfig())
	if err := unmarshal(&p); err != nil {
		return err
	}
	*c = SIPConfig(p)
	return nil
}

// Validate checks an enabled section.
func (c SIPConfig) Validate() error {
	if !c.Enabled {
		return nil
	}
	if c.Direction != "inbound" && c.Direction != "outbound" {
		return fmt.Errorf("sip: direction must be inbound or outbound, got %q", c.Direction)
	}
	if c.AgentUser != "" {
		re, err := regexp.Compile(c.AgentUser)
		if err != nil {
			return fmt.Errorf("sip: agent_user: %w", err)
		}
		if re.NumSubexp() != 1 {
			return fmt.Errorf("sip: agent_user %q must have exactly one capturing group", c.AgentUser)
		}
	}
	return c.Config.Validate()
}

// sipIngest runs the SIP recording server: every call opens a hub and a
// pipeline engagement through the media router, like the WHIP and
// WebSocket sessions.
type sipIngest struct {
	srv *sip.Server
}

// newSIPIngest builds the SIP server; nil (and no error) when disabled.
func newSIPIngest(m *mediaRouter, cfg SIPConfig, logger *slog.Logger, reg prometheus.Registerer) (*sipIngest, error) {
	if !cfg.Enabled {
		return nil, nil
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	o := sipOpener{m: m, cfg: cfg}
	if cfg.AgentUser != "" {
		o.agentUser = regexp.MustCompile(cfg.AgentUser)
	}
	srv, err := sip.New(cfg.Config, logger, reg, o)
	if err != nil {
		return nil, err
	}
	if len(cfg.Bots) > 0 {
		srv.SetBotOpener(voiceOpener{m})
	}
	return &sipIngest{srv: srv}, nil
}

// run serves SIP until ctx is done, then ends the calls (their last
// segments reach the hub before the media router closes). A nil
// sipIngest waits for ctx.
func (s *sipIngest) run(ctx context.Context) error {
	if s == nil {
		<-ctx.Done()
		return nil
	}
	return s.srv.Run(ctx)
}

type sipOpener struct {
	m         *mediaRouter
	cfg       SIPConfig
	agentUser *regexp.Regexp
}

func (o sipOpener) Open(ctx context.Context, meta sip.Meta) (ingest.Engagement, error) {
	params := map[string]string{}
	for k, v := range meta.Fields {
		params[k] = v
	}
	if params["queue"] == "" {
		params["queue"] = o.cfg.DefaultQueue
	}
	if params["direction"] == "" {
		params["direction"] = o.cfg.Direction
	}
	if q := params["queue"]; q != o.cfg.DefaultQueue && !slices.Contains(o.cfg.Queues, q) {
		o.m.d.hub.CountRefused("scope")
		return nil, &scopeError{"queue " + q + " is not one of the SIP section's queues"}
	}
	if params["agent"] == "" && o.agentUser != nil {
		for _, p := range meta.Participants {
			if p.Party != ingest.PartyAgent {
				continue
			}
			// A participant mapped to a user who does not handle the
			// queue is left out: naming them would give them the call.
			if g := o.agentUser.FindStringSubmatch(p.AoR); len(g) == 2 {
				if u, err := o.m.d.store.User(g[1]); err == nil && !u.Disabled && slices.Contains(u.Queues, params["queue"]) {
					params["agent"] = g[1]
				}
			}
		}
	}
	live, pe, err := o.m.open(ctx, "sip", nil, params, meta.RemoteAddr)
	if err != nil {
		return nil, err
	}
	// The call's identity and participants are engagement events (stored
	// with the engagement, never logged).
	live.Publish("sip.call", map[string]any{"call_id": meta.CallID, "session_id": meta.SessionID, "siprec": meta.SIPREC,
		"participants": meta.Participants})
	return sipSession{&ingestEngagement{live: live, pe: pe}, o.m.d.quality}, nil
}

// sipSession is an ingestEngagement that also publishes the recording
// metadata updates of a SIPREC call as sip.participants events, and the
// hold and resumption of its streams as hold events (which the speaker
// metrics count).
type sipSession struct {
	*ingestEngagement
	q *quality
}

func (s sipSession) Hold(p ingest.Party, held bool) {
	at := s.q.hold(s.live.ID(), s.pe.Origin(), string(p), held)
	s.live.Publish(EventHold, map[string]any{"party": string(p), "held": held, "at_ms": at})
}

func (s sipSession) Participants(ps []sip.Participant) {
	s.live.Publish("sip.participants", map[string]any{"participants": ps})
}

var _ sip.HoldReceiver = sipSession{}
