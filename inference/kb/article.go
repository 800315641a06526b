package kb

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits on one article. MaxArticleBytes bounds title+body; importers reject
// larger items per item and import the rest.
const (
	MaxArticleBytes = 4 << 20
	MaxIDLen        = 200
	MaxTitleLen     = 1000
	MaxTags         = 64
)

// ErrInvalid is wrapped by every validation error of an article.
var ErrInvalid = errors.New("kb: invalid article")

// Article is one knowledge-base article. Queue scopes it to one queue;
// empty means every queue. Source names where it came from (a file path in
// an import, "api", a plugin).
type Article struct {
	ID      string    `json:"id"`
	Title   string    `json:"title"`
	Body    string    `json:"body"`
	Tags    []string  `json:"tags,omitempty"`
	Queue   string    `json:"queue,omitempty"`
	Source  string    `json:"source,omitempty"`
	Updated time.Time `json:"updated"`
}

// Validate checks the article's fields; the error names the field.
func (a Article) Validate() error {
	switch {
	case strings.TrimSpace(a.ID) == "":
		return fmt.Errorf("%w: field id: empty", ErrInvalid)
	case len(a.ID) > MaxIDLen:
		return fmt.Errorf("%w: field id: longer than %d bytes", ErrInvalid, MaxIDLen)
	case strings.ContainsAny(a.ID, "#\x00\n\r"):
		return fmt.Errorf("%w: field id: must not contain '#', NUL or line breaks", ErrInvalid)
	case strings.TrimSpace(a.Title) == "" && strings.TrimSpace(a.Body) == "":
		return fmt.Errorf("%w: fields title and body: both empty", ErrInvalid)
	case len(a.Title) > MaxTitleLen:
		return fmt.Errorf("%w: field title: longer than %d bytes", ErrInvalid, MaxTitleLen)
	case len(a.Title)+len(a.Body) > MaxArticleBytes:
		return fmt.Errorf("%w: field body: article larger than %d bytes", ErrInvalid, MaxArticleBytes)
	case len(a.Tags) > MaxTags:
		return fmt.Errorf("%w: field tags: more than %d", ErrInvalid, MaxTags)
	}
	for name, v := range map[string]string{"id": a.ID, "title": a.Title, "body": a.Body, "queue": a.Queue} {
		if !utf8.ValidString(v) {
			return fmt.Errorf("%w: field %s: not valid UTF-8", ErrInvalid, name)
		}
	}
	return nil
}

// Hash is the content hash of the article (title, body, tags, queue,
// source; not the update time), hex SHA-256. Re-importing an article with an
// unchanged hash is a no-op.
func (a Article) Hash() string {
	h := sha256.New()
	for _, f := range append([]string{a.Title, a.Body, a.Queue, a.Source}, a.Tags...) {
		fmt.Fprintf(h, "%d:%s\x00", len(f), f)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Passage is one retrievable piece of an article: a run of paragraphs of up
// to about Config.PassageWords words. ID is "<article id>#<seq>".
type Passage struct {
	ID        string   `json:"id"`
	ArticleID string   `json:"article_id"`
	Seq       int      `json:"seq"`
	Title     string   `json:"title"`
	Text      string   `json:"text"`
	Tags      []string `json:"tags,omitempty"`
	Queue     string   `json:"queue,omitempty"`
}

// SplitPassages splits an article's body into passages of about maxWords
// words: paragraphs (blank-line separated) are packed together; a paragraph
// longer than maxWords is cut at sentence ends, and a sentence longer than
// maxWords at word boundaries. An article with an empty body gives one
// passage holding its title.
func SplitPassages(a Article, maxWords int) []Passage {
	if maxWords <= 0 {
		maxWords = 120
	}
	var units []string // pieces of at most maxWords words
	for _, para := range paragraphs(a.Body) {
		if wordCount(para) <= maxWords {
			units = append(units, para)
			continue
		}
		for _, s := range sentences(para) {
			if wordCount(s) <= maxWords {
				units = append(units, s)
				continue
			}
			f := strings.Fields(s)
			for i := 0; i < len(f); i += maxWords {
				units = append(units, strings.Join(f[i:min(i+maxWords, len(f))], " "))
			}
		}
	}
	var texts []string
	var cur []string
	n := 0
	for _, u := range units {
		w := wordCount(u)
		if n > 0 && n+w > maxWords {
			texts = append(texts, strings.Join(cur, "\n\n"))
			cur, n = nil, 0
		}
		cur = append(cur, u)
		n += w
	}
	if len(cur) > 0 {
		texts = append(texts, strings.Join(cur, "\n\n"))
	}
	if len(texts) == 0 {
		texts = []string{""}
	}
	out := make([]Passage, len(texts))
	for i, t := range texts {
		out[i] = Passage{
			ID: fmt.Sprintf("%s#%d", a.ID, i), ArticleID: a.ID, Seq: i,
			Title: a.Title, Text: t, Tags: a.Tags, Queue: a.Queue,
		}
	}
	return out
}

func paragraphs(body string) []string {
	body = strings.ReplaceAll(body, "\r\n", "\n")
	var out []string
	for _, p := range strings.Split(body, "\n\n") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// sentences cuts text after '.', '!' or '?' followed by white space.
func sentences(text string) []string {
	var out []string
	start := 0
	for i := 0; i < len(text)-1; i++ {
		switch text[i] {
		case '.', '!', '?':
			if text[i+1] == ' ' || text[i+1] == '\n' || text[i+1] == '\t' {
				if s := strings.TrimSpace(text[start : i+1]); s != "" {
					out = append(out, s)
				}
				start = i + 1
			}
		}
	}
	if s := strings.TrimSpace(text[start:]); s != "" {
		out = append(out, s)
	}
	return out
}

func wordCount(s string) int {
	n, in := 0, false
	for i := 0; i < len(s); i++ {
		sp := s[i] == ' ' || s[i] == '\n' || s[i] == '\t' || s[i] == '\r'
		if !sp && !in {
			n++
		}
		in = !sp
	}
	return n
}
