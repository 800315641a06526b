package kb

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"
)

// ImportLimits bound an import. Items over MaxItemBytes are rejected one by
// one; an import stops (keeping what it parsed) at MaxItems or MaxTotalBytes.
type ImportLimits struct {
	MaxItemBytes  int64 `json:"max_item_bytes"`
	MaxItems      int   `json:"max_items"`
	MaxTotalBytes int64 `json:"max_total_bytes"`
}

// DefaultImportLimits are 4 MiB per article, 100,000 items, 2 GiB in all.
func DefaultImportLimits() ImportLimits {
	return ImportLimits{MaxItemBytes: MaxArticleBytes, MaxItems: 100_000, MaxTotalBytes: 2 << 30}
}

// ErrBinary, ErrTooLarge and ErrUnsupported classify per-item failures.
var (
	ErrBinary      = errors.New("kb: binary content")
	ErrTooLarge    = errors.New("kb: item too large")
	ErrUnsupported = errors.New("kb: unsupported file type")
	ErrDuplicateID = errors.New("kb: duplicate article id")
	errLimit       = errors.New("kb: import limit reached")
)

// ItemError is the failure of one item of an import: Item is the file path
// inside the source, with ":<line>" for a JSON-lines record.
type ItemError struct {
	Item string `json:"item"`
	Err  error  `json:"-"`
}

func (e ItemError) Error() string { return e.Item + ": " + e.Err.Error() }
func (e ItemError) Unwrap() error { return e.Err }

// MarshalJSON writes the error as text, for API responses.
func (e ItemError) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Item  string `json:"item"`
		Error string `json:"error"`
	}{e.Item, e.Err.Error()})
}

// ImportResult is the outcome of parsing an import: every article that
// parsed and validated (in source order, ids unique), and an error per item
// that did not. Nothing is applied anywhere by parsing; the caller stores
// and indexes Articles one by one (each write is whole or absent).
type ImportResult struct {
	Articles []Article   `json:"-"`
	Errors   []ItemError `json:"errors"`
	// Truncated is set when a limit stopped the import early.
	Truncated bool `json:"truncated,omitempty"`
}

// Importer parses knowledge-base sources: a directory, a tar (optionally
// gzip-compressed) or zip archive, or a single file. File types go by
// extension: .md/.markdown, .html/.htm, .txt/.text, .jsonl/.ndjson.
type Importer struct {
	Limits ImportLimits
	// Now stamps articles that carry no update time (default time.Now).
	Now func() time.Time
	// OnArticle, when set, receives each article as soon as it is parsed
	// and validated, instead of ImportResult.Articles: an import of any
	// size then holds one item at a time. An error it returns is the
	// item's error; ErrStop (wrapped) also ends the import, as a limit
	// does (Truncated).
	OnArticle func(Article) error
}

// ErrStop, returned (wrapped) by OnArticle, ends an import early.
var ErrStop = errors.New("kb: import stopped")

// NewImporter returns an importer with lim (zero fields take defaults).
func NewImporter(lim ImportLimits) *Importer {
	def := DefaultImportLimits()
	if lim.MaxItemBytes <= 0 {
		lim.MaxItemBytes = def.MaxItemBytes
	}
	if lim.MaxItems <= 0 {
		lim.MaxItems = def.MaxItems
	}
	if lim.MaxTotalBytes <= 0 {
		lim.MaxTotalBytes = def.MaxTotalBytes
	}
	return &Importer{Limits: lim, Now: time.Now}
}

// importRun accumulates one import.
type importRun struct {
	im     *Importer
	source string
	res    ImportResult
	seen   map[string]string // id -> item that defined it
	total  int64
	items  int
	// stopped is set when OnArticle asked to stop.
	stopped bool
}

func (im *Importer) newRun(source string) *importRun {
	return &importRun{im: im, source: source, seen: map[string]string{}}
}

// ImportPath imports a directory, an archive (.zip, .tar, .tar.gz, .tgz) or
// a single file. The error is for the source as a whole (unreadable, not an
// archive); per-item failures are in the result.
func (im *Importer) ImportPath(ctx context.Context, p string) (ImportResult, error) {
	st, err := os.Stat(p)
	if err != nil {
		return ImportResult{}, fmt.Errorf("kb: import: %w", err)
	}
	if st.IsDir() {
		return im.ImportDir(ctx, p)
	}
	f, err := os.Open(p)
	if err != nil {
		return ImportResult{}, fmt.Errorf("kb: import: %w", err)
	}
	defer f.Close()
	lower := strings.ToLower(p)
	switch {
	case strings.HasSuffix(lower, ".zip"):
		return im.ImportZip(ctx, f, st.Size(), filepath.Base(p))
	case strings.HasSuffix(lower, ".tar"), strings.HasSuffix(lower, ".tar.gz"), strings.HasSuffix(lower, ".tgz"):
		return im.ImportTar(ctx, f, filepath.Base(p))
	}
	run := im.newRun(filepath.Base(p))
	run.item(filepath.Base(p), f, st.ModTime())
	return run.res, nil
}

