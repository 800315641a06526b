package pocketsphinx

// shortDigit reports whether a word of a digits-grammar reading (the
// digits mode's finals, a card-context reading) lasting ms is too short to
// be a digit (minMs, Config.DigitMinWordMs): a breath or a consonant's
// release the grammar search matched as a short "eight" or "oh". "oh", a
// vowel alone and the shortest digit word, is kept down to half the
// minimum (DefaultDigitMinWordMs).
func shortDigit(word string, ms int64, minMs int) bool {
	if word == "oh" {
		return ms < int64(minMs/2)
	}
	return ms < int64(minMs)
}
