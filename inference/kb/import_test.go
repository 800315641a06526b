package kb

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// importFixture is a mixed set of good and bad items, by path.
func importFixture() map[string][]byte {
	big := bytes.Repeat([]byte("refund policy words "), 50<<20/20) // 50 MB
	return map[string][]byte{
		"billing/refunds.md": []byte("---\ntags: [billing, refund]\nqueue: billing\n---\n# Refund policy\n\nRefunds are paid within **five** working days to the original [card](https://x/y).\n\n```\ncode stays\n```\n"),
		"cards/lost.html": []byte(`<html><head><title>Lost card</title><style>body{color:red}</style>
			<script>var secret = "do not index";</script><meta name="keywords" content="cards, lost"></head>
			<body><nav>Home | Menu</nav><h1>Lost or stolen card</h1><p>Block the card in the app<div>then call us
			<p>We send a new card in <b>three days</b><script>alert("x")</script></body>`),
		"cards/broken.html": []byte(`<p>Unclosed <b>tags <i>everywhere <div><p>PIN reset needs the card reader<table><tr><td>cell`),
		"plain/hours.txt":   []byte("Opening hours\nThe contact centre is open from 8 am to 8 pm.\n"),
		"bulk/articles.jsonl": []byte(strings.Join([]string{
			`{"id":"j1","title":"Overdraft fees","body":"An arranged overdraft costs 39.9% APR.","tags":["fees"]}`,
			`{"id":"j2","title":"Mortgage holiday","body":"You can pause payments for up to six months."}`,
			``,
			`{"id":"j1","title":"Duplicate","body":"A second j1."}`,
			`{"id":"j3","title":"Broken", "body": }`,
			`{"id":"j4","title":"Unknown field","body":"x","colour":"red"}`,
			`{"id":"","title":"No id","body":"x"}`,
			`{"id":"j5","title":"Huge","body":"` + strings.Repeat("x", 5<<20) + `"}`,
			`{"id":"j6","title":"Savings rates","body":"Easy access savings pay 3.1% AER."}`,
		}, "\n")),
		"dup/refunds.md":   []byte("---\nid: billing/refunds\n---\n# Another refund page\n\nDuplicate id.\n"),
		"images/logo.md":   {0x89, 'P', 'N', 'G', 0, 0, 0, 0x0d, 'I', 'H', 'D', 'R'},
		"latin1.txt":       {'C', 'a', 'f', 0xe9, '\n', 'b', 'o', 'd', 'y'},
		"huge.md":          big,
		"tools/script.exe": []byte("MZ"),
		"empty.txt":        []byte("\n\n"),
		".hidden/skip.md":  []byte("# hidden"),
	}
}

// wantImport is what importFixture gives whatever the container.
var wantImport = struct {
	ids    []string
	errors map[string]error
}{
	ids: []string{"billing/refunds", "cards/broken", "cards/lost", "j1", "j2", "j6", "plain/hours"},
	errors: map[string]error{
		"bulk/articles.jsonl:4": ErrDuplicateID,
		"bulk/articles.jsonl:5": nil, // decode error
		"bulk/articles.jsonl:6": nil, // unknown field
		"bulk/articles.jsonl:7": ErrInvalid,
		"bulk/articles.jsonl:8": ErrTooLarge,
		"dup/refunds.md":        ErrDuplicateID,
		"images/logo.md":        ErrBinary,
		"latin1.txt":            ErrBinary,
		"huge.md":               ErrTooLarge,
		"tools/script.exe":      ErrUnsupported,
		"empty.txt":             ErrInvalid,
	},
}

