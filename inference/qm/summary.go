package qm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode"

	"github.com/earshot/earshot/inference"
)

// Summary is the interaction summary in plain sentences.
type Summary struct {
	Reason    string   `json:"reason"`
	Actions   []string `json:"actions"`
	Outcome   string   `json:"outcome"`
	FollowUps []string `json:"follow_ups"`
	// Text is the whole summary as one paragraph.
	Text string `json:"text"`
	inference.Provenance
}

// SummaryInput is what a summary is written from: the dialogue and the
// other results of the engagement.
type SummaryInput struct {
	Turns       []Turn
	Intent      string // top detected intent, "" if none
	Disposition string // the disposition's name (or code), "" if none
	Tasks       []inference.Task
	Callouts    []Callout
	Metrics     *Metrics
}

// Summarize writes the built-in summary: the reason for contact from the
// intent or the customer's first request, what the agent did from the
// agent's statements of action, the outcome from the disposition, cues of
// resolution and escalation and the sentiment, and the follow-ups from the
// tasks; each in the third person.
func Summarize(in SummaryInput) Summary {
	s := Summary{Actions: []string{}, FollowUps: []string{}, Provenance: inference.Provenance{Provider: "builtin", Model: "qm-summary-1"}}
	req := firstRequest(in.Turns)
	switch {
	case in.Intent != "" && req != "":
		s.Reason = fmt.Sprintf("The customer contacted us about %s: %s", humanise(in.Intent), req)
	case in.Intent != "":
		s.Reason = fmt.Sprintf("The customer contacted us about %s.", humanise(in.Intent))
	case req != "":
		s.Reason = "The customer " + lowerFirst(req)
	default:
		s.Reason = "The reason for contact was not stated clearly."
	}
	seen := map[string]bool{}
	for _, t := range in.Turns {
		if side(t.Party) != PartyAgent || len(s.Actions) == 3 {
			continue
		}
		for _, sent := range sentences(t.Text) {
			if a := agentAction(sent); a != "" && !seen[a] && len(s.Actions) < 3 {
				seen[a] = true
				s.Actions = append(s.Actions, a)
			}
		}
	}
	s.Outcome = outcome(in)
	for _, task := range in.Tasks {
		f := strings.TrimSpace(task.Text)
		if f == "" {
			continue
		}
		who := "The agent"
		if task.Owner == inference.PartyCustomer {
			who = "The customer"
		}
		line := fmt.Sprintf("%s will %s", who, lowerFirst(thirdPerson(strings.TrimSuffix(f, "."), task.Owner == inference.PartyCustomer)))
		if task.Due != "" {
			line += " by " + task.Due
		}
		s.FollowUps = append(s.FollowUps, line+".")
	}
	parts := []string{s.Reason}
	parts = append(parts, s.Actions...)
	parts = append(parts, s.Outcome)
	parts = append(parts, s.FollowUps...)
	s.Text = strings.Join(parts, " ")
	return s
}

func humanise(name string) string {
	return strings.ReplaceAll(strings.ReplaceAll(name, "_", " "), "-", " ")
}

func lowerFirst(s string) string {
	if s == "" || strings.HasPrefix(s, "I ") {
		return s
	}
	r := []rune(s)
	r[0] = unicode.ToLower(r[0])
	return string(r)
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	r := []rune(s)
	r[0] = unicode.ToUpper(r[0])
	return string(r)
}

// sentences splits text at sentence ends.
func sentences(text string) []string {
	var out []string
	start := 0
	for i, r := range text {
		if r == '.' || r == '?' || r == '!' {
			if s := strings.TrimSpace(text[start : i+1]); len(s) > 1 {
				out = append(out, s)
			}
			start = i + 1
		}
	}
	if s := strings.TrimSpace(text[start:]); s != "" {
		out = append(out, s)
	}
	return out
}

var requestCues = []phrase{newPhrase("i want"), newPhrase("i need"), newPhrase("i would like"), newPhrase("id like"),
	newPhrase("can you"), newPhrase("could you"), newPhrase("i cant"), newPhrase("i can not"), newPhrase("i have not"),
	newPhrase("i havent"), newPhrase("my"), newPhrase("i was charged"), newPhrase("i am calling"), newPhrase("im calling"),
	newPhrase("i lost"), newPhrase("i forgot"), newPhrase("there is"), newPhrase("theres")}

