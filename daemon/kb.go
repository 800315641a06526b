package daemon

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"
	"time"

	"github.com/earshot/earshot/daemon/hub"
	"github.com/earshot/earshot/inference"
	"github.com/earshot/earshot/inference/kb"
	"github.com/earshot/earshot/store"
)

// EventKBSuggestions carries knowledge-base passages relevant to what is
// being said.
const EventKBSuggestions = "kb.suggestions"

// knowledge holds the knowledge-base index, rebuilt from the stored
// articles at start.
type knowledge struct {
	d   *Daemon
	idx *kb.Index
	syn *kb.Synonyms
	// imports holds a slot per import running (one at a time).
	imports chan struct{}
}

func newKnowledge(d *Daemon, logger *slog.Logger) (*knowledge, error) {
	syn := kb.BuiltinSynonyms()
	var emb kb.Embedder
	if e := d.analytics.route.Embedder(); e != nil {
		emb = e
	}
	kcfg := kb.DefaultConfig()
	kcfg.MaxTextBytes = d.cfg.KB.MaxTextBytes
	idx, err := kb.New(kcfg, logger, d.reg, syn, emb)
	if err != nil {
		return nil, err
	}
	stored, err := d.store.Articles(context.Background())
	if err != nil {
		return nil, fmt.Errorf("daemon: load knowledge base: %w", err)
	}
	arts := make([]kb.Article, len(stored))
	for i, a := range stored {
		arts[i] = kb.Article(a)
	}
	start := time.Now()
	if n, errs := idx.Load(context.Background(), arts, 2); len(errs) > 0 {
		logger.Warn("knowledge-base articles not indexed", "indexed", n, "failed", len(errs), "first_err", errs[0])
	} else if n > 0 {
		logger.Info("knowledge base indexed", "articles", n, "took", time.Since(start).Round(time.Millisecond))
	}
	return &knowledge{d: d, idx: idx, syn: syn, imports: make(chan struct{}, 1)}, nil
}

// Start implements hub.LiveAnalyzer: live article suggestions.
func (k *knowledge) Start(e *store.Engagement) hub.LiveSession {
	return &kbSession{k: k, e: e, s: k.idx.NewSuggester(kb.SuggestConfig{Queue: e.Queue})}
}

type kbSession struct {
	k *knowledge
	e *store.Engagement
	s *kb.Suggester
}

func (s *kbSession) OnUtterance(ctx context.Context, conv []inference.Utterance, emit func(string, any)) {
	if !s.k.d.controls.Enabled("kb_retrieval", s.e.Queue, s.e.Agent) {
		return
	}
	u := conv[len(conv)-1]
	sugg, err := s.s.Observe(ctx, u)
	if err != nil || len(sugg) == 0 {
		return
	}
	type view struct {
		kb.Suggestion
		Link string `json:"link"`
	}
	out := make([]view, len(sugg))
	for i, x := range sugg {
		out[i] = view{x, "/api/v1/kb/articles/" + x.ArticleID}
	}
	emit(EventKBSuggestions, map[string]any{"seq": len(conv) - 1, "suggestions": out})
}

var (
	kbReaders = []Role{RoleAdmin, RoleSupervisor, RoleAgent, RoleAnalyst}
	askRoles  = []Role{RoleAdmin, RoleSupervisor, RoleAnalyst}
)

func (d *Daemon) kbRoutes() []route {
	return []route{
		{"GET", "/api/v1/kb/articles", kbReaders, "List knowledge-base articles (without bodies)", d.listArticles},
		{"GET", "/api/v1/kb/articles/{id}", kbReaders, "Get a knowledge-base article", d.getArticle},
		{"PUT", "/api/v1/kb/articles/{id}", adminOnly, "Create or replace a knowledge-base article", d.putArticle},
		{"DELETE", "/api/v1/kb/articles/{id}", adminOnly, "Delete a knowledge-base article", d.deleteArticle},
		{"POST", "/api/v1/kb/import", adminOnly, "Import articles from a zip or tar(.gz) archive of Markdown, HTML, text and JSON lines", d.importArticles},
		{"GET", "/api/v1/kb/search", kbReaders, "Search the knowledge base", d.searchKB},
		{"POST", "/api/v1/kb/answer", kbReaders, "Answer a question from the knowledge base, with citations", d.answerKB},
		{"POST", "/api/v1/ask", askRoles, "Ask a question over transcripts in the caller's scope; answer with cited segments (audited)", d.ask},
	}
}

