package qm

import (
	"strings"

	"github.com/earshot/earshot/inference/builtin/textclass"
)

// Parties of a turn. The bot speaks on the agent's side.
const (
	PartyCustomer = "customer"
	PartyAgent    = "agent"
	PartyBot      = "bot"
)

// Turn is one final transcript segment or chat message on the media
// clock (milliseconds from the engagement's start).
type Turn struct {
	Seq     int    `json:"seq"`
	Party   string `json:"party"`
	StartMS int64  `json:"start_ms"`
	EndMS   int64  `json:"end_ms"`
	Text    string `json:"text"`
	Words   []Word `json:"words,omitempty"`
	// Sentiment is the turn's sentiment score (-1..1) when known.
	Sentiment *float64 `json:"sentiment,omitempty"`
}

// Word is one recognised word with its times.
type Word struct {
	Text    string `json:"text"`
	StartMS int64  `json:"start_ms"`
	EndMS   int64  `json:"end_ms"`
}

// Interval is a stretch of the media clock, [StartMS, EndMS).
type Interval struct {
	StartMS int64 `json:"start_ms"`
	EndMS   int64 `json:"end_ms"`
}

func (i Interval) dur() int64 { return max(0, i.EndMS-i.StartMS) }

// side maps a party to the side of the conversation it speaks for.
func side(party string) string {
	if party == PartyBot {
		return PartyAgent
	}
	return party
}

// tokens are the lowercase word tokens of a text.
func tokens(text string) []string { return textclass.Tokens(text) }

// phrase is a phrase prepared for matching: its tokens.
type phrase []string

func newPhrase(s string) phrase { return phrase(tokens(s)) }

// in reports whether the phrase occurs in toks as a run of whole tokens.
func (p phrase) in(toks []string) bool {
	if len(p) == 0 || len(p) > len(toks) {
		return false
	}
outer:
	for i := 0; i+len(p) <= len(toks); i++ {
		for j, w := range p {
			if toks[i+j] != w {
				continue outer
			}
		}
		return true
	}
	return false
}

func (p phrase) String() string { return strings.Join(p, " ") }