func checkImport(t *testing.T, res ImportResult) {
	t.Helper()
	var ids []string
	for _, a := range res.Articles {
		ids = append(ids, a.ID)
		if err := a.Validate(); err != nil {
			t.Errorf("imported article %q is invalid: %v", a.ID, err)
		}
	}
	sort.Strings(ids)
	if diff := cmp.Diff(wantImport.ids, ids); diff != "" {
		t.Errorf("imported ids (-want +got):\n%s", diff)
	}
	got := map[string]error{}
	for _, e := range res.Errors {
		got[e.Item] = e.Err
	}
	for item, want := range wantImport.errors {
		err, ok := got[item]
		if !ok {
			t.Errorf("no error for %s", item)
			continue
		}
		if want != nil && !errors.Is(err, want) {
			t.Errorf("error for %s = %v, want %v", item, err, want)
		}
		delete(got, item)
	}
	for item, err := range got {
		t.Errorf("unexpected error for %s: %v", item, err)
	}
	byID := map[string]Article{}
	for _, a := range res.Articles {
		byID[a.ID] = a
	}
	lost := byID["cards/lost"]
	if lost.Title != "Lost card" || strings.Contains(lost.Body, "secret") || strings.Contains(lost.Body, "alert") ||
		strings.Contains(lost.Body, "color") || strings.Contains(lost.Body, "Menu") || !strings.Contains(lost.Body, "three days") {
		t.Errorf("html extraction: title %q body %q", lost.Title, lost.Body)
	}
	if diff := cmp.Diff([]string{"cards", "lost"}, lost.Tags); diff != "" {
		t.Errorf("html keywords (-want +got):\n%s", diff)
	}
	if b := byID["cards/broken"].Body; !strings.Contains(b, "PIN reset needs the card reader") {
		t.Errorf("broken html body = %q", b)
	}
	ref := byID["billing/refunds"]
	if ref.Title != "Refund policy" || ref.Queue != "billing" || strings.Contains(ref.Body, "**") ||
		strings.Contains(ref.Body, "https") || !strings.Contains(ref.Body, "code stays") {
		t.Errorf("markdown: %+v", ref)
	}
	if diff := cmp.Diff([]string{"billing", "refund"}, ref.Tags); diff != "" {
		t.Errorf("markdown tags (-want +got):\n%s", diff)
	}
	if h := byID["plain/hours"]; h.Title != "Opening hours" || !strings.HasPrefix(h.Body, "The contact centre") {
		t.Errorf("text: %+v", h)
	}
}

func writeTree(t *testing.T, files map[string][]byte) string {
	dir := t.TempDir()
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func sortedNames(files map[string][]byte) []string {
	var names []string
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func TestImportSources(t *testing.T) {
	files := importFixture()
	ctx := context.Background()
	im := NewImporter(ImportLimits{})

	t.Run("dir", func(t *testing.T) {
		res, err := im.ImportDir(ctx, writeTree(t, files))
		if err != nil {
			t.Fatal(err)
		}
		checkImport(t, res)
	})
	t.Run("tar.gz", func(t *testing.T) {
		var buf bytes.Buffer
		gz := gzip.NewWriter(&buf)
		tw := tar.NewWriter(gz)
		for _, name := range sortedNames(files) {
			data := files[name]
			if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), ModTime: time.Unix(1e9, 0), Typeflag: tar.TypeReg}); err != nil {
				t.Fatal(err)
			}
			tw.Write(data)
		}
		tw.Close()
		gz.Close()
		res, err := im.ImportTar(ctx, &buf, "kb.tar.gz")
		if err != nil {
			t.Fatal(err)
		}
		checkImport(t, res)
	})
	t.Run("zip", func(t *testing.T) {
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		for _, name := range sortedNames(files) {
			w, err := zw.Create(name)
			if err != nil {
				t.Fatal(err)
			}
			w.Write(files[name])
		}
		zw.Close()
		p := filepath.Join(t.TempDir(), "kb.zip")
		os.WriteFile(p, buf.Bytes(), 0o644)
		res, err := im.ImportPath(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		checkImport(t, res)
	})
}

func TestImportDamagedArchives(t *testing.T) {
	ctx := context.Background()
	im := NewImporter(ImportLimits{})
	if _, err := im.ImportZip(ctx, bytes.NewReader([]byte("not a zip")), 9, "x.zip"); err == nil {
		t.Error("ImportZip(garbage) = nil error")
	}
	// A tar cut in the middle of its second entry keeps the first.
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, name := range []string{"a.txt", "b.txt"} {
		body := []byte("Title " + name + "\n" + strings.Repeat("body words ", 100))
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg})
		tw.Write(body)
	}
	tw.Close()
	cut := buf.Bytes()[:512+1024+512+100]
	res, err := im.ImportTar(ctx, bytes.NewReader(cut), "cut.tar")
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Articles) != 1 || res.Articles[0].ID != "a" || len(res.Errors) != 1 {
		t.Errorf("cut tar: articles %v errors %v", res.Articles, res.Errors)
	}
}

func TestImportLimits(t *testing.T) {
	files := map[string][]byte{}
	for i := range 5 {
		files[string(rune('a'+i))+".txt"] = []byte("Title\nbody text")
	}
	res, err := NewImporter(ImportLimits{MaxItems: 3}).ImportDir(context.Background(), writeTree(t, files))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Articles) != 3 || !res.Truncated {
		t.Errorf("MaxItems 3: %d articles, truncated %v", len(res.Articles), res.Truncated)
	}
}