// ImportDir imports every regular file under dir (hidden files and
// directories skipped, symbolic links not followed).
func (im *Importer) ImportDir(ctx context.Context, dir string) (ImportResult, error) {
	run := im.newRun(filepath.Base(dir))
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if err != nil {
			run.fail(rel, err)
			return nil
		}
		if rel != "." && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			run.fail(rel, err)
			return nil
		}
		f, err := os.Open(p) // #nosec G122 -- an administrator's import directory on the appliance, not a tree an attacker writes to while it is read
		if err != nil {
			run.fail(rel, err)
			return nil
		}
		defer f.Close()
		if !run.item(rel, f, info.ModTime()) {
			return errLimit
		}
		return nil
	})
	if err != nil && !errors.Is(err, errLimit) {
		return run.res, fmt.Errorf("kb: import %s: %w", filepath.Base(dir), err)
	}
	return run.res, nil
}

// ImportTar imports a tar archive, gzip-compressed or not.
func (im *Importer) ImportTar(ctx context.Context, r io.Reader, name string) (ImportResult, error) {
	br := bufio.NewReader(r)
	var src io.Reader = br
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return ImportResult{}, fmt.Errorf("kb: import %s: %w", name, err)
		}
		defer gz.Close()
		src = gz
	}
	run := im.newRun(name)
	tr := tar.NewReader(src)
	for {
		if err := ctx.Err(); err != nil {
			return run.res, err
		}
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			// A damaged archive: keep what was read, report where it broke.
			run.fail(name, fmt.Errorf("read archive: %w", err))
			break
		}
		if h.Typeflag != tar.TypeReg || skipArchiveName(h.Name) {
			continue
		}
		if !run.item(path.Clean(h.Name), tr, h.ModTime) {
			break
		}
	}
	return run.res, nil
}

// ImportZip imports a zip archive.
func (im *Importer) ImportZip(ctx context.Context, r io.ReaderAt, size int64, name string) (ImportResult, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return ImportResult{}, fmt.Errorf("kb: import %s: %w", name, err)
	}
	run := im.newRun(name)
	for _, f := range zr.File {
		if err := ctx.Err(); err != nil {
			return run.res, err
		}
		if f.FileInfo().IsDir() || skipArchiveName(f.Name) {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			run.fail(f.Name, err)
			continue
		}
		ok := run.item(path.Clean(f.Name), rc, f.Modified)
		rc.Close()
		if !ok {
			break
		}
	}
	return run.res, nil
}

func skipArchiveName(name string) bool {
	for _, part := range strings.Split(name, "/") {
		if strings.HasPrefix(part, ".") && part != "." && part != ".." || part == "__MACOSX" {
			return true
		}
	}
	return false
}

func (run *importRun) fail(item string, err error) {
	run.res.Errors = append(run.res.Errors, ItemError{Item: item, Err: err})
}

// item parses one file; it returns false when a limit stops the import.
func (run *importRun) item(name string, r io.Reader, mod time.Time) bool {
	lim := run.im.Limits
	if run.stopped {
		return false
	}
	if run.items >= lim.MaxItems {
		run.res.Truncated = true
		run.fail(name, fmt.Errorf("%w: more than %d items", errLimit, lim.MaxItems))
		return false
	}
	run.items++
	kind := fileKind(name)
	if kind == "" {
		run.fail(name, fmt.Errorf("%w: %q", ErrUnsupported, path.Ext(name)))
		return true
	}
	if mod.IsZero() {
		mod = run.im.Now()
	}
	if kind == "jsonl" {
		return run.jsonLines(name, r, mod)
	}
	data, err := io.ReadAll(io.LimitReader(r, lim.MaxItemBytes+1))
	if err != nil {
		run.fail(name, err)
		return true
	}
	run.total += int64(len(data))
	if int64(len(data)) > lim.MaxItemBytes {
		n, _ := io.Copy(io.Discard, r) // skip the rest of this entry
		run.total += n
		run.fail(name, fmt.Errorf("%w: over %d bytes", ErrTooLarge, lim.MaxItemBytes))
		return run.checkTotal(name)
	}
	if err := checkText(data); err != nil {
		run.fail(name, err)
		return run.checkTotal(name)
	}
	a, err := parseFile(kind, name, data)
	if err != nil {
		run.fail(name, err)
		return run.checkTotal(name)
	}
	a.Source = run.source + "/" + name
	a.Updated = mod.UTC()
	run.accept(name, a)
	return !run.stopped && run.checkTotal(name)
}

