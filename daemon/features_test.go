package daemon

import (
	"strings"
	"testing"

	"github.com/earshot/earshot/store"
)

func TestDecide(t *testing.T) {
	on, off := true, false
	licensed := &store.User{ID: "ana", Licensed: true}
	unlicensed := &store.User{ID: "bob"}
	tests := []struct {
		name     string
		settings FeatureSettings
		feature  Feature
		queue    string
		user     *store.User
		want     Decision
	}{
		{"default on", FeatureSettings{}, "sentiment", "billing", licensed, Decision{"sentiment", true, "default"}},
		{"default off", FeatureSettings{}, "auto_qm", "billing", licensed, Decision{"auto_qm", false, "default"}},
		{"unknown feature", FeatureSettings{}, "telepathy", "billing", licensed, Decision{"telepathy", false, "unknown"}},
		{"account off", FeatureSettings{Account: map[Feature]FeatureSetting{"sentiment": {Enabled: &off}}},
			"sentiment", "billing", licensed, Decision{"sentiment", false, "account"}},
		{"queue overrides account", FeatureSettings{
			Account: map[Feature]FeatureSetting{"sentiment": {Enabled: &off}},
			Queues:  map[string]map[Feature]FeatureSetting{"billing": {"sentiment": {Enabled: &on}}},
		}, "sentiment", "billing", licensed, Decision{"sentiment", true, "queue"}},
		{"queue setting of another queue ignored", FeatureSettings{
			Queues: map[string]map[Feature]FeatureSetting{"fraud": {"sentiment": {Enabled: &off}}},
		}, "sentiment", "billing", licensed, Decision{"sentiment", true, "default"}},
		{"user overrides queue", FeatureSettings{
			Queues: map[string]map[Feature]FeatureSetting{"billing": {"sentiment": {Enabled: &off}}},
			Users:  map[string]map[Feature]FeatureSetting{"ana": {"sentiment": {Enabled: &on}}},
		}, "sentiment", "billing", licensed, Decision{"sentiment", true, "user"}},
		{"inherit when user has nil enabled", FeatureSettings{
			Queues: map[string]map[Feature]FeatureSetting{"billing": {"sentiment": {Enabled: &off}}},
			Users:  map[string]map[Feature]FeatureSetting{"ana": {"sentiment": {}}},
		}, "sentiment", "billing", licensed, Decision{"sentiment", false, "queue"}},
		{"account lock beats queue and user", FeatureSettings{
			Account: map[Feature]FeatureSetting{"sentiment": {Enabled: &off, Locked: true}},
			Queues:  map[string]map[Feature]FeatureSetting{"billing": {"sentiment": {Enabled: &on}}},
			Users:   map[string]map[Feature]FeatureSetting{"ana": {"sentiment": {Enabled: &on}}},
		}, "sentiment", "billing", licensed, Decision{"sentiment", false, "locked"}},
		{"locked on stays on", FeatureSettings{
			Account: map[Feature]FeatureSetting{"auto_qm": {Enabled: &on, Locked: true}},
			Users:   map[string]map[Feature]FeatureSetting{"ana": {"auto_qm": {Enabled: &off}}},
		}, "auto_qm", "billing", licensed, Decision{"auto_qm", true, "locked"}},
		{"licensed feature, licensed user", FeatureSettings{}, "kb_retrieval", "billing", licensed, Decision{"kb_retrieval", true, "default"}},
		{"licensed feature, unlicensed user", FeatureSettings{}, "kb_retrieval", "billing", unlicensed, Decision{"kb_retrieval", false, "licence"}},
		{"licensed feature, no agent", FeatureSettings{}, "kb_retrieval", "billing", nil, Decision{"kb_retrieval", false, "licence"}},
		{"licence beats a lock", FeatureSettings{
			Account: map[Feature]FeatureSetting{"next_best_action": {Enabled: &on, Locked: true}},
		}, "next_best_action", "billing", unlicensed, Decision{"next_best_action", false, "licence"}},
		{"off needs no licence", FeatureSettings{
			Users: map[string]map[Feature]FeatureSetting{"bob": {"kb_retrieval": {Enabled: &off}}},
		}, "kb_retrieval", "billing", unlicensed, Decision{"kb_retrieval", false, "user"}},
		{"no queue", FeatureSettings{
			Queues: map[string]map[Feature]FeatureSetting{"": {"sentiment": {Enabled: &off}}},
		}, "sentiment", "", licensed, Decision{"sentiment", true, "default"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.settings.Decide(tt.feature, tt.queue, tt.user)
			if got != tt.want {
				t.Errorf("Decide(%s, %q, %v) = %+v, want %+v", tt.feature, tt.queue, tt.user, got, tt.want)
			}
		})
	}
}

func TestFeatureSettingsValidate(t *testing.T) {
	on := true
	tests := []struct {
		name string
		s    FeatureSettings
		want string
	}{
		{"unknown", FeatureSettings{Account: map[Feature]FeatureSetting{"x": {Enabled: &on}}}, `unknown feature "x"`},
		{"queue lock", FeatureSettings{Queues: map[string]map[Feature]FeatureSetting{"q": {"sentiment": {Enabled: &on, Locked: true}}}}, "account level only"},
		{"lock without value", FeatureSettings{Account: map[Feature]FeatureSetting{"sentiment": {Locked: true}}}, "locked needs enabled"},
		{"ok", FeatureSettings{Account: map[Feature]FeatureSetting{"sentiment": {Enabled: &on, Locked: true}}}, ""},
	}
	for _, tt := range tests {
		err := tt.s.validate()
		if (err == nil) != (tt.want == "") || (err != nil && !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("%s: validate() = %v, want %q", tt.name, err, tt.want)
		}
	}
}
