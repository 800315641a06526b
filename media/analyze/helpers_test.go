package analyze

import (
	"os"
	"testing"

	"github.com/earshot/earshot/media/codec"
	"github.com/earshot/earshot/media/wav"
)

// testdataDir is Debian's pocketsphinx-testdata (in DEBS_TEST).
const testdataDir = "/usr/share/pocketsphinx/test/data"

func mustParseWAV(t testing.TB, path string) *wav.File {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f, err := wav.Parse(b)
	if err != nil {
		t.Fatalf("wav.Parse(%s): %v", path, err)
	}
	return f
}

func codecAlaw(s int16) byte { return codec.LinearToAlaw(s) }
