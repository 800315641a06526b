// Package lidfeat extracts the features of the language identifier, shared
// by the identifier and its trainer: character 1- to 4-grams of each
// lower-cased word padded with spaces, and whole words.
package lidfeat

import "unicode"

// MaxGram is the longest character n-gram.
const MaxGram = 4

// Features calls fn for every feature of text: "n"+gram for character
// n-grams and "w"+word for words. Letters and in-word apostrophes make words;
// digits, punctuation and symbols separate them.
func Features(text string, fn func(kind byte, f string)) (letters int) {
	var word []rune
	flush := func() {
		if len(word) == 0 {
			return
		}
		for len(word) > 0 && word[len(word)-1] == '\'' {
			word = word[:len(word)-1]
		}
		if len(word) == 0 {
			return
		}
		w := string(word)
		fn('w', w)
		padded := make([]rune, 0, len(word)+2)
		padded = append(padded, ' ')
		padded = append(padded, word...)
		padded = append(padded, ' ')
		for n := 1; n <= MaxGram; n++ {
			for i := 0; i+n <= len(padded); i++ {
				if n == 1 && padded[i] == ' ' {
					continue
				}
				fn('n', string(padded[i:i+n]))
			}
		}
		word = word[:0]
	}
	for _, r := range text {
		switch {
		case unicode.IsLetter(r):
			letters++
			word = append(word, unicode.ToLower(r))
		case (r == '\'' || r == '’' || r == '·') && len(word) > 0:
			// Apostrophes (l'amic, dell'acqua) and the Catalan middle dot
			// (col·legi) stay inside words.
			if r == '’' {
				r = '\''
			}
			word = append(word, r)
		default:
			flush()
		}
	}
	flush()
	return letters
}