func (d *Daemon) listArticles(w http.ResponseWriter, r *http.Request, p *Principal) {
	arts, err := d.store.Articles(r.Context())
	if err != nil {
		d.storeError(w, r, err)
		return
	}
	type item struct {
		ID      string    `json:"id"`
		Title   string    `json:"title"`
		Tags    []string  `json:"tags,omitempty"`
		Queue   string    `json:"queue,omitempty"`
		Updated time.Time `json:"updated"`
	}
	out := []item{}
	for _, a := range arts {
		if a.Queue == "" || p.InQueue(a.Queue) {
			out = append(out, item{a.ID, a.Title, a.Tags, a.Queue, a.Updated})
		}
	}
	writeJSON(w, 200, out)
}

func (d *Daemon) getArticle(w http.ResponseWriter, r *http.Request, p *Principal) {
	a, err := d.store.Article(r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) || err == nil && a.Queue != "" && !p.InQueue(a.Queue) {
		writeProblem(w, r, http.StatusNotFound, "not-found", "no such article")
		return
	}
	if err != nil {
		d.storeError(w, r, err)
		return
	}
	writeJSON(w, 200, a)
}

func (d *Daemon) saveArticle(ctx context.Context, r *http.Request, p *Principal, a kb.Article) error {
	return d.store.PutArticle(ctx, store.Article(a), auditEntry(r, p, "kb.article.put", a.ID))
}

func (d *Daemon) putArticle(w http.ResponseWriter, r *http.Request, p *Principal) {
	var a kb.Article
	if !d.decodeJSON(w, r, &a) {
		return
	}
	if a.ID == "" {
		a.ID = r.PathValue("id")
	}
	if a.ID != r.PathValue("id") {
		d.badRequest(w, r, 400, "id in the body differs from the path", "id")
		return
	}
	if a.Updated.IsZero() {
		a.Updated = time.Now().UTC()
	}
	if err := a.Validate(); err != nil {
		d.badRequest(w, r, 400, err.Error(), "")
		return
	}
	if err := d.kb.idx.CheckRoom(a); err != nil {
		writeProblem(w, r, http.StatusInsufficientStorage, "kb-full", "the knowledge base holds its maximum of article text (kb.max_text_bytes)")
		return
	}
	if err := d.saveArticle(r.Context(), r, p, a); err != nil {
		d.storeError(w, r, err)
		return
	}
	ch, err := d.kb.idx.Upsert(r.Context(), a)
	if err != nil {
		d.logger.Error("article stored but not indexed", "article", a.ID, "err", err)
	}
	d.media.lmChanged()
	writeJSON(w, 200, map[string]any{"id": a.ID, "change": ch.String()})
}

func (d *Daemon) deleteArticle(w http.ResponseWriter, r *http.Request, p *Principal) {
	id := r.PathValue("id")
	if err := d.store.DeleteArticle(r.Context(), id, auditEntry(r, p, "kb.article.delete", id)); err != nil {
		d.storeError(w, r, err)
		return
	}
	_ = d.kb.idx.Delete(id)
	d.media.lmChanged()
	w.WriteHeader(http.StatusNoContent)
}

// maxImportBytes bounds an uploaded archive.
const maxImportBytes = 512 << 20

// importSniffBytes is how much of an upload is read to tell its type (a tar
// header's magic is at offset 257).
const importSniffBytes = 512

// importDirName is the folder, in the data directory, where a zip upload
// is spooled while it is read (a zip is read from its end); it is emptied
// at start.
const importDirName = "import-spool"

// archiveKind tells a zip from a tar (gzip-compressed or not) by an
// upload's first bytes; "" for anything else.
func archiveKind(head []byte) string {
	switch {
	case bytes.HasPrefix(head, []byte("PK\x03\x04")), bytes.HasPrefix(head, []byte("PK\x05\x06")):
		return "zip"
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		return "tar" // gzip: the importer checks it holds a tar
	case len(head) >= 262 && string(head[257:262]) == "ustar":
		return "tar"
	}
	return ""
}

