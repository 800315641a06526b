//go:build eval

package translate

import (
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/earshot/earshot/inference/translate/internal/tatoeba"
	"github.com/earshot/earshot/inference/translate/internal/textcat"
)

// evalDir returns the full Tatoeba set when present, or else the reported
// half committed under testdata (the evaluations read only the reported
// half, so both give the same figures).
func evalDir(t *testing.T) string {
	if dir, err := tatoeba.FullDir(); err == nil {
		t.Logf("data: full set in %s (LASER %s)", dir, tatoeba.Commit[:12])
		return dir
	} else {
		t.Logf("data: committed reported half in testdata/tatoeba (%v)", err)
	}
	return "testdata/tatoeba"
}

type lidItem struct {
	lang Lang
	text string
}

// lidItems returns the reported half's sentences of at most 60
// characters: each language's own, and for English the English side of
// the Spanish pair.
func lidItems(t *testing.T) []lidItem {
	dir := evalDir(t)
	var items []lidItem
	for _, l := range []Lang{Spanish, Catalan, Galician, Portuguese, French, Italian, German} {
		pairs, err := tatoeba.Load(dir, tatoeba.Codes[string(l)], true)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range pairs {
			if utf8.RuneCountInString(p.Text) <= 60 {
				items = append(items, lidItem{l, p.Text})
			}
			if l == Spanish && utf8.RuneCountInString(p.English) <= 60 {
				items = append(items, lidItem{English, p.English})
			}
		}
	}
	return items
}

// TestEvalLanguageID measures identification accuracy on short messages
// (at most 60 characters) of the Tatoeba reported half: overall among the
// seven supported languages (a message left undetermined counts as wrong),
// German separately, and the confusion between Spanish, Catalan, Galician
// and Portuguese. libexttextcat, restricted to the same eight languages,
// is measured on the same messages as the peer.
//
//	go test -tags eval -run TestEvalLanguageID -v ./inference/translate/
func TestEvalLanguageID(t *testing.T) {
	id := newTestIdentifier(t)
	items := lidItems(t)
	type detector struct {
		name string
		fn   func(string) (Lang, error)
	}
	codes := make([]string, len(Known))
	for i, l := range Known {
		codes[i] = string(l)
	}
	dets := []detector{
		{"builtin", func(s string) (Lang, error) { return id.Detect(s).Lang, nil }},
		{"libexttextcat", func(s string) (Lang, error) { l, err := textcat.Detect(codes, s); return Lang(l), err }},
	}
	iberian := []Lang{Spanish, Catalan, Galician, Portuguese}
	for _, d := range dets {
		confusion := map[Lang]map[Lang]int{}
		var right, total, deRight, deTotal int
		start := time.Now()
		for _, it := range items {
			got, err := d.fn(it.text)
			if err != nil {
				t.Fatalf("%s: %v", d.name, err)
			}
			if confusion[it.lang] == nil {
				confusion[it.lang] = map[Lang]int{}
			}
			confusion[it.lang][got]++
			if it.lang == German {
				deTotal++
				if got == German {
					deRight++
				}
				continue
			}
			total++
			if got == it.lang {
				right++
			}
		}
		per := time.Since(start) / time.Duration(len(items))
		acc := float64(right) / float64(total)
		t.Logf("%s: accuracy %.4f (%d/%d) over en es ca gl pt fr it, <= 60 characters; German %.4f (%d/%d); %s a message",
			d.name, acc, right, total, float64(deRight)/float64(deTotal), deRight, deTotal, per)
		var b strings.Builder
		fmt.Fprintf(&b, "%s per language:", d.name)
		for _, l := range Known {
			row := confusion[l]
			n := 0
			for _, c := range row {
				n += c
			}
			fmt.Fprintf(&b, " %s %.3f (%d);", l, float64(row[l])/float64(n), n)
		}
		t.Log(b.String())
		b.Reset()
		fmt.Fprintf(&b, "%s confusion, rows true, columns detected (- undetermined, * other):\n      es   ca   gl   pt    -    *", d.name)
		for _, l := range iberian {
			row := confusion[l]
			other := 0
			for g, c := range row {
				if g != "" && g != Spanish && g != Catalan && g != Galician && g != Portuguese {
					other += c
				}
			}
			fmt.Fprintf(&b, "\n  %s %4d %4d %4d %4d %4d %4d", l, row[Spanish], row[Catalan], row[Galician], row[Portuguese], row[""], other)
		}
		t.Log(b.String())
		if d.name == "builtin" && acc < 0.97 {
			t.Errorf("builtin accuracy %.4f is under the 0.97 target", acc)
		}
	}
}
