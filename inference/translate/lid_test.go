package translate

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func newTestIdentifier(t testing.TB) *Identifier {
	t.Helper()
	id, err := NewIdentifier(DefaultIdentifierConfig())
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// Chat messages written for this test, not taken from the training or the
// evaluation set.
func TestDetect(t *testing.T) {
	id := newTestIdentifier(t)
	tests := []struct {
		text   string
		want   Lang
		reason string
	}{
		{"My card was declined twice today and I need it fixed", English, ""},
		{"Mi tarjeta fue rechazada dos veces hoy, necesito ayuda", Spanish, ""},
		{"La meva targeta no funciona i necessito ajuda avui", Catalan, ""},
		{"A miña tarxeta non funciona e preciso axuda hoxe", Galician, ""},
		{"O meu cartão não funciona e preciso de ajuda hoje", Portuguese, ""},
		{"Ma carte ne fonctionne pas et j'ai besoin d'aide", French, ""},
		{"La mia carta non funziona e ho bisogno di aiuto oggi", Italian, ""},
		{"Meine Karte funktioniert nicht und ich brauche Hilfe", German, ""},
		{"12345 !!! :-)", "", "no_letters"},
		{"", "", "no_letters"},
		{"ok", "", "too_short"},
	}
	for _, tt := range tests {
		d := id.Detect(tt.text)
		if d.Lang != tt.want || d.Reason != tt.reason {
			t.Errorf("Detect(%q) = %s (%.2f, %q), want %s (%q)", tt.text, d.Lang, d.Confidence, d.Reason, tt.want, tt.reason)
		}
		if tt.want != "" && !d.Reliable {
			t.Errorf("Detect(%q): confidence %.2f is not reliable", tt.text, d.Confidence)
		}
	}
}

func TestSegments(t *testing.T) {
	id := newTestIdentifier(t)
	text := "Hola, necesito ayuda con mi cuenta bancaria. My card was blocked yesterday evening.\nGracias."
	segs := id.Segments(text, Spanish)
	var joined strings.Builder
	var langs []Lang
	for _, s := range segs {
		joined.WriteString(s.Text)
		langs = append(langs, s.Lang)
	}
	if joined.String() != text {
		t.Errorf("segments join to %q, want the text back", joined.String())
	}
	if diff := cmp.Diff([]Lang{Spanish, English, Spanish}, langs); diff != "" {
		t.Errorf("segment languages (-want +got):\n%s", diff)
	}
}

func TestSplitSentences(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"One. Two!  Three?", []string{"One. ", "Two!  ", "Three?"}},
		{"a\nb", []string{"a\n", "b"}},
		{"3.5 is fine. ok", []string{"3.5 is fine. ", "ok"}},
		{"¿Qué? ¡Sí!", []string{"¿Qué? ", "¡Sí!"}},
		{"", nil},
	}
	for _, tt := range tests {
		got := splitSentences(tt.in)
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("splitSentences(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
}

func TestParseLang(t *testing.T) {
	tests := []struct {
		in   string
		want Lang
		err  bool
	}{
		{"es", Spanish, false}, {"spa", Spanish, false}, {"pt-BR", Portuguese, false},
		{"ES_es", Spanish, false}, {"glg", Galician, false}, {"xx", "", true}, {"", "", true},
	}
	for _, tt := range tests {
		got, err := ParseLang(tt.in)
		if got != tt.want || (err != nil) != tt.err {
			t.Errorf("ParseLang(%q) = %q, %v; want %q, error %v", tt.in, got, err, tt.want, tt.err)
		}
	}
}
