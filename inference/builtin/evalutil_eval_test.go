//go:build eval

package builtin

import (
	"encoding/csv"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// evalDir locates the shared evaluation data: EARSHOT_EVAL_DIR, else
// <module root>/../shared/eval.
func evalDir(t testing.TB) string {
	t.Helper()
	d := os.Getenv("EARSHOT_EVAL_DIR")
	if d == "" {
		d = filepath.Join("..", "..", "..", "shared", "eval")
	}
	if _, err := os.Stat(d); err != nil {
		t.Skipf("evaluation data not found at %s (set EARSHOT_EVAL_DIR): %v", d, err)
	}
	return d
}

func readCSV(t testing.TB, path string) [][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	rows, err := r.ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return rows[1:]
}

// cpuTime is the process's user+system CPU time; on a shared machine it is
// a steadier measure than wall time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// macroF1 returns accuracy and macro-averaged F1 over labels.
func macroF1(gold, pred []string, labels []string) (acc, f1 float64) {
	correct := 0
	tp, fp, fn := map[string]int{}, map[string]int{}, map[string]int{}
	for i := range gold {
		if gold[i] == pred[i] {
			correct++
			tp[gold[i]]++
		} else {
			fp[pred[i]]++
			fn[gold[i]]++
		}
	}
	for _, l := range labels {
		p := float64(tp[l]) / max(1, float64(tp[l]+fp[l]))
		r := float64(tp[l]) / max(1, float64(tp[l]+fn[l]))
		if p+r > 0 {
			f1 += 2 * p * r / (p + r)
		}
	}
	return float64(correct) / float64(len(gold)), f1 / float64(len(labels))
}