func (run *importRun) checkTotal(name string) bool {
	if run.total > run.im.Limits.MaxTotalBytes {
		run.res.Truncated = true
		run.fail(name, fmt.Errorf("%w: more than %d bytes in all", errLimit, run.im.Limits.MaxTotalBytes))
		return false
	}
	return true
}

// accept validates a parsed article and keeps it unless its id was seen.
func (run *importRun) accept(item string, a Article) {
	if err := a.Validate(); err != nil {
		run.fail(item, err)
		return
	}
	if first, dup := run.seen[a.ID]; dup {
		run.fail(item, fmt.Errorf("%w %q: first defined by %s", ErrDuplicateID, a.ID, first))
		return
	}
	run.seen[a.ID] = item
	if run.im.OnArticle == nil {
		run.res.Articles = append(run.res.Articles, a)
		return
	}
	if err := run.im.OnArticle(a); err != nil {
		run.fail(item, err)
		if errors.Is(err, ErrStop) {
			run.stopped = true
			run.res.Truncated = true
		}
	}
}

func fileKind(name string) string {
	switch strings.ToLower(path.Ext(name)) {
	case ".md", ".markdown":
		return "md"
	case ".html", ".htm":
		return "html"
	case ".txt", ".text":
		return "txt"
	case ".jsonl", ".ndjson":
		return "jsonl"
	}
	return ""
}

// checkText rejects binary data: a NUL byte or invalid UTF-8.
func checkText(data []byte) error {
	if bytes.IndexByte(data, 0) >= 0 {
		return fmt.Errorf("%w: contains NUL bytes", ErrBinary)
	}
	if !utf8.Valid(data) {
		return fmt.Errorf("%w: not valid UTF-8 text", ErrBinary)
	}
	return nil
}

// idFromName derives an article id from a file path: the path without its
// extension ("billing/refunds.md" -> "billing/refunds").
func idFromName(name string) string {
	return strings.TrimSuffix(name, path.Ext(name))
}

// parseFile turns one Markdown, HTML or text file into an article.
func parseFile(kind, name string, data []byte) (Article, error) {
	a := Article{ID: idFromName(name)}
	text := strings.TrimPrefix(string(data), "\ufeff")
	switch kind {
	case "md":
		d := parseMarkdown(text)
		if d.id != "" {
			a.ID = d.id
		}
		a.Title, a.Body, a.Tags, a.Queue = d.title, d.body, d.tags, d.queue
	case "html":
		d, err := extractHTML(data)
		if err != nil {
			return Article{}, err
		}
		a.Title, a.Body, a.Tags = d.title, d.body, d.tags
	case "txt":
		title, body, _ := strings.Cut(strings.TrimSpace(strings.ReplaceAll(text, "\r\n", "\n")), "\n")
		a.Title, a.Body = strings.TrimSpace(title), strings.TrimSpace(body)
	}
	if a.Title == "" {
		a.Title = path.Base(a.ID)
	}
	if strings.TrimSpace(a.Body) == "" {
		return Article{}, fmt.Errorf("%w: field body: no text", ErrInvalid)
	}
	return a, nil
}

// jsonLines parses a JSON-lines file: one article object per line; blank
// lines are skipped; each bad line is its own error ("name:line").
func (run *importRun) jsonLines(name string, r io.Reader, mod time.Time) bool {
	lim := run.im.Limits
	br := bufio.NewReaderSize(r, 64*1024)
	for line := 1; ; line++ {
		item := fmt.Sprintf("%s:%d", name, line)
		data, tooLong, err := readLine(br, lim.MaxItemBytes)
		run.total += int64(len(data))
		if len(bytes.TrimSpace(data)) > 0 || tooLong {
			if !run.record(item, data, tooLong, mod) {
				return false
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				run.fail(item, err)
			}
			return true
		}
		if !run.checkTotal(item) {
			return false
		}
	}
}