// firstRequest is the customer's first sentence that states a need, in
// reported speech ("said their card has not arrived.").
func firstRequest(turns []Turn) string {
	for _, t := range turns {
		if side(t.Party) != PartyCustomer {
			continue
		}
		for _, sent := range sentences(t.Text) {
			toks := tokens(sent)
			if len(toks) < 4 {
				continue
			}
			for _, c := range requestCues {
				if c.in(toks) {
					body := strings.TrimRight(thirdPerson(sent, true), ".?! ")
					verb := "said "
					if strings.HasSuffix(strings.TrimSpace(sent), "?") {
						verb = "asked: "
					}
					return verb + body + "."
				}
			}
		}
	}
	return ""
}

var actionStarts = []struct {
	p    phrase
	with string
}{
	{newPhrase("ive"), "The agent has"}, {newPhrase("i have"), "The agent has"}, {newPhrase("ill"), "The agent will"},
	{newPhrase("i will"), "The agent will"}, {newPhrase("i can see"), "The agent saw"}, {newPhrase("i can"), "The agent can"},
	{newPhrase("let me"), "The agent offered to"}, {newPhrase("im going to"), "The agent will"}, {newPhrase("i am going to"), "The agent will"},
	{newPhrase("i just"), "The agent"}, {newPhrase("i"), "The agent"},
}

// agentAction rewrites an agent's first-person statement of action in the
// third person; "" if the sentence states no action.
func agentAction(sent string) string {
	toks := tokens(sent)
	if len(toks) < 3 || strings.HasSuffix(sent, "?") {
		return ""
	}
	for _, a := range actionStarts {
		if len(a.p) > len(toks) || !a.p.in(toks[:len(a.p)]) {
			continue
		}
		rest := toks[len(a.p):]
		if len(rest) < 2 || rest[0] == "am" || rest[0] == "m" || rest[0] == "dont" || rest[0] == "think" || rest[0] == "understand" || rest[0] == "see" || rest[0] == "know" {
			return ""
		}
		body := thirdPerson(strings.Join(rest, " "), false)
		return a.with + " " + body + "."
	}
	return ""
}

// thirdPerson rewrites first and second person pronouns: a customer's
// words (customer true) or an agent's.
func thirdPerson(s string, customer bool) string {
	var self, selfPoss, other, otherPoss string
	if customer {
		self, selfPoss, other, otherPoss = "they", "their", "the agent", "the agent's"
	} else {
		self, selfPoss, other, otherPoss = "the agent", "their", "the customer", "the customer's"
	}
	repl := map[string]string{
		"i": self, "me": "them", "my": selfPoss, "mine": "theirs", "myself": "themselves",
		"im": self + " is", "ive": self + " has", "ill": self + " will", "id": self + " would",
		"you": other, "your": otherPoss, "yours": otherPoss, "youre": other + " is", "youve": other + " has", "youll": other + " will",
		"am": "is",
	}
	if customer {
		repl["im"], repl["ive"], repl["am"] = "they are", "they have", "are"
		repl["i"] = "they"
	}
	fields := strings.Fields(s)
	for i, f := range fields {
		core := strings.TrimFunc(f, func(r rune) bool { return !unicode.IsLetter(r) && r != '\'' && r != '’' })
		key := strings.ToLower(strings.NewReplacer("'", "", "’", "").Replace(core))
		if r, ok := repl[key]; ok {
			fields[i] = strings.Replace(f, core, r, 1)
		}
	}
	return strings.Join(fields, " ")
}

var resolvedCues = []phrase{newPhrase("that's great"), newPhrase("thats great"), newPhrase("perfect"), newPhrase("sorted"),
	newPhrase("that helps"), newPhrase("thank you so much"), newPhrase("thanks so much"), newPhrase("that works"), newPhrase("brilliant"),
	newPhrase("problem solved"), newPhrase("all good")}

