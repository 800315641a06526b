package plugins

import (
	"context"
	"fmt"

	"github.com/earshot/earshot/plugins/sdk"
)

// KnowledgeLimits bounds one sync of one knowledge plugin, so that a
// plugin answering "more" forever, or with huge pages, cannot fill the
// database or the daemon's memory.
type KnowledgeLimits struct {
	// PageSize is the number of articles asked for per page; a page with
	// more is refused whole.
	PageSize int `json:"page_size"`
	// MaxPages, MaxArticles and MaxBytes (titles, bodies and tags) bound
	// one sync; the sync stops before the page that would pass them and
	// goes on from there at the next sync.
	MaxPages    int   `json:"max_pages"`
	MaxArticles int   `json:"max_articles"`
	MaxBytes    int64 `json:"max_bytes"`
	// MaxArticleBytes bounds one article; a larger one is skipped.
	MaxArticleBytes int `json:"max_article_bytes"`
}

// DefaultKnowledgeLimits returns the defaults: pages of 50 articles of at
// most 64 KiB (under gRPC's 4 MiB message limit), at most 100 pages, 5,000
// articles and 64 MiB per sync.
func DefaultKnowledgeLimits() KnowledgeLimits {
	return KnowledgeLimits{PageSize: 50, MaxPages: 100, MaxArticles: 5000, MaxBytes: 64 << 20, MaxArticleBytes: 64 << 10}
}

// Validate reports the first invalid field. A sync must fit at least one
// full page, or it could never move past it.
func (l KnowledgeLimits) Validate() error {
	switch {
	case l.PageSize <= 0:
		return fmt.Errorf("plugins: config knowledge.page_size must be positive, got %d", l.PageSize)
	case l.MaxPages <= 0:
		return fmt.Errorf("plugins: config knowledge.max_pages must be positive, got %d", l.MaxPages)
	case l.MaxArticleBytes <= 0:
		return fmt.Errorf("plugins: config knowledge.max_article_bytes must be positive, got %d", l.MaxArticleBytes)
	case l.MaxArticles < l.PageSize:
		return fmt.Errorf("plugins: config knowledge.max_articles (%d) must be at least page_size (%d)", l.MaxArticles, l.PageSize)
	case l.MaxBytes < int64(l.PageSize)*int64(l.MaxArticleBytes):
		return fmt.Errorf("plugins: config knowledge.max_bytes (%d) must hold a full page: page_size × max_article_bytes = %d", l.MaxBytes, int64(l.PageSize)*int64(l.MaxArticleBytes))
	}
	return nil
}

// SyncResult is what one SyncKnowledge did.
type SyncResult struct {
	Pages, Articles, Skipped int
	Bytes                    int64
	Cursor                   string
	// Limit names the limit that ended the sync early ("pages",
	// "articles", "bytes"), empty when the plugin had no more.
	Limit string
}

func articleBytes(a sdk.Article) int {
	n := len(a.ID) + len(a.Title) + len(a.Body) + len(a.URL)
	for _, t := range a.Tags {
		n += len(t)
	}
	return n
}

// SyncKnowledge pulls knowledge plugin name's changes from cursor, page by
// page, within Config.Knowledge: apply writes each page (its NextCursor
// included, which it stores after the articles) and the sync goes on while
// the plugin has more and the limits allow. Articles over the size limit
// are dropped from the page before apply sees it; every refusal is logged
// with the plugin's name and counted in
// earshot_plugins_knowledge_refused_total. A page with more articles than
// asked for fails the sync with ErrTooLarge.
func (h *Host) SyncKnowledge(ctx context.Context, name, cursor string, apply func(context.Context, sdk.Changes) error) (SyncResult, error) {
	lim := h.cfg.Knowledge
	res := SyncResult{Cursor: cursor}
	refuse := func(limit string, n int, msg string, args ...any) {
		h.m.knowledge.WithLabelValues(name, limit).Add(float64(n))
		h.log.Warn(msg, append([]any{"plugin", name, "limit", limit}, args...)...)
	}
	for {
		if res.Pages >= lim.MaxPages {
			res.Limit = "pages"
			refuse("pages", 1, "knowledge sync stopped at its page limit; it goes on at the next sync", "pages", res.Pages)
			return res, nil
		}
		ch, err := h.Changes(ctx, name, res.Cursor, lim.PageSize)
		if err != nil {
			return res, err
		}
		if len(ch.Articles) > lim.PageSize || len(ch.DeletedIDs) > lim.PageSize*10 {
			refuse("page_size", 1, "knowledge page refused: more than asked for", "articles", len(ch.Articles), "deleted", len(ch.DeletedIDs), "page_size", lim.PageSize)
			return res, fmt.Errorf("plugins/%s: knowledge: %w: a page of %d articles and %d deletions, asked for %d", name, ErrTooLarge, len(ch.Articles), len(ch.DeletedIDs), lim.PageSize)
		}
		kept := ch.Articles[:0]
		var size int64
		for _, a := range ch.Articles {
			n := articleBytes(a)
			if n > lim.MaxArticleBytes {
				res.Skipped++
				refuse("article_bytes", 1, "knowledge article refused: over the size limit", "article", a.ID, "bytes", n, "max", lim.MaxArticleBytes)
				continue
			}
			size += int64(n)
			kept = append(kept, a)
		}
		ch.Articles = kept
		switch {
		case res.Articles+len(kept) > lim.MaxArticles:
			res.Limit = "articles"
		case res.Bytes+size > lim.MaxBytes:
			res.Limit = "bytes"
		}
		if res.Limit != "" {
			refuse(res.Limit, 1, "knowledge sync stopped at its limit; it goes on at the next sync", "articles", res.Articles, "bytes", res.Bytes)
			return res, nil
		}
		if err := apply(ctx, ch); err != nil {
			return res, err
		}
		res.Pages++
		res.Articles += len(kept)
		res.Bytes += size
		res.Cursor = ch.NextCursor
		if !ch.More {
			return res, nil
		}
	}
}
