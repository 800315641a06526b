package daemon

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestGoodConfigs(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.good.yaml")
	if len(files) == 0 {
		t.Fatal("no good fixtures")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			if _, err := LoadConfig(f, false); err != nil {
				t.Fatalf("LoadConfig(%s) = %v, want nil", f, err)
			}
		})
	}
}

func TestBadConfigs(t *testing.T) {
	tests := []struct {
		file string
		want []string // substrings of the error
	}{
		{"unknown-key.bad.yaml", []string{"lissen", "2:"}},
		{"public-no-tls.bad.yaml", []string{"listen", "not a loopback", "tls"}},
		{"bad-tls-mode.bad.yaml", []string{"tls.mode", "maybe"}},
		{"files-missing-key.bad.yaml", []string{"key_file"}},
		{"bad-duration.bad.yaml", []string{"soon"}},
		{"bad-listen.bad.yaml", []string{"listen"}},
		{"bad-level.bad.yaml", []string{"log.level", "chatty"}},
		{"nested-unknown.bad.yaml", []string{"certfile"}},
		{"audit-too-short.bad.yaml", []string{"store", "audit"}},
		{"max-live.bad.yaml", []string{"engagements.max_live"}},
		{"live-source.bad.yaml", []string{"engagements.max_live_per_source", "fax"}},
		{"live-token.bad.yaml", []string{"engagements.max_live_per_token", "9"}},
		{"translate-language.bad.yaml", []string{"translate.queue_languages.cards", "klingon"}},
		{"translate-engine.bad.yaml", []string{"translate.engines[0]", "deepl"}},
		{"redaction-copy-outlives.bad.yaml", []string{"redaction.queues.payments.unredacted_retention_days", "transcript_days"}},
		{"redaction-type.bad.yaml", []string{"redaction.policy.types[1]", "passport"}},
	}
	files, _ := filepath.Glob("testdata/*.bad.yaml")
	if len(files) != len(tests) {
		t.Errorf("%d bad fixtures but %d table rows: every fixture needs its expected error", len(files), len(tests))
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			_, err := LoadConfig(filepath.Join("testdata", tt.file), false)
			if err == nil {
				t.Fatalf("LoadConfig(%s) = nil, want error", tt.file)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("LoadConfig(%s) = %q, want it to mention %q", tt.file, err, w)
				}
			}
		})
	}
}

func TestConfigValues(t *testing.T) {
	cfg, err := LoadConfig("testdata/full.good.yaml", false)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.TLS.Mode != "files" || cfg.Listen != "0.0.0.0:7443" || time.Duration(cfg.ShutdownTimeout) != 30*time.Second {
		t.Errorf("LoadConfig(full) = %+v", cfg)
	}
	cfg, err = LoadConfig("testdata/tlsauto.good.yaml", false)
	if err != nil || cfg.TLS.Mode != "auto" {
		t.Errorf("tls: auto gave %+v, %v", cfg.TLS, err)
	}
	cfg, err = LoadConfig("testdata/empty.good.yaml", false)
	if err != nil || cfg.Listen != "127.0.0.1:7080" || cfg.DataDir != "./earshot-data" || !*cfg.LocalModelsOnly {
		t.Errorf("empty config = %+v, %v; want the embedded defaults", cfg, err)
	}
}

func TestTranslateConfigValues(t *testing.T) {
	cfg, err := LoadConfig(filepath.Join("testdata", "translate.good.yaml"), false)
	if err != nil {
		t.Fatal(err)
	}
	tr := cfg.Translate
	if tr.AgentLanguage != "es" || tr.QueueLanguages["cartoes"] != "pt" || tr.ProcsPerPair != 3 || len(tr.Glossary) != 2 ||
		tr.Glossary[1].Fixed["en"] != "payroll account" || len(tr.Engines) != 1 || tr.LibreTranslate.URL != "http://127.0.0.1:5000" {
		t.Errorf("translate = %+v", tr)
	}
	tc, err := tr.translator()
	if err != nil || len(tc.Glossary) != 2 {
		t.Errorf("translator config: %+v, %v", tc, err)
	}
}

func TestStoreConfigValues(t *testing.T) {
	cfg, err := LoadConfig("testdata/store.good.yaml", false)
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.Store
	if s.Retention.TranscriptDays != 90 || s.Retention.AuditDays != 365 || s.GroupCommit.MaxDelay != 20*time.Millisecond ||
		s.GroupCommit.MaxBatch != 1000 || s.SweepInterval != 30*time.Minute || cfg.Engagements.MaxLive != 8 ||
		time.Duration(cfg.Engagements.MediaTimeout) != 30*time.Second || cfg.Engagements.EventBuffer != 4096 {
		t.Errorf("store config = %+v, engagements %+v", s, cfg.Engagements)
	}
}

func TestMissingConfig(t *testing.T) {
	if _, err := LoadConfig(filepath.Join(t.TempDir(), "nope.yaml"), false); err == nil || !os.IsNotExist(unwrapAll(err)) {
		t.Errorf("LoadConfig(missing non-default path) = %v, want not-exist error", err)
	}
}

func unwrapAll(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return err
		}
		err = u.Unwrap()
	}
}

func FuzzParseConfig(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.yaml")
	for _, p := range files {
		b, _ := os.ReadFile(p)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg := DefaultConfig(false)
		if err := ParseConfig(data, &cfg); err == nil {
			if err := cfg.Validate(); err != nil {
				t.Fatalf("ParseConfig accepted a config that Validate rejects: %v", err)
			}
		}
	})
}

// TestLiveSourcesNameBotChannels: a site sizes the virtual agent's channels
// on their own (the widget's conversations are the hub source bot_widget),
// and a name that is no source is still refused.
func TestLiveSourcesNameBotChannels(t *testing.T) {
	cfg := DefaultConfig(false)
	cfg.Engagements.MaxLive = 1600
	cfg.Engagements.MaxLivePerSource = map[string]int{"bot_widget": 1500, "bot_api": 10, "bot_websocket": 10}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("Validate() = %v, want the bot channels accepted", err)
	}
	cfg.Engagements.MaxLivePerSource = map[string]int{"bot_fax": 1}
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "bot_fax") {
		t.Errorf("Validate() = %v, want bot_fax refused by name", err)
	}
}
