//go:build eval

package cli

import (
	"os"
	"path/filepath"
	"testing"
)

// TestEvalREADMEForecastExamples runs the README's forecast examples on the
// shipped bank_calls export (5-minute counts, no AHT, no queue column):
// ../shared/eval beside the module, or EARSHOT_EVAL_DIR.
func TestEvalREADMEForecastExamples(t *testing.T) {
	dir := os.Getenv("EARSHOT_EVAL_DIR")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "..", "shared", "eval")
	}
	path := filepath.Join(dir, "bank_calls", "bank_calls_5min.csv")
	if _, err := os.Stat(path); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("bank_calls: %v", err)
		}
		t.Skipf("bank_calls not available (%v): set EARSHOT_EVAL_DIR to the shared evaluation folder", err)
	}
	runREADMEForecastExamples(t, path)
}
