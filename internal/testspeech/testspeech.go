// Package testspeech synthesises speech for tests that need a recogniser
// to hear real audio: Debian's flite program (in DEBS_TEST) reading a
// sentence with one of its voices. Under CI a missing flite fails the test
// (testdep).
package testspeech

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/earshot/earshot/internal/testdep"
	"github.com/earshot/earshot/media/wav"
)

// Flite returns text read by a Flite voice ("awb", "slt", "rms", "kal16",
// ...) as the WAV file flite writes (16 kHz mono for Debian's voices).
func Flite(t testing.TB, voice, text string) *wav.File {
	t.Helper()
	bin := testdep.Program(t, "flite", "flite")
	out := filepath.Join(t.TempDir(), "speech.wav")
	if b, err := exec.Command(bin, "-voice", voice, "-t", text, "-o", out).CombinedOutput(); err != nil {
		t.Fatalf("flite -voice %s: %v: %s", voice, err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	f, err := wav.Parse(b)
	if err != nil {
		t.Fatalf("flite -voice %s: %v", voice, err)
	}
	return f
}