// importArticles imports an archive of articles as it arrives: its type is
// decided on its first bytes (a refusal reads nothing more), a tar streams
// straight from the request, a zip is spooled to the data directory first
// (it is read from its end); each article is stored and indexed as soon as
// it is parsed, so memory holds one item at a time, and the index's text
// bound stops an import that would overfill it. One import runs at a time.
func (d *Daemon) importArticles(w http.ResponseWriter, r *http.Request, p *Principal) {
	if r.ContentLength > maxImportBytes {
		refuseBody(w, r)
		d.badRequest(w, r, http.StatusRequestEntityTooLarge, fmt.Sprintf("archive larger than %d bytes", maxImportBytes), "body")
		return
	}
	select {
	case d.kb.imports <- struct{}{}:
		defer func() { <-d.kb.imports }()
	default:
		refuseBody(w, r)
		w.Header().Set("Retry-After", "30")
		writeProblem(w, r, http.StatusServiceUnavailable, "busy", "another import is running; retry when it is done")
		return
	}
	body := http.MaxBytesReader(w, r.Body, maxImportBytes)
	br := bufio.NewReaderSize(body, 64<<10)
	head, _ := br.Peek(importSniffBytes)
	kind := archiveKind(head)
	if kind == "" {
		refuseBody(w, r)
		d.badRequest(w, r, http.StatusUnsupportedMediaType, "send a zip or tar(.gz) archive", "body")
		return
	}
	// What the import held goes back to the system when it is done.
	defer debug.FreeOSMemory()
	ctx := r.Context()
	var rep kb.ImportReport
	im := kb.NewImporter(kb.DefaultImportLimits())
	im.OnArticle = func(a kb.Article) error {
		ch, err := d.kb.idx.ApplyArticle(ctx, a, func(ctx context.Context, a kb.Article) error { return d.saveArticle(ctx, r, p, a) })
		if errors.Is(err, kb.ErrIndexFull) {
			return fmt.Errorf("%w: %w", kb.ErrStop, err)
		}
		if err == nil {
			rep.Count(ch, nil)
		}
		return err
	}
	var (
		res kb.ImportResult
		err error
	)
	if kind == "zip" {
		res, err = d.importZip(ctx, im, br)
	} else {
		res, err = im.ImportTar(ctx, br, "upload.tar")
	}
	if mbe, ok := errors.AsType[*http.MaxBytesError](err); ok || tooLarge(res) {
		if !ok {
			mbe = &http.MaxBytesError{Limit: maxImportBytes}
		}
		d.badRequest(w, r, http.StatusRequestEntityTooLarge, fmt.Sprintf("archive larger than %d bytes; %d articles stored before the limit",
			mbe.Limit, rep.Added+rep.Updated), "body")
		return
	}
	if err != nil && rep.Added+rep.Updated+rep.Unchanged == 0 {
		d.badRequest(w, r, 400, "unreadable archive: "+err.Error(), "body")
		return
	}
	rep.Errors, rep.Failed, rep.Truncated = res.Errors, len(res.Errors), res.Truncated
	if rep.Errors == nil {
		rep.Errors = []kb.ItemError{}
	}
	d.media.lmChanged()
	writeJSON(w, 200, rep)
}

// tooLarge reports whether a streamed import broke off at the body limit.
func tooLarge(res kb.ImportResult) bool {
	for _, e := range res.Errors {
		if _, ok := errors.AsType[*http.MaxBytesError](e.Err); ok {
			return true
		}
	}
	return false
}

