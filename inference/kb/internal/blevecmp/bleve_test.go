package blevecmp

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/analysis/lang/en"
	"github.com/blevesearch/bleve/v2/mapping"
	"github.com/blevesearch/bleve/v2/search/query"
	"github.com/earshot/earshot/inference/kb"
	"github.com/earshot/earshot/inference/kb/internal/synth"
)

// passageDoc is one passage as a bleve document.
type passageDoc struct {
	Article string `json:"article"`
	Title   string `json:"title"`
	Body    string `json:"body"`
}

// scoring is bleve's scoring model: "bm25" (as kb) or "tf-idf" (bleve's default).
var scoring = "bm25"

func newMapping() mapping.IndexMapping {
	text := bleve.NewTextFieldMapping()
	text.Analyzer = en.AnalyzerName // stop words, possessives, Porter stemmer
	text.Store = false
	text.IncludeTermVectors = false
	kw := bleve.NewKeywordFieldMapping()
	dm := bleve.NewDocumentMapping()
	dm.AddFieldMappingsAt("title", text)
	dm.AddFieldMappingsAt("body", text)
	dm.AddFieldMappingsAt("article", kw)
	m := bleve.NewIndexMapping()
	m.DefaultMapping = dm
	m.DefaultAnalyzer = en.AnalyzerName
	m.ScoringModel = scoring
	return m
}

// build indexes articles split into the same passages as kb.Index.
func build(tb testing.TB, dir string, arts []kb.Article) bleve.Index {
	idx, err := bleve.New(filepath.Join(dir, "kb.bleve"), newMapping())
	if err != nil {
		tb.Fatal(err)
	}
	batch := idx.NewBatch()
	for _, a := range arts {
		for _, p := range kb.SplitPassages(a, kb.DefaultConfig().PassageWords) {
			if err := batch.Index(p.ID, passageDoc{Article: a.ID, Title: p.Title, Body: p.Text}); err != nil {
				tb.Fatal(err)
			}
		}
		if batch.Size() >= 1000 {
			if err := idx.Batch(batch); err != nil {
				tb.Fatal(err)
			}
			batch.Reset()
		}
	}
	if err := idx.Batch(batch); err != nil {
		tb.Fatal(err)
	}
	return idx
}

// search runs a BM25-style disjunction over title (boosted 3, as kb) and
// body.
func search(tb testing.TB, idx bleve.Index, text string, k int) []string {
	t := query.NewMatchQuery(text)
	t.SetField("title")
	t.SetBoost(3)
	b := query.NewMatchQuery(text)
	b.SetField("body")
	req := bleve.NewSearchRequestOptions(bleve.NewDisjunctionQuery(t, b), k, 0, false)
	req.Fields = []string{"article"}
	res, err := idx.Search(req)
	if err != nil {
		tb.Fatal(err)
	}
	var out []string
	for _, h := range res.Hits {
		out = append(out, h.ID)
	}
	return out
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

var corpus = sync.OnceValue(func() []kb.Article {
	g := synth.New(42)
	arts := make([]kb.Article, 10_000)
	for i := range arts {
		arts[i] = kb.Article{ID: fmt.Sprintf("art-%05d", i), Title: g.Sentence(6), Body: g.Body(500), Tags: []string{g.Word()}}
	}
	return arts
})

// BenchmarkBleveIndex10k indexes the same 10,000 articles as kb's
// BenchmarkIndex10k into a scorch index on disk.
func BenchmarkBleveIndex10k(b *testing.B) {
	arts := corpus()
	var cpu time.Duration
	var heap uint64
	for b.Loop() {
		before := heapInUse()
		cpu0 := cpuTime()
		idx := build(b, b.TempDir(), arts)
		b.StopTimer()
		cpu += cpuTime() - cpu0
		heap = heapInUse() - before
		idx.Close()
		b.StartTimer()
	}
	b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/op")
	b.ReportMetric(float64(heap)/(1<<20), "heap-MiB")
}

var sharedIdx struct {
	once sync.Once
	idx  bleve.Index
}

func BenchmarkBleveQuery10k(b *testing.B) {
	sharedIdx.once.Do(func() {
		dir, err := os.MkdirTemp("", "blevecmp")
		if err != nil {
			b.Fatal(err)
		}
		sharedIdx.idx = build(b, dir, corpus())
	})
	for _, words := range []int{6, 60} {
		b.Run(fmt.Sprintf("%dw", words), func(b *testing.B) {
			g := synth.New(7)
			arts := corpus()
			qs := make([]string, 1000)
			for i := range qs {
				qs[i] = g.Query(arts[g.R.IntN(len(arts))].Body, words)
			}
			var lat []time.Duration
			i := 0
			for b.Loop() {
				t0 := time.Now()
				search(b, sharedIdx.idx, qs[i%len(qs)], 5)
				lat = append(lat, time.Since(t0))
				i++
			}
			slices.Sort(lat)
			pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) }
			b.ReportMetric(pct(0.5), "p50-µs")
			b.ReportMetric(pct(0.99), "p99-µs")
		})
	}
}