func (run *importRun) record(item string, data []byte, tooLong bool, mod time.Time) bool {
	if run.stopped {
		return false
	}
	if run.items >= run.im.Limits.MaxItems {
		run.res.Truncated = true
		run.fail(item, fmt.Errorf("%w: more than %d items", errLimit, run.im.Limits.MaxItems))
		return false
	}
	run.items++
	if tooLong {
		run.fail(item, fmt.Errorf("%w: over %d bytes", ErrTooLarge, run.im.Limits.MaxItemBytes))
		return true
	}
	if err := checkText(data); err != nil {
		run.fail(item, err)
		return true
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var a Article // unknown fields are errors
	if err := dec.Decode(&a); err != nil {
		run.fail(item, fmt.Errorf("decode: %w", err))
		return true
	}
	if dec.More() {
		run.fail(item, errors.New("decode: more than one value on the line"))
		return true
	}
	if a.Source == "" {
		a.Source = run.source + "/" + strings.SplitN(item, ":", 2)[0]
	}
	if a.Updated.IsZero() {
		a.Updated = mod.UTC()
	}
	run.accept(item, a)
	return !run.stopped
}

// readLine reads one line (without its newline). A line over max bytes is
// consumed to its end and reported with tooLong, its bytes not kept.
func readLine(br *bufio.Reader, max int64) (line []byte, tooLong bool, err error) {
	for {
		chunk, err := br.ReadSlice('\n')
		if !tooLong {
			if int64(len(line)+len(chunk)) > max+1 {
				tooLong, line = true, nil
			} else {
				line = append(line, chunk...)
			}
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		return bytes.TrimRight(line, "\r\n"), tooLong, err
	}
}

// ImportReport counts what applying an import did.
type ImportReport struct {
	Added     int         `json:"added"`
	Updated   int         `json:"updated"`
	Unchanged int         `json:"unchanged"`
	Failed    int         `json:"failed"`
	Errors    []ItemError `json:"errors"`
	Truncated bool        `json:"truncated,omitempty"`
}

// ApplyImport applies a parsed import: for each article whose content hash
// differs from the indexed one, save (the daemon's encrypted store write,
// whole or not at all) runs first and the index is updated only if it
// succeeds; an unchanged article is neither saved nor re-indexed. Parse
// errors of res and save errors are reported per item.
func (ix *Index) ApplyImport(ctx context.Context, res ImportResult, save func(context.Context, Article) error) ImportReport {
	rep := ImportReport{Errors: append([]ItemError(nil), res.Errors...), Truncated: res.Truncated, Failed: len(res.Errors)}
	for _, a := range res.Articles {
		ch, err := ix.ApplyArticle(ctx, a, save)
		if err != nil {
			rep.Errors = append(rep.Errors, ItemError{Item: a.Source, Err: err})
		}
		rep.Count(ch, err)
	}
	ix.m.importItems.WithLabelValues("failed").Add(float64(rep.Failed))
	return rep
}

// Count adds one applied article's outcome to the report's counts (not
// its errors).
func (rep *ImportReport) Count(ch Change, err error) {
	switch {
	case err != nil:
		rep.Failed++
	case ch == Added:
		rep.Added++
	case ch == Updated:
		rep.Updated++
	default:
		rep.Unchanged++
	}
}

// ApplyArticle applies one imported article as ApplyImport does: an
// article whose content hash is the indexed one is left alone; otherwise
// save runs first and the index is updated only if it succeeds. With an
// Importer's OnArticle it applies an import as it is parsed.
func (ix *Index) ApplyArticle(ctx context.Context, a Article, save func(context.Context, Article) error) (Change, error) {
	if err := ctx.Err(); err != nil {
		return Unchanged, err
	}
	if info, ok := ix.Article(a.ID); ok && info.Hash == a.Hash() {
		ix.m.importItems.WithLabelValues("unchanged").Inc()
		return Unchanged, nil
	}
	// Refuse before saving what the index could not hold.
	if err := ix.CheckRoom(a); err != nil {
		return Unchanged, err
	}
	if save != nil {
		if err := save(ctx, a); err != nil {
			return Unchanged, fmt.Errorf("save %q: %w", a.ID, err)
		}
	}
	ch, err := ix.Upsert(ctx, a)
	if err != nil {
		return Unchanged, err
	}
	ix.m.importItems.WithLabelValues("imported").Inc()
	return ch, nil
}
