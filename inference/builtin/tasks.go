package builtin

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/earshot/earshot/inference"
)

// commitment triggers: a speaker promising to do something later.
var selfTriggers = []string{
	"i will", "ill", "i am going to", "im going to", "im gonna", "i shall", "we will", "well",
	"we are going to", "were going to", "let me", "i can", "i promise to", "i need to", "i have to",
	"ill make sure", "i must", "we can", "someone will", "a colleague will", "our team will",
	"the team will", "you will receive", "youll receive", "you will get", "youll get", "you should receive",
	"you should get", "expect",
}

// directives: the speaker asks the other party to do something.
var otherTriggers = []string{
	"you need to", "you will need to", "youll need to", "please", "can you", "could you",
	"make sure you", "you have to", "you should", "remember to", "dont forget to", "do not forget to",
}

// followVerbs are actions that make a commitment a follow-up task.
var followVerbs = map[string]bool{
	"send": true, "email": true, "mail": true, "post": true, "call": true, "ring": true, "phone": true,
	"text": true, "contact": true, "follow": true, "update": true, "process": true, "review": true,
	"escalate": true, "arrange": true, "schedule": true, "book": true, "refund": true, "credit": true,
	"reimburse": true, "cancel": true, "reset": true, "issue": true, "submit": true, "upload": true,
	"fill": true, "sign": true, "return": true, "confirm": true, "forward": true, "investigate": true,
	"raise": true, "file": true, "pay": true, "deliver": true, "ship": true, "replace": true,
	"reverse": true, "waive": true, "visit": true, "bring": true, "provide": true, "fax": true,
	"receive": true, "get": true, "reply": true, "respond": true, "look": true, "check": true,
	"dispatch": true, "order": true, "close": true, "open": true, "activate": true, "unblock": true,
	"transfer": true, "notify": true, "remind": true, "complete": true, "message": true,
}

// immediate marks actions done during the call itself, which are not
// follow-ups ("let me check that now", "I'll put you on hold").
var immediate = []string{
	"right now", "now", "right away", "a moment", "one moment", "a second", "one second", "a sec",
	"on hold", "while you", "for you now", "real quick", "at the moment", "put you through",
	"transfer you", "hold on", "bear with",
}

func hasPhraseAt(ws []string, i int, phrase string) bool {
	ps := strings.Fields(phrase)
	if i+len(ps) > len(ws) {
		return false
	}
	for k, p := range ps {
		if ws[i+k] != p {
			return false
		}
	}
	return true
}

func containsPhrase(ws []string, phrase string) bool {
	for i := range ws {
		if hasPhraseAt(ws, i, phrase) {
			return true
		}
	}
	return false
}

// ExtractTasks implements inference.TaskExtractor with rules: a sentence is
// a task when a commitment trigger ("I'll", "we will", "let me",
// "you'll receive") or a directive ("you need to", "please") is followed
// within a few words by a follow-up verb (send, email, call, refund, ...),
// and the action is not something done during the call ("let me check that
// now"). The owner is the speaker for commitments (or, for "you'll
// receive", the speaker's side) and the other party for directives; due
// dates ("by Friday", "within 3 business days") resolve against ref.
func (p *Provider) ExtractTasks(ctx context.Context, conv []inference.Utterance, ref time.Time) ([]inference.Task, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := validateConv(conv); err != nil {
		p.metrics.badInput.WithLabelValues("conversation").Inc()
		return nil, fmt.Errorf("builtin: extract tasks: %w", err)
	}
	p.metrics.calls.WithLabelValues("tasks").Inc()
	var out []inference.Task
	seen := map[string]bool{}
	for _, s := range splitSentences(conv) {
		t, ok := taskFromSentence(s, ref)
		if !ok || seen[t.Text] {
			continue
		}
		seen[t.Text] = true
		out = append(out, t)
	}
	return out, nil
}

func other(p inference.Party) inference.Party {
	if p == inference.PartyCustomer {
		return inference.PartyAgent
	}
	return inference.PartyCustomer
}

func taskFromSentence(s sentence, ref time.Time) (inference.Task, bool) {
	ws := s.words
	for _, im := range immediate {
		if containsPhrase(ws, im) {
			return inference.Task{}, false
		}
	}
	for i := range ws {
		owner, trig := inference.Party(""), 0
		for _, tr := range selfTriggers {
			if hasPhraseAt(ws, i, tr) {
				owner, trig = s.party, len(strings.Fields(tr))
				if strings.HasPrefix(tr, "you") || tr == "expect" {
					// "you'll receive a letter": the speaker's side delivers
					owner = s.party
				}
				break
			}
		}
		if owner == "" {
			for _, tr := range otherTriggers {
				if hasPhraseAt(ws, i, tr) {
					owner, trig = other(s.party), len(strings.Fields(tr))
					break
				}
			}
		}
		if owner == "" {
			continue
		}
		// a follow-up verb within the next four words
		for j := i + trig; j < min(len(ws), i+trig+4); j++ {
			if !followVerbs[ws[j]] {
				continue
			}
			if ws[j] == "look" && !(j+1 < len(ws) && ws[j+1] == "into") {
				continue
			}
			if ws[j] == "get" && !(j+1 < len(ws) && (ws[j+1] == "back" || ws[j+1] == "a" || ws[j+1] == "an" || ws[j+1] == "the" || ws[j+1] == "your")) {
				continue
			}
			if ws[j] == "check" && resolveDue(ws, ref) == "" {
				continue // "let me check" without a date is done during the call
			}
			if owner == s.party && s.party == inference.PartyCustomer && (ws[i] == "can" || ws[i] == "could") {
				continue
			}
			return inference.Task{
				Text:       taskText(s.text),
				Owner:      owner,
				Due:        resolveDue(ws, ref),
				EvidenceMS: s.startMS,
			}, true
		}
	}
	return inference.Task{}, false
}

// taskText is the sentence without leading fillers.
func taskText(t string) string {
	t = strings.TrimSpace(t)
	for _, f := range []string{"Okay, ", "Ok, ", "OK, ", "Alright, ", "Sure, ", "Right, ", "So ", "Yes, ", "Great, "} {
		t = strings.TrimPrefix(t, f)
	}
	return capitalise(t)
}
