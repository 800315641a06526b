package translate

import (
	"fmt"
	"slices"
	"strings"
)

// Lang is a language as an ISO 639-1 code ("en", "es"). The zero value means
// "not known".
type Lang string

// The languages the built-in identifier knows. German is identified so that
// a German message is reported as unsupported instead of being misread as a
// supported language; Debian 12 has no Apertium pair for it.
const (
	English    Lang = "en"
	Spanish    Lang = "es"
	Catalan    Lang = "ca"
	Galician   Lang = "gl"
	Portuguese Lang = "pt"
	French     Lang = "fr"
	Italian    Lang = "it"
	German     Lang = "de"
)

// Known lists every language the identifier can return, in a stable order.
var Known = []Lang{English, Spanish, Catalan, Galician, Portuguese, French, Italian, German}

var langNames = map[Lang]string{
	English: "English", Spanish: "Spanish", Catalan: "Catalan", Galician: "Galician",
	Portuguese: "Portuguese", French: "French", Italian: "Italian", German: "German",
}

// Name returns the English name of l, or the code itself for a language the
// package does not know.
func (l Lang) Name() string {
	if n, ok := langNames[l]; ok {
		return n
	}
	return string(l)
}

// Known reports whether the identifier can return l.
func (l Lang) Known() bool { return slices.Contains(Known, l) }

// ParseLang parses a language code, accepting ISO 639-1 ("es"), ISO 639-3
// ("spa") and a region suffix ("pt-BR", "es_ES"), and returns the ISO 639-1
// code of a known language.
func ParseLang(s string) (Lang, error) {
	code := strings.ToLower(strings.TrimSpace(s))
	if i := strings.IndexAny(code, "-_"); i > 0 {
		code = code[:i]
	}
	if l, ok := iso3[code]; ok {
		return l, nil
	}
	if l := Lang(code); l.Known() {
		return l, nil
	}
	return "", fmt.Errorf("translate: unknown language %q (known: %s)", s, langList(Known))
}

var iso3 = map[string]Lang{
	"eng": English, "spa": Spanish, "cat": Catalan, "glg": Galician,
	"por": Portuguese, "fra": French, "fre": French, "ita": Italian, "deu": German, "ger": German,
}

func langList(ls []Lang) string {
	s := make([]string, len(ls))
	for i, l := range ls {
		s[i] = string(l)
	}
	return strings.Join(s, ", ")
}

// Pair is a translation direction.
type Pair struct {
	From Lang `json:"from"`
	To   Lang `json:"to"`
}

func (p Pair) String() string { return string(p.From) + "-" + string(p.To) }
