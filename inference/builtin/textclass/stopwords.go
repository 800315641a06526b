package textclass

import "strings"

// stopwords are English function words and dialogue fillers.
var stopwords = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`a about above after again against all also am an and any are arent as at
	be because been before being below between both but by can cant could couldnt did didnt do does doesnt
	doing dont down during each few for from further had hadnt has hasnt have havent having he hed hell hes
	her here heres hers herself him himself his how hows i id ill im ive if in into is isnt it its itself
	lets me more most mustnt my myself no nor not of off on once only or other ought our ours ourselves out
	over own same shant she shed shell shes should shouldnt so some such than that thats the their theirs
	them themselves then there theres these they theyd theyll theyre theyve this those through to too under
	until up very was wasnt we wed well were weve werent what whats when whens where wheres which while who
	whos whom why whys with wont would wouldnt you youd youll youre youve your yours yourself yourselves
	yes yeah yep ok okay oh uh um hmm mm hi hello hey thanks thank please sure right just really like
	get got go going know think want see let say said tell told can will shall may might must one two
	thing things something anything lot bit way good great fine much many also actually maybe still
	now today mr mrs ms sir madam dear bye goodbye morning afternoon evening alright gonna wanna kind sort
	s t d ll m re ve don`) {
		m[w] = true
	}
	return m
}()

// IsStopword reports whether w (a token of Tokens) is an English function
// word or dialogue filler: one that makes no keyword and no topic term.
func IsStopword(w string) bool { return stopwords[w] }

// Stopwords returns a copy of the stop-word set, for callers that index
// it in loops.
func Stopwords() map[string]bool {
	m := make(map[string]bool, len(stopwords))
	for w := range stopwords {
		m[w] = true
	}
	return m
}
