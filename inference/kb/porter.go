package kb

// stem reduces an English word (lower case ASCII letters) to its stem with
// the Porter (1980) algorithm, written here from the published description
// (M. F. Porter, "An algorithm for suffix stripping", Program 14(3), 1980).
// Words of two letters or fewer, and words with non-ASCII-letter bytes, are
// returned unchanged.
func stem(word string) string {
	if len(word) <= 2 {
		return word
	}
	for i := 0; i < len(word); i++ {
		if word[i] < 'a' || word[i] > 'z' {
			return word
		}
	}
	s := &stemmer{b: []byte(word)}
	s.step1a()
	s.step1b()
	s.step1c()
	s.step2()
	s.step3()
	s.step4()
	s.step5()
	return string(s.b)
}

type stemmer struct{ b []byte }

// cons reports whether b[i] is a consonant.
func (s *stemmer) cons(i int) bool {
	switch s.b[i] {
	case 'a', 'e', 'i', 'o', 'u':
		return false
	case 'y':
		if i == 0 {
			return true
		}
		return !s.cons(i - 1)
	}
	return true
}

// measure returns m, the number of VC sequences in b[:n].
func (s *stemmer) measure(n int) int {
	m, i := 0, 0
	for i < n && s.cons(i) {
		i++
	}
	for i < n {
		for i < n && !s.cons(i) {
			i++
		}
		if i >= n {
			break
		}
		for i < n && s.cons(i) {
			i++
		}
		m++
	}
	return m
}

// hasVowel reports whether b[:n] contains a vowel.
func (s *stemmer) hasVowel(n int) bool {
	for i := 0; i < n; i++ {
		if !s.cons(i) {
			return true
		}
	}
	return false
}

// doubleCons reports whether b[:n] ends with a double consonant.
func (s *stemmer) doubleCons(n int) bool {
	return n >= 2 && s.b[n-1] == s.b[n-2] && s.cons(n-1)
}

// cvc reports whether b[:n] ends consonant-vowel-consonant with the last
// consonant not w, x or y.
func (s *stemmer) cvc(n int) bool {
	if n < 3 || !s.cons(n-1) || s.cons(n-2) || !s.cons(n-3) {
		return false
	}
	switch s.b[n-1] {
	case 'w', 'x', 'y':
		return false
	}
	return true
}

func (s *stemmer) ends(suf string) bool {
	n := len(s.b)
	return n >= len(suf) && string(s.b[n-len(suf):]) == suf
}

// replace swaps suffix suf (which must end b) for rep.
func (s *stemmer) replace(suf, rep string) {
	s.b = append(s.b[:len(s.b)-len(suf)], rep...)
}

func (s *stemmer) step1a() {
	switch {
	case s.ends("sses"):
		s.replace("sses", "ss")
	case s.ends("ies"):
		s.replace("ies", "i")
	case s.ends("ss"):
	case s.ends("s"):
		s.replace("s", "")
	}
}

func (s *stemmer) step1b() {
	if s.ends("eed") {
		if s.measure(len(s.b)-3) > 0 {
			s.replace("eed", "ee")
		}
		return
	}
	var suf string
	switch {
	case s.ends("ed"):
		suf = "ed"
	case s.ends("ing"):
		suf = "ing"
	default:
		return
	}
	if !s.hasVowel(len(s.b) - len(suf)) {
		return
	}
	s.replace(suf, "")
	n := len(s.b)
	switch {
	case s.ends("at"):
		s.replace("at", "ate")
	case s.ends("bl"):
		s.replace("bl", "ble")
	case s.ends("iz"):
		s.replace("iz", "ize")
	case s.doubleCons(n):
		if c := s.b[n-1]; c != 'l' && c != 's' && c != 'z' {
			s.b = s.b[:n-1]
		}
	case s.measure(n) == 1 && s.cvc(n):
		s.b = append(s.b, 'e')
	}
}

func (s *stemmer) step1c() {
	if s.ends("y") && s.hasVowel(len(s.b)-1) {
		s.b[len(s.b)-1] = 'i'
	}
}

// rule is one suffix substitution of steps 2 to 4.
type rule struct{ suf, rep string }

// Rules are listed so that a longer suffix precedes any suffix it ends with;
// the first matching rule is the only one tried.
var step2Rules = []rule{
	{"ational", "ate"}, {"tional", "tion"}, {"enci", "ence"}, {"anci", "ance"},
	{"izer", "ize"}, {"bli", "ble"}, {"alli", "al"}, {"entli", "ent"},
	{"eli", "e"}, {"ousli", "ous"}, {"ization", "ize"}, {"ation", "ate"},
	{"ator", "ate"}, {"alism", "al"}, {"iveness", "ive"}, {"fulness", "ful"},
	{"ousness", "ous"}, {"aliti", "al"}, {"iviti", "ive"}, {"biliti", "ble"},
	{"logi", "log"},
}

var step3Rules = []rule{
	{"icate", "ic"}, {"ative", ""}, {"alize", "al"}, {"iciti", "ic"},
	{"ical", "ic"}, {"ful", ""}, {"ness", ""},
}

var step4Suffixes = []string{
	"al", "ance", "ence", "er", "ic", "able", "ible", "ant", "ement", "ment",
	"ent", "ion", "ou", "ism", "ate", "iti", "ous", "ive", "ize",
}

// longestRule returns the rule with the longest suffix that ends b.
func (s *stemmer) longestRule(rules []rule) (rule, bool) {
	best, ok := rule{}, false
	for _, r := range rules {
		if len(r.suf) > len(best.suf) && s.ends(r.suf) {
			best, ok = r, true
		}
	}
	return best, ok
}

func (s *stemmer) step2() {
	if r, ok := s.longestRule(step2Rules); ok && s.measure(len(s.b)-len(r.suf)) > 0 {
		s.replace(r.suf, r.rep)
	}
}

func (s *stemmer) step3() {
	if r, ok := s.longestRule(step3Rules); ok && s.measure(len(s.b)-len(r.suf)) > 0 {
		s.replace(r.suf, r.rep)
	}
}

func (s *stemmer) step4() {
	best := ""
	for _, suf := range step4Suffixes {
		if len(suf) > len(best) && s.ends(suf) {
			best = suf
		}
	}
	if best == "" {
		return
	}
	n := len(s.b) - len(best)
	if s.measure(n) <= 1 {
		return
	}
	if best == "ion" && (n == 0 || (s.b[n-1] != 's' && s.b[n-1] != 't')) {
		return
	}
	s.b = s.b[:n]
}

func (s *stemmer) step5() {
	n := len(s.b)
	if s.ends("e") {
		m := s.measure(n - 1)
		if m > 1 || (m == 1 && !s.cvc(n-1)) {
			s.b = s.b[:n-1]
		}
	}
	n = len(s.b)
	if n >= 2 && s.b[n-1] == 'l' && s.doubleCons(n) && s.measure(n) > 1 {
		s.b = s.b[:n-1]
	}
}
