// Package kb is Earshot's knowledge base retrieval core: the article and
// passage model, importers (Markdown, HTML, plain text, JSON lines, from a
// directory or a tar/zip archive), a per-field BM25 lexical index over passages with
// field boosts, phrases, synonyms and English stemming, optional hybrid
// ranking with embeddings, a live suggester that queries with the recent
// conversation window, extractive (or grounded generated) answers with
// citations, and an ask-anything retriever over transcript segments that
// applies the caller's access filter before ranking.
//
// Files: index.go holds the index's state, update.go its writes (Upsert,
// Delete, Load, compaction), search.go the query path (parsing, weighing,
// scoring, candidate selection), rank.go the ranking helpers (proximity,
// phrases, the top-k heap), hybrid.go the embedding side.
//
// The package holds no storage: the daemon keeps articles (encrypted) in the
// store and feeds them to an Index at start and on every change. Customer
// content never reaches logs from here; only IDs and counts are logged.
package kb
