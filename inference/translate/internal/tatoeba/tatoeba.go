// Package tatoeba reads the Tatoeba multilingual test set that the
// translation package's evaluations and its language-identification trainer
// use, and splits it once, for good, into a development half and a reported
// half.
//
// Source: github.com/facebookresearch/LASER, data/tatoeba/v1, at commit
// 74bc6ae7ffb7cba670fe0f428d0ede9f666fb821: 1000 Tatoeba sentences per
// language with their English translations, taken from tatoeba.org on
// 2018-11-17. Tatoeba's sentences are licensed CC BY 2.0 FR
// (https://tatoeba.org/eng/terms_of_use); the LASER repository redistributes
// them under those terms.
//
// The full set lives outside the repository, in $EARSHOT_TATOEBA_DIR or
// ~/.cache/earshot/eval/tatoeba-laser-v1 (files tatoeba.xxx-eng.xxx and
// tatoeba.xxx-eng.eng). The reported half of the pairs the evaluations use is
// committed, attributed, under inference/translate/testdata/tatoeba, so that
// the evaluations run on a fresh machine.
package tatoeba

import (
	"bufio"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"strings"
)

// Commit is the LASER commit the data comes from.
const Commit = "74bc6ae7ffb7cba670fe0f428d0ede9f666fb821"

// DirEnv names the environment variable that points at the full set.
const DirEnv = "EARSHOT_TATOEBA_DIR"

// Codes maps the ISO 639-1 codes the evaluations use to the set's ISO 639-3
// file names.
var Codes = map[string]string{
	"es": "spa", "ca": "cat", "gl": "glg", "pt": "por", "fr": "fra", "it": "ita", "de": "deu",
}

// FullDir returns the directory of the full set, or an error naming where it
// was looked for.
func FullDir() (string, error) {
	dir := os.Getenv(DirEnv)
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("tatoeba: %w", err)
		}
		dir = filepath.Join(home, ".cache", "earshot", "eval", "tatoeba-laser-v1")
	}
	if _, err := os.Stat(filepath.Join(dir, "tatoeba.spa-eng.spa")); err != nil {
		return "", fmt.Errorf("tatoeba: full set not found in %s (set %s; see inference/translate/README.md): %w", dir, DirEnv, err)
	}
	return dir, nil
}

// Reported reports whether line i (0-based) of pair xxx-eng belongs to the
// reported half. The split hashes the pair and the line number, so a line's
// translation falls in the same half as the line.
func Reported(pair string, i int) bool {
	h := fnv.New32a()
	fmt.Fprintf(h, "%s:%d", pair, i)
	return h.Sum32()%2 == 1
}

// Pair is one aligned line of a pair file: Text in the language, English its
// English translation.
type Pair struct {
	Line    int
	Text    string
	English string
}

// Load reads pair iso3-eng from dir and returns its lines, keeping those of
// the requested half. A committed directory holds only the reported half,
// with the original line numbers in a third file tatoeba.xxx-eng.lines.
func Load(dir, iso3 string, reported bool) ([]Pair, error) {
	pair := iso3 + "-eng"
	src, err := readLines(filepath.Join(dir, "tatoeba."+pair+"."+iso3))
	if err != nil {
		return nil, err
	}
	eng, err := readLines(filepath.Join(dir, "tatoeba."+pair+".eng"))
	if err != nil {
		return nil, err
	}
	if len(src) != len(eng) {
		return nil, fmt.Errorf("tatoeba: %s: %d lines against %d English", pair, len(src), len(eng))
	}
	nums := make([]int, len(src))
	for i := range nums {
		nums[i] = i
	}
	if ln, err := readLines(filepath.Join(dir, "tatoeba."+pair+".lines")); err == nil {
		if len(ln) != len(src) {
			return nil, fmt.Errorf("tatoeba: %s.lines has %d lines, want %d", pair, len(ln), len(src))
		}
		for i, s := range ln {
			if _, err := fmt.Sscan(s, &nums[i]); err != nil {
				return nil, fmt.Errorf("tatoeba: %s.lines:%d: %w", pair, i+1, err)
			}
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	var out []Pair
	for i := range src {
		if Reported(pair, nums[i]) != reported {
			continue
		}
		out = append(out, Pair{Line: nums[i], Text: src[i], English: eng[i]})
	}
	return out, nil
}

func readLines(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("tatoeba: %w", err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		out = append(out, strings.TrimRight(sc.Text(), "\r"))
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("tatoeba: read %s: %w", path, err)
	}
	return out, nil
}