// TestImportIntoIndexIdempotent applies an import to an index twice: the
// second pass saves and changes nothing, and the failed items never reach
// the store or the index. A save failure leaves that article out of the
// index.
func TestImportIntoIndexIdempotent(t *testing.T) {
	ctx := context.Background()
	dir := writeTree(t, importFixture())
	ix := newTestIndex(t, nil)
	saved := map[string]int{}
	save := func(_ context.Context, a Article) error {
		if a.ID == "j6" && saved["j6-fail"] == 0 {
			saved["j6-fail"]++
			return errors.New("disk full")
		}
		saved[a.ID]++
		return nil
	}
	for pass, want := range []ImportReport{
		{Added: len(wantImport.ids) - 1, Failed: len(wantImport.errors) + 1},
		{Added: 1, Unchanged: len(wantImport.ids) - 1, Failed: len(wantImport.errors)},
		{Unchanged: len(wantImport.ids), Failed: len(wantImport.errors)},
	} {
		res, err := NewImporter(ImportLimits{}).ImportDir(ctx, dir)
		if err != nil {
			t.Fatal(err)
		}
		got := ix.ApplyImport(ctx, res, save)
		if got.Added != want.Added || got.Updated != want.Updated || got.Unchanged != want.Unchanged || got.Failed != want.Failed || len(got.Errors) != got.Failed {
			t.Errorf("pass %d: report %+v, want %+v", pass, got, want)
		}
	}
	for _, id := range wantImport.ids {
		if saved[id] != 1 {
			t.Errorf("article %q saved %d times, want 1", id, saved[id])
		}
		if _, ok := ix.Article(id); !ok {
			t.Errorf("article %q not indexed", id)
		}
	}
	if s := ix.Stats(); s.Articles != len(wantImport.ids) {
		t.Errorf("index holds %d articles, want %d", s.Articles, len(wantImport.ids))
	}
	for _, id := range []string{"j3", "j4", "j5", "huge", "images/logo"} {
		if _, ok := ix.Article(id); ok || saved[id] > 0 {
			t.Errorf("failed item %q reached the store or index", id)
		}
	}
}

func FuzzExtractHTML(f *testing.F) {
	for _, name := range []string{"cards/lost.html", "cards/broken.html"} {
		f.Add(importFixture()[name])
	}
	f.Add([]byte("<script>"))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := extractHTML(data)
		if err == nil && d.body == "" && d.title == "" {
			t.Fatal("no error and no text")
		}
	})
}

func FuzzParseMarkdown(f *testing.F) {
	f.Add(string(importFixture()["billing/refunds.md"]))
	f.Add("---\nid: x\n")
	f.Fuzz(func(t *testing.T, s string) {
		d := parseMarkdown(s)
		if len(d.body) > len(s)+16 {
			t.Fatalf("body grew: %d > %d", len(d.body), len(s))
		}
	})
}

func FuzzImportJSONLines(f *testing.F) {
	f.Add(importFixture()["bulk/articles.jsonl"][:300])
	f.Add([]byte("{\"id\":\"a\",\"title\":\"t\",\"body\":\"b\"}\n\n{"))
	f.Fuzz(func(t *testing.T, data []byte) {
		im := NewImporter(ImportLimits{MaxItemBytes: 1 << 10})
		run := im.newRun("fuzz")
		run.item("f.jsonl", bytes.NewReader(data), time.Unix(0, 0))
		seen := map[string]bool{}
		for _, a := range run.res.Articles {
			if err := a.Validate(); err != nil || seen[a.ID] {
				t.Fatalf("accepted invalid or duplicate article %q: %v", a.ID, err)
			}
			seen[a.ID] = true
		}
	})
}