func outcome(in SummaryInput) string {
	var parts []string
	if in.Disposition != "" {
		parts = append(parts, fmt.Sprintf("The engagement was closed as %s.", humanise(in.Disposition)))
	}
	esc := false
	for _, c := range in.Callouts {
		if c.Type == CalloutEscalation || c.Type == CalloutChurn {
			esc = true
		}
	}
	resolved := false
	n := 0
	for i := len(in.Turns) - 1; i >= 0 && n < 3; i-- {
		if side(in.Turns[i].Party) != PartyCustomer {
			continue
		}
		n++
		toks := tokens(in.Turns[i].Text)
		for _, c := range resolvedCues {
			if c.in(toks) {
				resolved = true
			}
		}
	}
	switch {
	case resolved:
		parts = append(parts, "The customer confirmed the issue was resolved.")
	case esc:
		parts = append(parts, "The customer asked for escalation or threatened to leave.")
	}
	if in.Metrics != nil {
		c := in.Metrics.Parties[PartyCustomer]
		if c.SentimentStart != nil && c.SentimentEnd != nil {
			switch d := *c.SentimentEnd - *c.SentimentStart; {
			case d > 0.2:
				parts = append(parts, "The customer ended the call in a better mood than they started.")
			case d < -0.2:
				parts = append(parts, "The customer ended the call in a worse mood than they started.")
			}
		}
	}
	if len(parts) == 0 {
		return "No outcome was stated."
	}
	return strings.Join(parts, " ")
}

// summarySchema is the JSON schema the language model answers under.
var summarySchema = []byte(`{"type":"object","additionalProperties":false,"properties":{
"reason":{"type":"string","maxLength":400},"actions":{"type":"array","maxItems":3,"items":{"type":"string","maxLength":300}},
"outcome":{"type":"string","maxLength":400},"follow_ups":{"type":"array","maxItems":5,"items":{"type":"string","maxLength":300}}},
"required":["reason","actions","outcome","follow_ups"]}`)

// ErrBadReply is returned when a language model's reply breaks its schema.
var ErrBadReply = errors.New("qm: model reply does not follow the schema")

// GenerateSummary asks a language model for the summary under a JSON
// schema; the caller falls back to Summarize on any error.
func GenerateSummary(ctx context.Context, gen inference.Generator, in SummaryInput, model string) (Summary, error) {
	var b strings.Builder
	for _, t := range in.Turns {
		fmt.Fprintf(&b, "%s: %s\n", t.Party, t.Text)
	}
	hints := ""
	if in.Intent != "" {
		hints += "Detected intent: " + humanise(in.Intent) + ".\n"
	}
	if in.Disposition != "" {
		hints += "Disposition: " + humanise(in.Disposition) + ".\n"
	}
	for _, t := range in.Tasks {
		hints += "Follow-up task: " + t.Text + ".\n"
	}
	req := inference.GenerateRequest{
		System: "You summarise contact-centre conversations for a quality reviewer. Write plain third-person sentences. Answer in JSON only.",
		Prompt: hints + "Conversation:\n" + b.String() + "\nGive the reason for contact, what the agent did (up to three sentences), the outcome and the follow-ups.",
		Schema: summarySchema,
	}
	text, err := collect(ctx, gen, req)
	if err != nil {
		return Summary{}, err
	}
	var s Summary
	if err := json.Unmarshal([]byte(text), &s); err != nil {
		return Summary{}, fmt.Errorf("%w: %v", ErrBadReply, err)
	}
	if strings.TrimSpace(s.Reason) == "" || strings.TrimSpace(s.Outcome) == "" {
		return Summary{}, fmt.Errorf("%w: empty reason or outcome", ErrBadReply)
	}
	if s.Actions == nil {
		s.Actions = []string{}
	}
	if s.FollowUps == nil {
		s.FollowUps = []string{}
	}
	parts := append([]string{s.Reason}, s.Actions...)
	parts = append(parts, s.Outcome)
	s.Text = strings.Join(append(parts, s.FollowUps...), " ")
	s.Provenance = inference.Provenance{Provider: "ollama", Model: model}
	return s, nil
}

// maxReply bounds a model's reply.
const maxReply = 64 << 10

// collect runs a generation to its end.
func collect(ctx context.Context, gen inference.Generator, req inference.GenerateRequest) (string, error) {
	ch, errf, err := gen.Generate(ctx, req)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for chunk := range ch {
		if b.Len() < maxReply {
			b.WriteString(chunk)
		}
	}
	if err := errf(); err != nil {
		return "", err
	}
	return b.String(), nil
}
