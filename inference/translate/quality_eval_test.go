//go:build eval

package translate

import (
	"context"
	"os/exec"
	"strings"
	"testing"

	"github.com/earshot/earshot/inference/translate/internal/mteval"
	"github.com/earshot/earshot/inference/translate/internal/tatoeba"
)

// TestEvalTranslationQuality scores Apertium on the 500 Spanish-English
// pairs of the Tatoeba reported half, both directions, with chrF and BLEU
// (internal/mteval, checked against NLTK and hand-worked examples), and the
// same directions through a pivot (Catalan) to show what pivoting costs.
//
// Only Apertium is scored: the Ollama engine's only model here is the
// random-weight test model, and LibreTranslate's models cannot run here.
//
//	go test -tags eval -run TestEvalTranslationQuality -v ./inference/translate/
func TestEvalTranslationQuality(t *testing.T) {
	needApertium(t, "spa-eng", "eng-spa", "spa-cat", "cat-eng", "eng-cat", "cat-spa")
	pairs, err := tatoeba.Load(evalDir(t), "spa", true)
	if err != nil {
		t.Fatal(err)
	}
	a := newTestApertium(t, DefaultApertiumConfig())
	ctx := context.Background()
	var es, en []string
	for _, p := range pairs {
		es, en = append(es, p.Text), append(en, p.English)
	}
	run := func(route []Lang, src []string) []string {
		out := make([]string, len(src))
		for i, s := range src {
			text := s
			for j := 0; j+1 < len(route); j++ {
				var err error
				if text, err = a.Translate(ctx, Pair{route[j], route[j+1]}, text); err != nil {
					t.Fatalf("%v %q: %v", route, s, err)
				}
			}
			out[i] = text
		}
		return out
	}
	for _, c := range []struct {
		name      string
		route     []Lang
		src, refs []string
	}{
		{"es-en direct", []Lang{Spanish, English}, es, en},
		{"en-es direct", []Lang{English, Spanish}, en, es},
		{"es-en via ca", []Lang{Spanish, Catalan, English}, es, en},
		{"en-es via ca", []Lang{English, Catalan, Spanish}, en, es},
	} {
		hyps := run(c.route, c.src)
		t.Logf("apertium %-13s %d pairs: chrF %.2f  BLEU %.2f", c.name, len(hyps), mteval.ChrF(hyps, c.refs), mteval.BLEU(hyps, c.refs))
	}
	// The identity baseline (the source copied as the translation) shows
	// how much of chrF comes from shared names and cognates.
	t.Logf("identity      es-en          chrF %.2f  BLEU %.2f", mteval.ChrF(es, en), mteval.BLEU(es, en))
}

// TestEvalPoolMatchesCLI checks that the pool adds no error: its output on
// every Spanish and English sentence of the reported half equals the
// apertium command line's, run once over all of them, a sentence a line.
//
//	go test -tags eval -run TestEvalPoolMatchesCLI -v ./inference/translate/
func TestEvalPoolMatchesCLI(t *testing.T) {
	needApertium(t, "spa-eng", "eng-spa")
	pairs, err := tatoeba.Load(evalDir(t), "spa", true)
	if err != nil {
		t.Fatal(err)
	}
	a := newTestApertium(t, DefaultApertiumConfig())
	for _, dir := range []struct {
		mode string
		pair Pair
		src  func(tatoeba.Pair) string
	}{
		{"spa-eng", Pair{Spanish, English}, func(p tatoeba.Pair) string { return p.Text }},
		{"eng-spa", Pair{English, Spanish}, func(p tatoeba.Pair) string { return p.English }},
	} {
		var lines []string
		for _, p := range pairs {
			lines = append(lines, dir.src(p))
		}
		cmd := exec.Command("apertium", "-u", dir.mode)
		cmd.Stdin = strings.NewReader(strings.Join(lines, "\n") + "\n")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("apertium -u %s: %v", dir.mode, err)
		}
		cli := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
		if len(cli) != len(lines) {
			t.Fatalf("%s: command line gave %d lines for %d", dir.mode, len(cli), len(lines))
		}
		same := 0
		for i, s := range lines {
			got, err := a.Translate(context.Background(), dir.pair, s)
			if err != nil {
				t.Fatal(err)
			}
			if got != cli[i] {
				// The batch run translates each line in its neighbours'
				// context (capitals after a line without a full stop);
				// the reference for one message is the command line run
				// on that message alone.
				cli[i] = strings.TrimSuffix(apertiumCLI(t, dir.mode, s), "\n")
			}
			if got == cli[i] {
				same++
			} else {
				t.Logf("%s line %d differs:\n pool %q\n  cli %q", dir.mode, i, got, cli[i])
			}
		}
		t.Logf("%s: pool identical to the command line on %d/%d sentences", dir.mode, same, len(lines))
		if same != len(lines) {
			t.Errorf("%s: %d sentences differ", dir.mode, len(lines)-same)
		}
	}
}
