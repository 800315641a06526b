// Command lidtrain trains the language identifier's model (lid.model.gz).
//
// Training text, all from the Tatoeba set of internal/tatoeba (CC BY 2.0 FR)
// and never from its reported half:
//   - the development half of each language's sentences, counted three times;
//   - English sentences of the set's other 105 language pairs, minus any
//     sentence that also occurs in a reported half;
//   - those English sentences translated by Debian's Apertium pairs into
//     Spanish, Catalan and Galician, and the Spanish ones on into Portuguese,
//     Italian and French, keeping only translations without unknown-word
//     marks. German has no Apertium pair and learns from its development
//     half alone.
//
// Usage (needs the full set and the apertium packages of DEBS_TEST):
//
//	go run ./inference/translate/internal/lidtrain -out inference/translate/lid.model.gz
package main

import (
	"bytes"
	"compress/gzip"
	"flag"
	"fmt"
	"hash/fnv"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/earshot/earshot/inference/translate/internal/lidfeat"
	"github.com/earshot/earshot/inference/translate/internal/tatoeba"
)

var langs = []string{"en", "es", "ca", "gl", "pt", "fr", "it", "de"}

func main() {
	out := flag.String("out", "inference/translate/lid.model.gz", "model file to write")
	nEng := flag.Int("english", 12000, "English sentences to use and to translate")
	minN := flag.Int("min-ngram", 3, "drop character n-grams seen fewer times in all languages")
	minW := flag.Int("min-word", 2, "drop words seen fewer times in all languages")
	flag.Parse()
	if err := run(*out, *nEng, *minN, *minW); err != nil {
		fmt.Fprintln(os.Stderr, "lidtrain:", err)
		os.Exit(1)
	}
}

func norm(s string) string { return strings.ToLower(strings.Join(strings.Fields(s), " ")) }

