package daemon

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/earshot/earshot/store"
)

// Feature names an AI feature that can be switched on or off.
type Feature string

// FeatureInfo describes one feature of the registry.
type FeatureInfo struct {
	Name        Feature `json:"name"`
	Description string  `json:"description"`
	// Default is the setting when nobody configured it.
	Default bool `json:"default"`
	// Licensed features (expert assist) are on only for users holding a
	// licence, whatever the settings say.
	Licensed bool `json:"licensed"`
}

// Features is the registry of every AI feature. Every feature calls
// Controls.Decide before it computes or returns anything.
var Features = []FeatureInfo{
	{"engagement_preview", "Summary of the customer's previous engagements before an agent accepts", true, false},
	{"engagement_summary", "Engagement summary with highlighted keywords", true, false},
	{"sentiment", "Real-time customer sentiment per utterance and as a trend", true, false},
	{"follow_up_tasks", "Follow-up tasks extracted from the conversation", true, false},
	{"kb_retrieval", "Live knowledge-base articles relevant to the conversation", true, true},
	{"info_retrieval", "Customer data from third-party systems via plugins, driven by intents", false, true},
	{"smart_notes", "Draft wrap-up note the agent edits and saves", true, false},
	{"recommended_disposition", "Disposition code recommended from the site's own codes", true, false},
	{"auto_translate", "Translation of messages between the customer's and the agent's languages", false, false},
	{"next_best_action", "Detected intents mapped to recommended actions", true, true},
	{"top_escalation", "Live engagements that need a supervisor's attention, ranked", true, true},
	{"speaker_metrics", "Talk/listen ratio, words per minute, interruptions, overtalk, silence", true, false},
	{"interaction_analytics", "Summary, sentiment trend, next steps, callouts and topics for quality review", true, false},
	{"ask_anything", "Questions over transcripts answered with cited segments", true, false},
	{"auto_qm", "Automatic quality scorecards with justification and evidence", false, false},
	{"topic_detection", "Topics detected across engagements", true, false},
	{"virtual_agent", "Virtual agent for chat and voice", false, false},
	{"forecasting", "Workforce forecasts and staffing plans", true, false},
	{featurePIIRedaction, "Redaction of card numbers, national IDs, bank and contact details before anything is stored, shown or handed over", false, false},
}

func featureInfo(f Feature) (FeatureInfo, bool) {
	i := slices.IndexFunc(Features, func(fi FeatureInfo) bool { return fi.Name == f })
	if i < 0 {
		return FeatureInfo{}, false
	}
	return Features[i], true
}

// FeatureSetting is one setting of one feature at one level. A nil Enabled
// means "inherit from the level above".
type FeatureSetting struct {
	Enabled *bool `json:"enabled,omitempty"`
	// Locked is valid at account level only: the account's value then
	// applies to every queue and user.
	Locked bool `json:"locked,omitempty"`
}

// FeatureSettings are every feature setting of the site.
type FeatureSettings struct {
	// LocalModelsOnly blocks every third-party model; nil means the
	// configuration file's value.
	LocalModelsOnly *bool                                 `json:"local_models_only,omitempty"`
	Account         map[Feature]FeatureSetting            `json:"account,omitempty"`
	Queues          map[string]map[Feature]FeatureSetting `json:"queues,omitempty"`
	Users           map[string]map[Feature]FeatureSetting `json:"users,omitempty"`
}

// Decision is the effective setting of a feature for a queue and a user,
// with the level that decided it.
type Decision struct {
	Feature Feature `json:"feature"`
	On      bool    `json:"on"`
	// Source is default, account, locked, queue, user, licence or unknown.
	Source string `json:"source"`
}

// Decide resolves feature f for an engagement in queue handled by user
// (either may be empty). The most specific level wins, except that an
// account-level lock cannot be overridden; a licensed feature is off for a
// user without a licence (and for engagements without an agent).
func (s *FeatureSettings) Decide(f Feature, queue string, user *store.User) Decision {
	info, ok := featureInfo(f)
	if !ok {
		return Decision{Feature: f, On: false, Source: "unknown"}
	}
	d := Decision{Feature: f, On: info.Default, Source: "default"}
	if a, ok := s.Account[f]; ok {
		if a.Enabled != nil {
			d.On, d.Source = *a.Enabled, "account"
		}
		if a.Locked {
			d.Source = "locked"
		}
	}
	if d.Source != "locked" {
		if q, ok := s.Queues[queue][f]; ok && queue != "" && q.Enabled != nil {
			d.On, d.Source = *q.Enabled, "queue"
		}
		if user != nil {
			if u, ok := s.Users[user.ID][f]; ok && u.Enabled != nil {
				d.On, d.Source = *u.Enabled, "user"
			}
		}
	}
	if d.On && info.Licensed && (user == nil || !user.Licensed) {
		d.On, d.Source = false, "licence"
	}
	return d
}

