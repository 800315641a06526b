// Command kb-dir is an example Earshot knowledge plugin: a folder of
// Markdown files is the knowledge source.
//
// Configuration (set by the administrator):
//
//	dir        folder to read, recursively (required)
//	base_url   optional prefix for each article's URL (base_url + path)
//
// Each *.md file is one article: its ID is the path relative to dir, its
// title the first "# " heading (else the file name). Changes returns the
// files modified after the cursor, oldest first; the cursor is the last
// returned file's modification time and path. Deleted files are reported
// only by a full resync (an empty cursor lists every file; the daemon drops
// articles that are no longer listed).
package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/earshot/earshot/plugins/sdk"
)

func main() {
	k := &kb{}
	sdk.Serve(&sdk.Plugin{Name: "kb-dir", Version: "1.0.0", Configure: k.configure, Knowledge: k})
}

type kb struct {
	mu      sync.Mutex
	dir     string
	baseURL string
}

func (k *kb) configure(_ context.Context, cfg map[string]string) error {
	dir := cfg["dir"]
	if dir == "" {
		return fmt.Errorf("kb-dir: config dir is required: %w", sdk.ErrInvalidInput)
	}
	st, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("kb-dir: %w", err)
	}
	if !st.IsDir() {
		return fmt.Errorf("kb-dir: %s is not a folder: %w", dir, sdk.ErrInvalidInput)
	}
	k.mu.Lock()
	k.dir, k.baseURL = dir, cfg["base_url"]
	k.mu.Unlock()
	return nil
}

type entry struct {
	mod  int64 // unix nanoseconds
	path string
}

func (e entry) cursor() string { return strconv.FormatInt(e.mod, 10) + "/" + e.path }

func (e entry) after(c entry) bool {
	return e.mod > c.mod || (e.mod == c.mod && e.path > c.path)
}

func parseCursor(s string) (entry, error) {
	if s == "" {
		return entry{mod: -1}, nil
	}
	n, p, ok := strings.Cut(s, "/")
	mod, err := strconv.ParseInt(n, 10, 64)
	if !ok || err != nil {
		return entry{}, fmt.Errorf("kb-dir: cursor %q: %w", s, sdk.ErrInvalidInput)
	}
	return entry{mod: mod, path: p}, nil
}

// Changes implements sdk.KnowledgeSource.
func (k *kb) Changes(ctx context.Context, cursor string, limit int) (sdk.Changes, error) {
	k.mu.Lock()
	dir, base := k.dir, k.baseURL
	k.mu.Unlock()
	if dir == "" {
		return sdk.Changes{}, errors.New("kb-dir: not configured")
	}
	from, err := parseCursor(cursor)
	if err != nil {
		return sdk.Changes{}, err
	}
	if limit <= 0 {
		limit = 100
	}
	var all []entry
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.HasSuffix(d.Name(), ".md") {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		e := entry{mod: info.ModTime().UnixNano(), path: filepath.ToSlash(rel)}
		if e.after(from) {
			all = append(all, e)
		}
		return ctx.Err()
	})
	if err != nil {
		return sdk.Changes{}, fmt.Errorf("kb-dir: walk: %w", err)
	}
	sort.Slice(all, func(i, j int) bool { return all[j].after(all[i]) })
	out := sdk.Changes{NextCursor: cursor}
	if len(all) > limit {
		all, out.More = all[:limit], true
	}
	for _, e := range all {
		a, err := read(dir, e)
		if err != nil {
			return sdk.Changes{}, err
		}
		if base != "" {
			a.URL = base + e.path
		}
		out.Articles = append(out.Articles, a)
		out.NextCursor = e.cursor()
	}
	return out, nil
}

func read(dir string, e entry) (sdk.Article, error) {
	b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(e.path)))
	if err != nil {
		return sdk.Article{}, fmt.Errorf("kb-dir: %w", err)
	}
	title := strings.TrimSuffix(filepath.Base(e.path), ".md")
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	for sc.Scan() {
		if t, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "# "); ok {
			title = strings.TrimSpace(t)
			break
		}
	}
	return sdk.Article{ID: e.path, Title: title, Body: string(b), Updated: time.Unix(0, e.mod).UTC()}, nil
}
