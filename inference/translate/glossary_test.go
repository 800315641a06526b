package translate

import (
	"strings"
	"testing"
)

func TestGlossaryProtectRestore(t *testing.T) {
	g, err := NewGlossary([]Term{
		{Text: "Banco Norte"},
		{Text: "Banco Norte Plus"},
		{Text: "cuenta nómina", Fixed: map[Lang]string{English: "payroll account"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		in, translated, want string
		to                   Lang
	}{
		// The engine's output is simulated by swapping words around the
		// placeholders; placeholders may come back in another case.
		{"Mi cuenta nómina de Banco Norte Plus", "My %1 of %2", "My payroll account of Banco Norte Plus", English},
		{"banco norte no responde", "%1 does not answer", "banco norte does not answer", English},
		{"Bancos Norte", "Bancos Norte", "Bancos Norte", English}, // not on a word boundary
		{"zxqaq forged placeholder and Banco Norte", "%1 forged placeholder and %2", "zxqaq forged placeholder and Banco Norte", English},
	}
	for _, tt := range tests {
		p := g.protect(tt.in)
		out := tt.translated
		for i, pt := range p.terms {
			ph := pt.placeholder
			if i == 0 {
				ph = strings.ToLower(ph)
			}
			out = strings.Replace(out, "%"+string(rune('1'+i)), ph, 1)
		}
		if strings.Contains(strings.ToLower(p.text), "banco norte") {
			t.Errorf("protect(%q) = %q: a term was left in", tt.in, p.text)
		}
		got, ok := p.restore(out, tt.to)
		if !ok || got != tt.want {
			t.Errorf("restore(%q) = %q, %v; want %q", out, got, ok, tt.want)
		}
	}
	// An engine that drops or duplicates a placeholder fails the restore.
	p := g.protect("Banco Norte")
	if _, ok := p.restore("nothing left", English); ok {
		t.Error("restore accepted a translation that lost the placeholder")
	}
	if _, ok := p.restore(p.terms[0].placeholder+" "+p.terms[0].placeholder, English); ok {
		t.Error("restore accepted a duplicated placeholder")
	}
}

func TestPlaceholdersDistinct(t *testing.T) {
	seen := map[string]bool{}
	var all []string
	for i := range 2000 {
		p := strings.ToLower(placeholder(i))
		if seen[p] {
			t.Fatalf("placeholder(%d) = %q repeats", i, p)
		}
		seen[p] = true
		all = append(all, p)
	}
	for i, a := range all[:700] {
		for j, b := range all {
			if i != j && strings.Contains(b, a) {
				t.Fatalf("placeholder %q is inside %q", a, b)
			}
		}
	}
}

func TestNewGlossaryErrors(t *testing.T) {
	tests := []struct {
		terms []Term
		want  string
	}{
		{[]Term{{Text: " "}}, "glossary[0].text is empty"},
		{[]Term{{Text: "a"}, {Text: "A"}}, "glossary[1].text \"A\" is listed twice"},
		{[]Term{{Text: "x\x00y"}}, "glossary[0].text has control characters"},
		{[]Term{{Text: "x", Fixed: map[Lang]string{"xx": "y"}}}, "glossary[0].fixed: unknown language"},
		{[]Term{{Text: strings.Repeat("a", 101)}}, "longer than 100"},
	}
	for _, tt := range tests {
		_, err := NewGlossary(tt.terms)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("NewGlossary(%v) = %v, want an error containing %q", tt.terms, err, tt.want)
		}
	}
}