// importZip spools a zip upload to the data directory (0600, removed when
// read) and imports it from there.
func (d *Daemon) importZip(ctx context.Context, im *kb.Importer, body io.Reader) (kb.ImportResult, error) {
	dir := filepath.Join(d.cfg.DataDir, importDirName)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return kb.ImportResult{}, fmt.Errorf("daemon: import spool: %w", err)
	}
	f, err := os.CreateTemp(dir, "upload-*.zip")
	if err != nil {
		return kb.ImportResult{}, fmt.Errorf("daemon: import spool: %w", err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	n, err := io.Copy(f, body)
	if err != nil {
		return kb.ImportResult{}, err
	}
	return im.ImportZip(ctx, f, n, "upload.zip")
}

// clearImportSpool removes zip uploads a previous run left spooled.
func clearImportSpool(dataDir string) error {
	if err := os.RemoveAll(filepath.Join(dataDir, importDirName)); err != nil {
		return fmt.Errorf("daemon: clear %s: %w", importDirName, err)
	}
	return nil
}

// kbScope is the caller's knowledge-base scope: administrators read every
// article, everyone else the articles of their queues and those for every
// queue; a queue given in the request narrows it to that queue. A queue
// outside the caller's scope is refused (403, written here).
func (d *Daemon) kbScope(w http.ResponseWriter, r *http.Request, p *Principal, queue string) (kb.Scope, bool) {
	scope := kb.QueueScope(p.User.Queues...)
	if p.Role() == RoleAdmin {
		scope = kb.AllQueues()
	}
	if queue == "" {
		return scope, true
	}
	narrowed, ok := scope.Narrow(queue)
	if !ok {
		writeProblemField(w, r, http.StatusForbidden, "forbidden", "queue outside the caller's scope", "queue")
	}
	return narrowed, ok
}

func (d *Daemon) searchKB(w http.ResponseWriter, r *http.Request, p *Principal) {
	q := r.URL.Query().Get("q")
	if strings.TrimSpace(q) == "" {
		d.badRequest(w, r, 400, "q is required", "q")
		return
	}
	scope, ok := d.kbScope(w, r, p, r.URL.Query().Get("queue"))
	if !ok {
		return
	}
	hits, err := d.kb.idx.Search(r.Context(), kb.Query{Text: q, K: 10, PerArticle: true, Scope: scope})
	if err != nil {
		d.badRequest(w, r, 400, err.Error(), "q")
		return
	}
	writeJSON(w, 200, hits)
}

func (d *Daemon) answerKB(w http.ResponseWriter, r *http.Request, p *Principal) {
	var req struct {
		Question string `json:"question"`
		Queue    string `json:"queue"`
	}
	if !d.decodeJSON(w, r, &req) {
		return
	}
	if strings.TrimSpace(req.Question) == "" {
		d.badRequest(w, r, 400, "question is required", "question")
		return
	}
	scope, ok := d.kbScope(w, r, p, req.Queue)
	if !ok {
		return
	}
	opts := kb.AnswerOptions{Scope: scope}
	opts.Generator, opts.Model = d.analytics.generator()
	ans, err := d.kb.idx.Answer(r.Context(), req.Question, opts)
	if err != nil {
		d.badRequest(w, r, 400, err.Error(), "question")
		return
	}
	writeJSON(w, 200, ans)
}

// askRequest scopes an ask-anything question: one engagement, or a queue
// and a start-time range.
type askRequest struct {
	Question   string    `json:"question"`
	Engagement string    `json:"engagement"`
	Queue      string    `json:"queue"`
	From       time.Time `json:"from"`
	To         time.Time `json:"to"`
	K          int       `json:"k"`
}

// maxAskEngagements bounds the engagements one question reads.
const maxAskEngagements = 500

// askEngagements selects the engagements a question reads: the one named,
// or those of the queue named, or, with neither, those of the caller's own
// scope (every queue for an administrator), within the from/to range. Only
// engagements the caller may see and for which ask_anything is on (decided
// on the engagement's queue and the caller) are kept; when the feature
// hides every one of them, the problem says why.
func (d *Daemon) askEngagements(w http.ResponseWriter, r *http.Request, p *Principal, req askRequest) ([]store.Engagement, bool) {
	var es []store.Engagement
	switch {
	case req.Engagement != "":
		e, err := d.store.Engagement(r.Context(), req.Engagement)
		if err != nil || !p.canSee(e) {
			writeProblem(w, r, http.StatusNotFound, "not-found", "no such engagement")
			return nil, false
		}
		es = []store.Engagement{e}
	case req.Queue != "":
		if !p.InQueue(req.Queue) {
			writeProblemField(w, r, http.StatusForbidden, "forbidden", "queue outside the caller's scope", "queue")
			return nil, false
		}
		if dec := d.controls.Decide("ask_anything", req.Queue, p.User.ID); !dec.On {
			d.featureOff(w, r, p, dec, req.Queue)
			return nil, false
		}
		var err error
		if es, err = d.store.Engagements(r.Context(), store.EngagementFilter{Queue: req.Queue, From: req.From, To: req.To, Limit: maxAskEngagements}); err != nil {
			d.storeError(w, r, err)
			return nil, false
		}
	default:
		queues := []string{""} // an administrator's scope is every queue
		if p.Role() != RoleAdmin {
			queues = p.User.Queues
		}
		for _, q := range queues {
			got, err := d.store.Engagements(r.Context(), store.EngagementFilter{Queue: q, From: req.From, To: req.To, Limit: maxAskEngagements})
			if err != nil {
				d.storeError(w, r, err)
				return nil, false
			}
			es = append(es, got...)
		}
		sort.SliceStable(es, func(i, j int) bool { return es[i].Start.Before(es[j].Start) })
		es = es[:min(len(es), maxAskEngagements)]
	}
	var kept []store.Engagement
	off := d.controls.Decide("ask_anything", req.Queue, p.User.ID)
	for _, e := range es {
		if !p.canSee(e) {
			continue
		}
		if dec := d.controls.Decide("ask_anything", e.Queue, p.User.ID); !dec.On {
			off = dec
			continue
		}
		kept = append(kept, e)
	}
	if len(kept) == 0 && !off.On {
		d.featureOff(w, r, p, off, req.Queue)
		return nil, false
	}
	return kept, true
}

// ask answers over the transcripts (and summaries) the caller may see. The
// engagements are selected by scope and authorisation first, so nothing
// outside the caller's scope is read at all; every engagement read is
// audited.
func (d *Daemon) ask(w http.ResponseWriter, r *http.Request, p *Principal) {
	var req askRequest
	if !d.decodeJSON(w, r, &req) {
		return
	}
	if strings.TrimSpace(req.Question) == "" {
		d.badRequest(w, r, 400, "question is required", "question")
		return
	}
	es, ok := d.askEngagements(w, r, p, req)
	if !ok {
		return
	}
	allowed := map[string]bool{}
	ai, err := kb.NewAskIndex(d.logger, d.kb.syn)
	if err != nil {
		d.storeError(w, r, err)
		return
	}
	for _, e := range es {
		segs, err := d.store.Segments(r.Context(), e.ID, contentRead(r, p, e.ID, "ask_anything"))
		if err != nil {
			continue
		}
		allowed[e.ID] = true
		var as []kb.Segment
		for _, s := range segs {
			as = append(as, kb.Segment{EngagementID: e.ID, Queue: e.Queue, Started: e.Start, Kind: "segment", Seq: int(s.Seq),
				Speaker: inference.Party(s.Speaker), StartMS: s.StartMs, EndMS: s.EndMs, Text: s.Text})
		}
		if res, err := d.store.Result(r.Context(), e.ID, "engagement_summary"); err == nil && d.controls.Enabled("engagement_summary", e.Queue, e.Agent) {
			var sum inference.Summary
			if json.Unmarshal(res.Payload, &sum) == nil && sum.Text != "" {
				as = append(as, kb.Segment{EngagementID: e.ID, Queue: e.Queue, Started: e.Start, Kind: "summary", Text: sum.Text})
			}
		}
		if len(as) > 0 {
			if err := ai.AddEngagement(r.Context(), as); err != nil {
				d.logger.Warn("engagement not indexed for a question", "engagement", e.ID, "err", err)
			}
		}
	}
	q := kb.AskQuery{Question: req.Question, K: req.K, EngagementID: req.Engagement, Queue: req.Queue, From: req.From, To: req.To,
		Allow: func(s kb.Segment) bool { return allowed[s.EngagementID] }}
	q.Generator, q.Model = d.analytics.generator()
	ans, err := ai.Ask(r.Context(), q)
	if err != nil {
		d.badRequest(w, r, 400, err.Error(), "question")
		return
	}
	read := make([]string, 0, len(allowed))
	for id := range allowed {
		read = append(read, id)
	}
	sort.Strings(read)
	a := auditEntry(r, p, "ask", fmt.Sprintf("%d engagements", len(read)))
	a.Feature = "ask_anything"
	if err := d.store.AppendAudit(r.Context(), a); err != nil {
		d.storeError(w, r, err)
		return
	}
	writeJSON(w, 200, ans)
}
