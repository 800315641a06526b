//go:build eval

package analyze

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/earshot/earshot/media/pipeline"
	"github.com/earshot/earshot/media/stt/pocketsphinx"
)

// Helpers of the evals only.

type refUtt struct{ id, text string }

var refLine = regexp.MustCompile(`^(.*)\(([^()]+)\)\s*$`)

// readRefs reads a sphinx transcription file: "<s> words </s> (id)".
func readRefs(t testing.TB, path string) []refUtt {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("reference transcripts (install pocketsphinx-testdata): %v", err)
	}
	defer f.Close()
	var out []refUtt
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		m := refLine.FindStringSubmatch(strings.TrimSpace(sc.Text()))
		if m == nil {
			continue
		}
		out = append(out, refUtt{id: m[2], text: m[1]})
	}
	return out
}

func newTestAnalyzer(t testing.TB, psCfg pocketsphinx.Config, pcfg pipeline.Config) (*Analyzer, *pocketsphinx.Engine) {
	t.Helper()
	eng, err := pocketsphinx.New(psCfg, nil)
	if err != nil {
		t.Fatalf("pocketsphinx.New: %v", err)
	}
	t.Cleanup(func() { eng.Close() })
	p, err := pipeline.New(pcfg, nil, nil, eng)
	if err != nil {
		t.Fatalf("pipeline.New: %v", err)
	}
	a, err := New(p, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return a, eng
}

func transcribe(t testing.TB, a *Analyzer, path string) (string, *Result) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	r, err := a.Analyze(context.Background(), b, Options{ID: filepath.Base(path)})
	if err != nil {
		t.Fatalf("Analyze(%s): %v", path, err)
	}
	var words []string
	for _, s := range r.Segments {
		words = append(words, s.Text)
	}
	return strings.Join(words, " "), r
}
