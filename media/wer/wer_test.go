package wer

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/earshot/earshot/internal/testdep"
)

var pairs = []struct{ ref, hyp string }{
	{"he was not an ill disposed young man", "he was not an illness those young man"},
	{"unless to be rather cold hearted and rather selfish is to be ill disposed", "hello study rather cold hearted and rather selfish is to the oldest those"},
	{"had he married a more a amiable woman he might have been made still more respectable than he was", "had he married a more amiable woman he might have been made still more respectable many watts"},
	{"he might even have been made amiable himself", "he might even have been made a real boy i'm self taught"},
	{"ten of clubs", ""},
	{"five five", "five five five"},
}

func TestAlign(t *testing.T) {
	tests := []struct {
		ref, hyp string
		want     Counts
	}{
		{"a b c", "a b c", Counts{Ref: 3}},
		{"a b c", "a x c", Counts{Ref: 3, Sub: 1}},
		{"a b c", "a c", Counts{Ref: 3, Del: 1}},
		{"a b c", "a b c d", Counts{Ref: 3, Ins: 1}},
		{"a b", "", Counts{Ref: 2, Del: 2}},
		{"<s> A b </s>", "a B", Counts{Ref: 2}},
	}
	for _, tt := range tests {
		if got := Align(Normalize(tt.ref), Normalize(tt.hyp)); got != tt.want {
			t.Errorf("Align(%q, %q) = %+v, want %+v", tt.ref, tt.hyp, got, tt.want)
		}
	}
}

// TestAgainstSclite scores the same pairs with NIST sclite (Debian sctk,
// in DEBS_TEST) and requires identical totals.
func TestAgainstSclite(t *testing.T) {
	sclite := scliteBin()
	testdep.File(t, sclite, "sctk")
	dir := t.TempDir()
	var ref, hyp strings.Builder
	var mine Counts
	for i, p := range pairs {
		fmt.Fprintf(&ref, "%s (u%d)\n", p.ref, i)
		fmt.Fprintf(&hyp, "%s (u%d)\n", p.hyp, i)
		mine = mine.Add(Align(Normalize(p.ref), Normalize(p.hyp)))
	}
	os.WriteFile(filepath.Join(dir, "ref"), []byte(ref.String()), 0o600)
	os.WriteFile(filepath.Join(dir, "hyp"), []byte(hyp.String()), 0o600)
	out, err := exec.Command(sclite, "-r", filepath.Join(dir, "ref"), "trn", "-h", filepath.Join(dir, "hyp"), "trn",
		"-i", "rm", "-o", "sum", "stdout").CombinedOutput()
	if err != nil {
		t.Fatalf("sclite: %v\n%s", err, out)
	}
	// | Sum/Avg |  6   66 | 72.7  18.2  9.1  4.5  31.8  83.3 |  (percentages)
	m := regexp.MustCompile(`Sum/Avg\s*\|\s*(\d+)\s+(\d+)\s*\|\s*([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)`).FindStringSubmatch(string(out))
	if m == nil {
		t.Fatalf("no Sum/Avg line in sclite output:\n%s", out)
	}
	words, _ := strconv.Atoi(m[2])
	pct := func(s string) float64 { f, _ := strconv.ParseFloat(s, 64); return f }
	got := []float64{float64(words), pct(m[4]), pct(m[5]), pct(m[6]), pct(m[7])}
	r := float64(mine.Ref)
	round := func(x float64) float64 { v, _ := strconv.ParseFloat(strconv.FormatFloat(x, 'f', 1, 64), 64); return v }
	want := []float64{r, round(100 * float64(mine.Sub) / r), round(100 * float64(mine.Del) / r), round(100 * float64(mine.Ins) / r), round(mine.WER())}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("[ref words, sub%%, del%%, ins%%, WER%%] ours vs sclite (-ours +sclite):\n%s", diff)
	}
	t.Logf("ours %+v WER %.1f%%; sclite %v", mine, mine.WER(), got)
}

// scliteBin finds sclite: Debian's sctk keeps it in /usr/lib/sctk/bin.
func scliteBin() string {
	if p, err := exec.LookPath("sclite"); err == nil {
		return p
	}
	return "/usr/lib/sctk/bin/sclite"
}
