//go:build eval

package pocketsphinx

import "github.com/earshot/earshot/media/stt"

// SetRereadTrace makes every utterance read again with the spoken-forms
// prior report its first reading, the second reading and the final kept
// to f (decoder thread); nil stops it. Development evaluations only: the
// product build has no way to set it.
func SetRereadTrace(f func(first, reread, kept []stt.Word)) { rereadTrace = f }

// SpliceRegionsPlain is SpokenFormsRegion's final for an utterance's
// two readings without the detail phrases (spliceRegions), for
// development evaluations to compare with the final kept.
func SpliceRegionsPlain(first, again []stt.Word) []stt.Word {
	return spliceRegions(first, onClockOf(again, first), false)
}
