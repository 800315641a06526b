package blevecmp

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/analysis/lang/en"
	"github.com/blevesearch/bleve/v2/mapping"
	"github.com/blevesearch/bleve/v2/search/query"
	"github.com/earshot/earshot/inference/kb"
	"github.com/earshot/earshot/inference/kb/internal/evalkit"
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

var cpuTime, heapInUse = evalkit.CPUTime, evalkit.HeapInUse

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
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			var lat, cpuLat []time.Duration
			i := 0
			for b.Loop() {
				c0 := evalkit.ThreadCPUTime()
				t0 := time.Now()
				search(b, sharedIdx.idx, qs[i%len(qs)], 5)
				lat = append(lat, time.Since(t0))
				cpuLat = append(cpuLat, evalkit.ThreadCPUTime()-c0)
				i++
			}
			pct := func(xs []time.Duration, p float64) float64 {
				return float64(xs[int(p*float64(len(xs)-1))].Nanoseconds()) / 1e3
			}
			slices.Sort(lat)
			slices.Sort(cpuLat)
			b.ReportMetric(pct(lat, 0.5), "p50-µs")
			b.ReportMetric(pct(lat, 0.99), "p99-µs")
			b.ReportMetric(pct(cpuLat, 0.5), "cpu-p50-µs")
			b.ReportMetric(pct(cpuLat, 0.99), "cpu-p99-µs")
		})
	}
}

// TestStackFAQBleve runs the stackfaq evaluation of kb's TestEvalStackFAQ
// with bleve's ranking, under both of its scoring models.
func TestStackFAQBleve(t *testing.T) {
	dir := os.Getenv("EARSHOT_EVAL_DIR")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "..", "..", "shared", "eval")
	}
	faqs, qs, err := evalkit.LoadStackFAQ(dir)
	if err != nil {
		t.Skipf("stackfaq data not available: %v", err)
	}
	var arts []kb.Article
	for _, f := range faqs {
		arts = append(arts, kb.Article{ID: f.ID, Title: f.Title, Body: f.Body})
	}
	for _, model := range []string{"bm25", "tf-idf"} {
		scoring = model
		s := evalFAQ(t, build(t, t.TempDir(), arts), qs)
		t.Logf("bleve v2.6.3 %-6s (title^3, body, en analyzer): hit@1 %.3f recall@5 %.3f MRR@10 %.3f over %d queries", model, s.Hit1, s.Recall5, s.MRR10, len(qs))
	}
	scoring = "bm25"
}

func evalFAQ(t *testing.T, idx bleve.Index, qs []evalkit.FAQQuery) evalkit.Scores {
	defer idx.Close()
	var s evalkit.Scores
	for _, x := range qs {
		rank, found := 0, 0
		seen := map[string]bool{}
		for _, pid := range search(t, idx, x.Text, 50) {
			art := pid[:strings.LastIndexByte(pid, '#')]
			if seen[art] {
				continue
			}
			seen[art] = true
			rank++
			if art == x.Answer {
				found = rank
				break
			}
		}
		s.Add(found)
	}
	return s.Mean(len(qs))
}
