package translate

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// brokenEngine is a small in-memory engine that claims every pair and
// fails every message, standing for an engine that is down.
type brokenEngine struct {
	local bool
	calls int
}

func (b *brokenEngine) Name() string { return "broken" }
func (b *brokenEngine) Local() bool  { return b.local }
func (b *brokenEngine) Pairs() []Pair {
	var ps []Pair
	for _, x := range Known {
		for _, y := range Known {
			if x != y {
				ps = append(ps, Pair{x, y})
			}
		}
	}
	return ps
}
func (b *brokenEngine) Translate(context.Context, Pair, string) (string, error) {
	b.calls++
	return "", errors.New("broken: down")
}

func TestTranslator(t *testing.T) {
	needApertium(t, "spa-eng", "eng-spa", "es-pt", "pt-es", "spa-cat")
	a := newTestApertium(t, DefaultApertiumConfig())
	cfg := DefaultConfig()
	cfg.Glossary = []Term{{Text: "Banco Norte"}, {Text: "cuenta nómina", Fixed: map[Lang]string{English: "payroll account"}}}
	reg := prometheus.NewRegistry()
	tr, err := New(cfg, nil, reg, a)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tests := []struct {
		name       string
		req        Request
		translated bool
		notice     string
		pivot      Lang
		mixed      bool
		contains   string
	}{
		{"detected Spanish to English", Request{Text: "Quiero cancelar mi tarjeta de crédito hoy mismo", To: English},
			true, "", "", false, "I want to cancel"},
		{"glossary terms survive", Request{Text: "Mi cuenta nómina de Banco Norte no funciona", From: Spanish, To: English},
			true, "", "", false, "payroll account of Banco Norte"},
		{"English to Portuguese pivots through Spanish", Request{Text: "I want to cancel my card", From: English, To: Portuguese},
			true, "", Spanish, false, "Quero"},
		{"German is unsupported", Request{Text: "Meine Karte funktioniert nicht und ich brauche Hilfe", To: English},
			false, NoticeUnsupported, "", false, "Meine Karte"},
		{"already in the target language", Request{Text: "My card does not work at all", To: English},
			false, NoticeSameLanguage, "", false, "My card"},
		{"too little to identify", Request{Text: "ok 👍", To: English},
			false, NoticeUndetermined, "", false, "ok"},
		{"mixed message, each sentence from its own language", Request{
			Text: "Hola, necesito ayuda con mi cuenta bancaria. My card was blocked yesterday evening.", To: English},
			true, "", "", true, "My card was blocked yesterday evening."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := tr.Translate(ctx, tt.req)
			if err != nil {
				t.Fatal(err)
			}
			if res.Translated != tt.translated || res.Notice != tt.notice || res.Pivot != tt.pivot || res.Mixed != tt.mixed ||
				!strings.Contains(res.Text, tt.contains) || res.Original != tt.req.Text {
				t.Errorf("got translated %v notice %q pivot %q mixed %v text %q; want %v %q %q %v containing %q",
					res.Translated, res.Notice, res.Pivot, res.Mixed, res.Text, tt.translated, tt.notice, tt.pivot, tt.mixed, tt.contains)
			}
			if tt.translated && res.Engine != "apertium" {
				t.Errorf("engine %q, want apertium", res.Engine)
			}
		})
	}
	if got := testutil.ToFloat64(tr.m.pivots.WithLabelValues("en-pt")); got != 1 {
		t.Errorf("pivots_total{en-pt} = %v, want 1", got)
	}
	if got := testutil.ToFloat64(tr.m.untranslated.WithLabelValues(NoticeUnsupported)); got != 1 {
		t.Errorf("untranslated_total{unsupported_language} = %v, want 1", got)
	}
	if _, err := tr.Translate(ctx, Request{Text: "hola", To: "xx"}); err == nil {
		t.Error("unknown target language: no error")
	}
}

// TestTranslatorFallbackAndLocalOnly: an engine that fails hands the
// message to Apertium; an engine that is not local is skipped when the
// site allows local models only.
func TestTranslatorFallbackAndLocalOnly(t *testing.T) {
	a := newTestApertium(t, DefaultApertiumConfig())
	remote := &brokenEngine{local: false}
	tr, err := New(DefaultConfig(), nil, prometheus.NewRegistry(), remote, a)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	res, err := tr.Translate(ctx, Request{Text: "Gracias por su ayuda.", From: Spanish, To: English})
	if err != nil || !res.Translated || !res.Fallback || res.Engine != "apertium" || remote.calls != 1 {
		t.Errorf("fallback: %+v, %v, remote calls %d", res, err, remote.calls)
	}
	if got := testutil.ToFloat64(tr.m.fallbacks.WithLabelValues("broken", "error")); got != 1 {
		t.Errorf("fallbacks_total{broken,error} = %v, want 1", got)
	}
	res, err = tr.Translate(ctx, Request{Text: "Gracias por su ayuda.", From: Spanish, To: English, LocalOnly: true})
	if err != nil || !res.Translated || res.Fallback || remote.calls != 1 {
		t.Errorf("local only: %+v, %v; the remote engine was called %d times, want 1", res, err, remote.calls)
	}
	if tr.Supported(German, English, true) || !tr.Supported(Spanish, English, true) {
		t.Error("Supported: want es-en and not de-en")
	}
}