type faqQ struct{ text, id string }

type stringList []string

func (s *stringList) UnmarshalJSON(b []byte) error {
	var one *string
	if json.Unmarshal(b, &one) == nil {
		if one != nil {
			*s = []string{*one}
		}
		return nil
	}
	var many []*string
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	for _, v := range many {
		if v != nil {
			*s = append(*s, *v)
		}
	}
	return nil
}

// TestStackFAQBleve runs the stackfaq evaluation of kb's TestEvalStackFAQ
// with bleve's BM25 ranking.
func TestStackFAQBleve(t *testing.T) {
	dir := os.Getenv("EARSHOT_EVAL_DIR")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "..", "..", "shared", "eval")
	}
	raw, err := os.ReadFile(filepath.Join(dir, "stackfaq", "stackExchange-FAQ.json"))
	if err != nil {
		t.Skipf("stackfaq data not available: %v", err)
	}
	var f struct {
		Root struct {
			QAPair []struct {
				Rephr    stringList `json:"rephr"`
				Question string     `json:"question"`
				Answer   stringList `json:"answer"`
			} `json:"qapair"`
		} `json:"root"`
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	var arts []kb.Article
	var qs []faqQ
	for i, p := range f.Root.QAPair {
		id := fmt.Sprintf("faq-%03d", i)
		arts = append(arts, kb.Article{ID: id, Title: p.Question, Body: strings.Join(p.Answer, "\n\n")})
		for _, r := range p.Rephr {
			if len(strings.Fields(r)) >= 2 {
				qs = append(qs, faqQ{r, id})
			}
		}
	}
	for _, model := range []string{"bm25", "tf-idf"} {
		scoring = model
		hit1, r5, mrr := evalFAQ(t, build(t, t.TempDir(), arts), qs)
		t.Logf("bleve v2.6.3 %-5s (title^3, body, en analyzer): hit@1 %.3f recall@5 %.3f MRR@10 %.3f over %d queries", model, hit1, r5, mrr, len(qs))
	}
	scoring = "bm25"
}

func evalFAQ(t *testing.T, idx bleve.Index, qs []faqQ) (hit1, r5, mrr float64) {
	defer idx.Close()
	for _, x := range qs {
		ids := search(t, idx, x.text, 50)
		rank := 0
		seen := map[string]bool{}
		for _, pid := range ids {
			art := pid[:strings.LastIndexByte(pid, '#')]
			if seen[art] {
				continue
			}
			seen[art] = true
			rank++
			if rank > 10 {
				break
			}
			if art == x.id {
				if rank == 1 {
					hit1++
				}
				if rank <= 5 {
					r5++
				}
				mrr += 1 / float64(rank)
				break
			}
		}
	}
	n := float64(len(qs))
	return hit1 / n, r5 / n, mrr / n
}
