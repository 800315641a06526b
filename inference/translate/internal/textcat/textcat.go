//go:build eval

package textcat

/*
#cgo pkg-config: libexttextcat
#include <stdlib.h>
#include <textcat.h>
*/
import "C"

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"unsafe"
)

var (
	textcatOnce   sync.Once
	textcatHandle unsafe.Pointer
	textcatErr    error
	textcatMu     sync.Mutex // textcat handles are not safe for concurrent use
)

var langs []string

func openTextcat() {
	dir, err := os.MkdirTemp("", "textcat")
	if err != nil {
		textcatErr = err
		return
	}
	var conf strings.Builder
	for _, l := range langs {
		fmt.Fprintf(&conf, "/usr/share/libexttextcat/%s.lm\t%s\n", l, l)
	}
	path := filepath.Join(dir, "fpdb.conf")
	if err := os.WriteFile(path, []byte(conf.String()), 0o600); err != nil {
		textcatErr = err
		return
	}
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	h := C.textcat_Init(cpath)
	if h == nil {
		textcatErr = fmt.Errorf("textcat_Init(%s) failed (install libexttextcat-data)", path)
		return
	}
	C.textcat_SetProperty(h, C.TCPROP_UTF8AWARE, C.TC_TRUE)
	C.textcat_SetProperty(h, C.TCPROP_MINIMUM_DOCUMENT_SIZE, 1)
	textcatHandle = h
}

// Detect returns libexttextcat's first candidate among languages (ISO
// 639-1 codes with a fingerprint in /usr/share/libexttextcat), or "" for
// "UNKNOWN" and "SHORT". The first call fixes the languages.
func Detect(languages []string, text string) (string, error) {
	textcatOnce.Do(func() { langs = languages; openTextcat() })
	if textcatErr != nil {
		return "", textcatErr
	}
	textcatMu.Lock()
	defer textcatMu.Unlock()
	ctext := C.CString(text)
	defer C.free(unsafe.Pointer(ctext))
	out := C.GoString(C.textcat_Classify(textcatHandle, ctext, C.size_t(len(text))))
	if !strings.HasPrefix(out, "[") {
		return "", nil
	}
	return out[1:strings.IndexByte(out, ']')], nil
}
