package bot

import (
	"regexp"
	"strings"

	"github.com/earshot/earshot/inference/builtin/textclass"
)

// The global handlers recognise a few things customers say anywhere in a
// conversation, before intents: asking for a person, cancelling, saying
// goodbye, thanks or hello. They are patterns, not a model: precise, and
// the same for every bot.
var (
	humanRE = regexp.MustCompile(`(?i)\b(` +
		`(talk|speak|chat)\s+(to|with)\s+(a|an|some|any)?\s*(one|body|person|human|agent|representative|rep|advisor|adviser|operator|manager|real person|live person|member of staff)|` +
		`(real|live|actual)\s+(person|human|agent)|` +
		`human\s+(agent|being|please)|` +
		`(agent|human|representative|operator|person)\s*(please|now|!)|` +
		`transfer\s+me|` +
		`customer\s+service\s+(agent|representative)|` +
		`can i (get|have) (a|an) (person|human|agent)|` +
		`^(human|agent|representative|operator|person)[.!]*$` +
		`)`)
	cancelRE  = regexp.MustCompile(`(?i)^\s*(cancel( that| it| this)?|stop( that| it)?|never\s*mind|nevermind|forget (it|that)|quit|abort|start over)\s*[.!]*\s*$`)
	goodbyeRE = regexp.MustCompile(`(?i)^\s*(ok(ay)?[, ]*)?(thanks?( you)?[, ]*)?(bye|goodbye|good bye|see you|that'?s all|that is all|nothing else|no thanks?,? that'?s (it|all))\b[^?]*$`)
	thanksRE  = regexp.MustCompile(`(?i)^\s*(great|perfect|ok(ay)?|cool|brilliant)?[, ]*(thanks|thank you|thx|cheers|much appreciated)( (so|very) much)?[.! ]*$`)
	greetRE   = regexp.MustCompile(`(?i)^\s*(hi|hello|hey|hiya|good (morning|afternoon|evening)|greetings)( there)?[.!, ]*$`)
)

// globalIntent is what a global handler recognised.
type globalIntent int

const (
	globalNone globalIntent = iota
	globalHuman
	globalCancel
	globalGoodbye
	globalThanks
	globalGreeting
)

// detectGlobal reads a cleaned customer message.
func detectGlobal(text string) globalIntent {
	t := strings.TrimSpace(text)
	switch {
	case humanRE.MatchString(t):
		return globalHuman
	case cancelRE.MatchString(t):
		return globalCancel
	case goodbyeRE.MatchString(t):
		return globalGoodbye
	case thanksRE.MatchString(t):
		return globalThanks
	case greetRE.MatchString(t) && len(textclass.Tokens(t)) <= 4:
		return globalGreeting
	}
	return globalNone
}