func run(out string, nEng, minN, minW int) error {
	dir, err := tatoeba.FullDir()
	if err != nil {
		return err
	}
	texts := map[string][]string{} // language -> training sentences
	weight := map[string][]float64{}
	add := func(l, s string, w float64) {
		if strings.TrimSpace(s) == "" {
			return
		}
		texts[l] = append(texts[l], s)
		weight[l] = append(weight[l], w)
	}
	held := map[string]bool{} // every sentence of a reported half, normalised
	var devEnglish []string
	for _, l := range langs[1:] {
		iso3 := tatoeba.Codes[l]
		rep, err := tatoeba.Load(dir, iso3, true)
		if err != nil {
			return err
		}
		for _, p := range rep {
			held[norm(p.Text)], held[norm(p.English)] = true, true
		}
		dev, err := tatoeba.Load(dir, iso3, false)
		if err != nil {
			return err
		}
		for _, p := range dev {
			devEnglish = append(devEnglish, p.English)
			if !held[norm(p.Text)] {
				add(l, p.Text, 3)
			}
		}
	}
	ours := map[string]bool{}
	for _, l := range langs[1:] {
		ours["tatoeba."+tatoeba.Codes[l]+"-eng.eng"] = true
	}
	files, err := filepath.Glob(filepath.Join(dir, "tatoeba.*-eng.eng"))
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	var pool []string
	for _, f := range files {
		if ours[filepath.Base(f)] {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		for _, s := range strings.Split(string(b), "\n") {
			s = strings.TrimSpace(s)
			k := norm(s)
			if s == "" || held[k] || seen[k] || strings.ContainsAny(s, "*#@") {
				continue
			}
			seen[k] = true
			pool = append(pool, s)
		}
	}
	// A fixed, content-based order, so that the model is reproducible.
	sort.Slice(pool, func(i, j int) bool { return hash(pool[i]) < hash(pool[j]) })
	if len(pool) > nEng {
		pool = pool[:nEng]
	}
	fmt.Fprintf(os.Stderr, "english: %d from other pairs, %d from development halves\n", len(pool), len(devEnglish))
	for _, s := range devEnglish {
		if !held[norm(s)] {
			add("en", s, 3)
		}
	}
	for _, s := range pool {
		add("en", s, 1)
	}
	spa, err := translateAll("eng-spa", pool)
	if err != nil {
		return err
	}
	for _, step := range []struct {
		lang, mode string
		src        []string
	}{{"es", "", spa}, {"ca", "eng-cat", pool}, {"gl", "en-gl", pool}, {"pt", "es-pt", spa}, {"it", "spa-ita", spa}, {"fr", "es-fr", spa}} {
		got := step.src
		if step.mode != "" {
			if got, err = translateAll(step.mode, step.src); err != nil {
				return err
			}
		}
		n := 0
		for _, s := range got {
			if s != "" {
				add(step.lang, s, 1)
				n++
			}
		}
		fmt.Fprintf(os.Stderr, "%s: %d synthetic sentences\n", step.lang, n)
	}
	return write(out, texts, weight, minN, minW)
}

func hash(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}

// translateAll translates one sentence a line with the apertium command
// line, 500 lines a run; a run that fails (some pairs crash on some
// sentences) is halved until the failing sentence is found and dropped. A
// sentence whose translation has an unknown-word, transfer or generation
// mark comes back empty, and so does an empty input.
func translateAll(mode string, in []string) ([]string, error) {
	out := make([]string, len(in))
	dropped := 0
	var do func(lo, hi int) error
	do = func(lo, hi int) error {
		got, err := translateRun(mode, in[lo:hi])
		if err == nil {
			copy(out[lo:], got)
			return nil
		}
		if hi-lo == 1 {
			dropped++
			return nil
		}
		mid := (lo + hi) / 2
		if err := do(lo, mid); err != nil {
			return err
		}
		return do(mid, hi)
	}
	for lo := 0; lo < len(in); lo += 500 {
		if err := do(lo, min(lo+500, len(in))); err != nil {
			return nil, err
		}
	}
	fmt.Fprintf(os.Stderr, "apertium %s: %d sentences, %d dropped after a crash\n", mode, len(in), dropped)
	return out, nil
}

func translateRun(mode string, in []string) ([]string, error) {
	cmd := exec.Command("apertium", mode)
	var src []string
	for _, s := range in {
		src = append(src, strings.ReplaceAll(s, "\n", " "))
	}
	cmd.Stdin = strings.NewReader(strings.Join(src, "\n") + "\n")
	b, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("apertium %s: %w", mode, err)
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) != len(in) {
		return nil, fmt.Errorf("apertium %s: %d lines out for %d in", mode, len(lines), len(in))
	}
	for i, l := range lines {
		if in[i] == "" || strings.ContainsAny(l, "*#@") {
			lines[i] = ""
		}
	}
	return lines, nil
}

func write(out string, texts map[string][]string, weight map[string][]float64, minN, minW int) error {
	counts := map[string][]float64{}
	totN, totW := make([]float64, len(langs)), make([]float64, len(langs))
	for li, l := range langs {
		for si, s := range texts[l] {
			w := weight[l][si]
			lidfeat.Features(s, func(kind byte, f string) {
				k := string(kind) + f
				c := counts[k]
				if c == nil {
					c = make([]float64, len(langs))
					counts[k] = c
				}
				c[li] += w
				if kind == 'n' {
					totN[li] += w
				} else {
					totW[li] += w
				}
			})
		}
	}
	keys := make([]string, 0, len(counts))
	for k, c := range counts {
		sum := 0.0
		for _, v := range c {
			sum += v
		}
		if (k[0] == 'n' && sum >= float64(minN)) || (k[0] == 'w' && sum >= float64(minW)) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	fmt.Fprintf(zw, "langs\t%s\n", strings.Join(langs, "\t"))
	row := func(a, b string, c []float64) {
		fmt.Fprintf(zw, "%s\t%s", a, b)
		for _, v := range c {
			fmt.Fprintf(zw, "\t%g", v)
		}
		fmt.Fprintln(zw)
	}
	row("totals", "n", totN)
	row("totals", "w", totW)
	for _, k := range keys {
		row(k[:1], k[1:], counts[k])
	}
	if err := zw.Close(); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "%d features kept of %d; %d bytes\n", len(keys), len(counts), buf.Len())
	return os.WriteFile(out, buf.Bytes(), 0o644)
}