// validate checks every name and the lock rule.
func (s *FeatureSettings) validate() error {
	check := func(level string, m map[Feature]FeatureSetting, lockOK bool) error {
		for f, v := range m {
			if _, ok := featureInfo(f); !ok {
				return fmt.Errorf("%s: unknown feature %q", level, f)
			}
			if v.Locked && !lockOK {
				return fmt.Errorf("%s: feature %q: locked is allowed at account level only", level, f)
			}
			if v.Locked && v.Enabled == nil {
				return fmt.Errorf("%s: feature %q: locked needs enabled", level, f)
			}
		}
		return nil
	}
	if err := check("account", s.Account, true); err != nil {
		return err
	}
	for q, m := range s.Queues {
		if err := check("queue "+q, m, false); err != nil {
			return err
		}
	}
	for u, m := range s.Users {
		if err := check("user "+u, m, false); err != nil {
			return err
		}
	}
	return nil
}

const settingFeatures = "features"

// Controls answers "is feature F on for this engagement?" for every
// feature of the daemon. It keeps the settings in memory and writes every
// change through to the store.
type Controls struct {
	st                     *store.Store
	defaultLocalModelsOnly bool

	mu sync.RWMutex
	// +checklocks:mu
	cur FeatureSettings
}

func newControls(st *store.Store, localModelsOnly bool) (*Controls, error) {
	c := &Controls{st: st, defaultLocalModelsOnly: localModelsOnly}
	if err := st.Setting(settingFeatures, &c.cur); err != nil && err != store.ErrNotFound {
		return nil, fmt.Errorf("daemon: load feature settings: %w", err)
	}
	return c, nil
}

// Decide resolves feature f for a queue and a user ID (either may be
// empty). An unknown user is treated as no user.
func (c *Controls) Decide(f Feature, queue, userID string) Decision {
	var u *store.User
	if userID != "" {
		if usr, err := c.st.User(userID); err == nil && !usr.Disabled {
			u = &usr
		}
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.cur.Decide(f, queue, u)
}

// Enabled is Decide(...).On.
func (c *Controls) Enabled(f Feature, queue, userID string) bool {
	return c.Decide(f, queue, userID).On
}

// EnabledForQueue resolves f for a queue without a user and without the
// licence check: whether a feature's data is computed at all. Whether a
// user sees it is Decide's answer for that user.
func (c *Controls) EnabledForQueue(f Feature, queue string) bool {
	licensed := store.User{ID: "", Licensed: true}
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.cur.Decide(f, queue, &licensed).On
}

// LocalModelsOnly reports whether third-party models are blocked.
func (c *Controls) LocalModelsOnly() bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.cur.LocalModelsOnly != nil {
		return *c.cur.LocalModelsOnly
	}
	return c.defaultLocalModelsOnly
}

// Settings returns a deep copy of the current settings.
func (c *Controls) Settings() FeatureSettings {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return cloneSettings(c.cur)
}

// Update applies fn to a copy of the settings, validates and stores the
// result with its audit entries in one transaction, and only then makes it
// current.
func (c *Controls) Update(ctx context.Context, fn func(*FeatureSettings) error, audit ...store.AuditEntry) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	next := cloneSettings(c.cur)
	if err := fn(&next); err != nil {
		return err
	}
	if err := next.validate(); err != nil {
		return err
	}
	if err := c.st.PutSetting(ctx, settingFeatures, next, audit...); err != nil {
		return fmt.Errorf("daemon: store feature settings: %w", err)
	}
	c.cur = next
	return nil
}

func cloneSettings(s FeatureSettings) FeatureSettings {
	cp := func(m map[Feature]FeatureSetting) map[Feature]FeatureSetting {
		if m == nil {
			return nil
		}
		out := make(map[Feature]FeatureSetting, len(m))
		for k, v := range m {
			if v.Enabled != nil {
				b := *v.Enabled
				v.Enabled = &b
			}
			out[k] = v
		}
		return out
	}
	out := FeatureSettings{Account: cp(s.Account)}
	if s.LocalModelsOnly != nil {
		b := *s.LocalModelsOnly
		out.LocalModelsOnly = &b
	}
	if s.Queues != nil {
		out.Queues = make(map[string]map[Feature]FeatureSetting, len(s.Queues))
		for k, v := range s.Queues {
			out.Queues[k] = cp(v)
		}
	}
	if s.Users != nil {
		out.Users = make(map[string]map[Feature]FeatureSetting, len(s.Users))
		for k, v := range s.Users {
			out.Users[k] = cp(v)
		}
	}
	return out
}
