// Package blevecmp measures bleve v2 (scorch) on the same synthetic corpus
// and stackfaq evaluation as package kb's own BM25F index, so the choice of
// index can be checked and repeated. It is a separate Go module, so the
// product does not depend on bleve:
//
//	cd inference/kb/internal/blevecmp && go test -run '^$' -bench . -benchtime 2000x
//	cd inference/kb/internal/blevecmp && go test -run TestStackFAQBleve -v
package blevecmp
