//go:build scratch

package redact

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestScratchCache(t *testing.T) {
	kinds := map[string]string{}
	for _, u := range loadEvalSet(t) {
		kinds[u.ID] = u.Kind
	}
	r := mustNew(t, DefaultPolicy())
	files, _ := filepath.Glob(filepath.Join(os.Getenv("HOME"), ".cache/earshot/eval/redact-recognised/*.json"))
	want := os.Getenv("KIND")
	for _, f := range files {
		id := strings.SplitN(filepath.Base(f), "-", 2)[0]
		if want != "" && !strings.HasPrefix(kinds[id], want) {
			continue
		}
		b, _ := os.ReadFile(f)
		var c struct {
			Segments []struct {
				Text  string
				Final bool
			}
		}
		json.Unmarshal(b, &c)
		for _, s := range c.Segments {
			if s.Final {
				t.Logf("%s %s\n  %s\n  %s", id, kinds[id], s.Text, r.Redact(SourceOther, s.Text, nil).Text)
			}
		}
	}
}
