//go:build eval && cgo

package translate

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

// libexttextcat (Debian libexttextcat-dev, libexttextcat-data) is the
// peer the built-in identifier is measured against: the Cavnar-Trenkle
// n-gram classifier LibreOffice uses, restricted to the same eight
// languages with the fingerprints Debian ships.
func init() { textcatDetect = detectTextcat }

var (
	textcatOnce   sync.Once
	textcatHandle unsafe.Pointer
	textcatErr    error
	textcatMu     sync.Mutex // textcat handles are not safe for concurrent use
)

func openTextcat() {
	dir, err := os.MkdirTemp("", "textcat")
	if err != nil {
		textcatErr = err
		return
	}
	var conf strings.Builder
	for _, l := range Known {
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

// detectTextcat returns libexttextcat's first candidate, or "" for
// "UNKNOWN" and "SHORT".
func detectTextcat(text string) (Lang, error) {
	textcatOnce.Do(openTextcat)
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
	return Lang(out[1:strings.IndexByte(out, ']')]), nil
}
