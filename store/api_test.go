package store

import (
	"context"
	"reflect"
	"testing"
)

// TestBlockingMethodsTakeAContext keeps the rule of doc.go: every exported
// method of *Store takes a context first, except reads of one record by key
// and plain accessors, which never wait for a writer or the key provider.
func TestBlockingMethodsTakeAContext(t *testing.T) {
	noContext := map[string]bool{
		// reads of one record by key
		"User": true, "Token": true, "TokenByHash": true, "Queue": true, "Setting": true, "Article": true,
		"KEKVersions": true, "Bot": true, "BotVersion": true,
		// accessors and lifecycle
		"Dir": true, "Config": true, "Close": true,
	}
	ctxType := reflect.TypeFor[context.Context]()
	typ := reflect.TypeFor[*Store]()
	for i := range typ.NumMethod() {
		m := typ.Method(i)
		takes := m.Type.NumIn() > 1 && m.Type.In(1) == ctxType
		if takes == noContext[m.Name] {
			t.Errorf("(*Store).%s: takes a context = %v, want %v (see the rule in doc.go)", m.Name, takes, !noContext[m.Name])
		}
	}
}