// TestStreamedImportAndTextBound: with OnArticle an import hands over each
// article as it is parsed (none kept in the result); the index refuses an
// article past MaxTextBytes (a replacement counts its old text back), and
// ErrStop from OnArticle ends the import, truncated.
func TestStreamedImportAndTextBound(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxTextBytes = 1000
	ix, err := New(cfg, nil, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	body := strings.Repeat("x ", 200) // 400 bytes
	var got []string
	im := NewImporter(ImportLimits{})
	im.OnArticle = func(a Article) error {
		got = append(got, a.ID)
		if _, err := ix.ApplyArticle(ctx, a, nil); err != nil {
			if errors.Is(err, ErrIndexFull) {
				return fmt.Errorf("%w: %w", ErrStop, err)
			}
			return err
		}
		return nil
	}
	var lines []string
	for i := range 4 {
		lines = append(lines, fmt.Sprintf(`{"id":"a%d","title":"A","body":%q}`, i, body))
	}
	res, err := im.ImportTar(ctx, bytes.NewReader(tarArchive(t, map[string]string{"all.jsonl": strings.Join(lines, "\n")})), "t.tar")
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Articles) != 0 || !res.Truncated || len(res.Errors) != 1 || !errors.Is(res.Errors[0], ErrIndexFull) {
		t.Fatalf("result = %d articles, truncated %v, errors %v; want none kept, truncated by one ErrIndexFull", len(res.Articles), res.Truncated, res.Errors)
	}
	if !slices.Equal(got, []string{"a0", "a1", "a2"}) {
		t.Errorf("handed over %v, want a0..a2 (the import stops at the first that does not fit)", got)
	}
	if st := ix.Stats(); st.Articles != 2 || st.TextBytes != 802 {
		t.Errorf("index %+v, want 2 articles, 802 bytes", st)
	}
	// Replacing an article counts its old text back; deleting frees it.
	if _, err := ix.Upsert(ctx, Article{ID: "a1", Title: "A", Body: body + "y"}); err != nil {
		t.Errorf("replacing within the bound: %v", err)
	}
	if err := ix.Delete("a0"); err != nil {
		t.Fatal(err)
	}
	if _, err := ix.Upsert(ctx, Article{ID: "a9", Title: "A", Body: body}); err != nil {
		t.Errorf("after a delete: %v", err)
	}
}

// tarArchive builds an uncompressed tar of files.
func tarArchive(t testing.TB, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for name, body := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), ModTime: time.Unix(1700000000, 0)}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(body))
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// FuzzImportArchive reads arbitrary bytes as a zip and as a tar (gzip or
// not), with small limits: no panic, limits hold, every article handed
// over validates and is unique, and every failure names its item.
func FuzzImportArchive(f *testing.F) {
	files := map[string]string{}
	for name, body := range importFixture() {
		if len(body) < 2<<10 { // small seeds keep the mutator fast
			files[name] = string(body)
		}
	}
	tarball := tarArchive(f, files)
	f.Add(tarball)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(tarball)
	zw.Close()
	f.Add(gz.Bytes())
	var zbuf bytes.Buffer
	z := zip.NewWriter(&zbuf)
	for name, body := range files {
		w, _ := z.Create(name)
		w.Write([]byte(body))
	}
	z.Close()
	f.Add(zbuf.Bytes())
	f.Add([]byte("PK\x05\x06" + strings.Repeat("\x00", 18)))
	f.Fuzz(func(t *testing.T, data []byte) {
		lim := ImportLimits{MaxItemBytes: 4 << 10, MaxItems: 50, MaxTotalBytes: 64 << 10}
		for _, kind := range []string{"zip", "tar"} {
			im := NewImporter(lim)
			var handed []Article
			im.OnArticle = func(a Article) error {
				handed = append(handed, a)
				if len(handed) == 10 {
					return ErrStop
				}
				return nil
			}
			var res ImportResult
			var err error
			if kind == "zip" {
				res, err = im.ImportZip(context.Background(), bytes.NewReader(data), int64(len(data)), "f.zip")
			} else {
				res, err = im.ImportTar(context.Background(), bytes.NewReader(data), "f.tar")
			}
			if err != nil {
				continue
			}
			if len(res.Articles) != 0 {
				t.Fatalf("%s: %d articles kept although OnArticle took them", kind, len(res.Articles))
			}
			if len(handed) > 10 || len(handed) > lim.MaxItems {
				t.Fatalf("%s: %d articles handed over after the stop or past the limit", kind, len(handed))
			}
			seen := map[string]bool{}
			for _, a := range handed {
				if err := a.Validate(); err != nil || seen[a.ID] || int64(len(a.Body)) > lim.MaxItemBytes {
					t.Fatalf("%s: handed over an invalid, duplicate or oversized article %q: %v", kind, a.ID, err)
				}
				seen[a.ID] = true
			}
			for _, e := range res.Errors {
				if e.Item == "" || e.Err == nil {
					t.Fatalf("%s: an error without its item: %+v", kind, e)
				}
			}
		}
	})
}
