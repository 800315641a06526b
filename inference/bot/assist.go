package bot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/earshot/earshot/inference"
	"github.com/earshot/earshot/inference/bot/slots"
	"github.com/earshot/earshot/inference/builtin/textclass"
)

// Assistant helps administrators design bots: training phrases, intents
// from the site's own conversations, flows from plain-language
// instructions, and sample questions to test the knowledge base. With a
// Generator it asks the local model (its answers are checked like any
// other input); without one it gives the built-in answer where there is
// one, and ErrNeedsModel where there is not.
type Assistant struct {
	Generator inference.Generator
	Topics    TopicFinder
}

// ErrNeedsModel is returned by an assist that has no built-in answer
// when no local model is configured.
var ErrNeedsModel = errors.New("bot: this assist needs a local model (configure ollama.models.generate)")

// Sources of an assist's answer.
const (
	SourceModel   = "local_model"
	SourceBuiltin = "builtin"
)

func (a *Assistant) ask(ctx context.Context, system, prompt string, schema []byte, v any) error {
	ch, errf, err := a.Generator.Generate(ctx, inference.GenerateRequest{System: system, Prompt: prompt, Schema: schema})
	if err != nil {
		return err
	}
	var b strings.Builder
	for c := range ch {
		b.WriteString(c)
	}
	if err := errf(); err != nil {
		return err
	}
	return json.Unmarshal([]byte(b.String()), v)
}

// Phrases suggests up to n new training phrases for intent it, none of
// which already belongs to any intent of d.
func (a *Assistant) Phrases(ctx context.Context, d Definition, it Intent, n int) ([]string, string, error) {
	n = min(max(n, 1), 50)
	taken := map[string]bool{}
	for _, x := range d.Intents {
		for _, p := range x.Phrases {
			taken[normPhrase(p)] = true
		}
	}
	for _, p := range it.Phrases {
		taken[normPhrase(p)] = true
	}
	keep := func(cands []string) []string {
		var out []string
		for _, c := range cands {
			c = strings.TrimSpace(slots.Clean(c))
			k := normPhrase(c)
			if k == "" || taken[k] || utf8.RuneCountInString(c) > 160 || strings.Contains(c, "{{") {
				continue
			}
			taken[k] = true
			out = append(out, c)
			if len(out) == n {
				break
			}
		}
		return out
	}
	if a.Generator != nil {
		var reply struct {
			Phrases []string `json:"phrases"`
		}
		schema := fmt.Appendf(nil, `{"type":"object","additionalProperties":false,"required":["phrases"],"properties":{"phrases":{"type":"array","maxItems":%d,"items":{"type":"string","maxLength":160}}}}`, n)
		prompt := fmt.Sprintf("Write %d different ways a customer could say this to a %s chat assistant.\nIntent: %s (%s)\nExamples:\n- %s\n",
			n, d.Name, it.Name, it.Description, strings.Join(it.Phrases[:min(8, len(it.Phrases))], "\n- "))
		if err := a.ask(ctx, "You write training phrases for a customer-service intent classifier. Reply with JSON only.", prompt, schema, &reply); err == nil {
			if out := keep(reply.Phrases); len(out) > 0 {
				return out, SourceModel, nil
			}
		}
	}
	return keep(variants(it.Phrases)), SourceBuiltin, nil
}

func normPhrase(p string) string {
	return strings.Join(textclass.Tokens(p), " ")
}

// variants rewrites phrases with other openings and politeness: a modest
// built-in paraphraser.
func variants(phrases []string) []string {
	openers := []string{"I need to", "can you help me", "I want to", "please help, ", "hi, ", "quick question: "}
	var out []string
	for _, p := range phrases {
		base := strings.TrimRight(strings.TrimSpace(p), ".?!")
		low := strings.ToLower(base)
		for _, pre := range []string{"i want to ", "i need to ", "can you ", "please ", "how do i ", "i'd like to "} {
			if strings.HasPrefix(low, pre) {
				rest := base[len(pre):]
				for _, o := range openers[:3] {
					out = append(out, o+" "+rest)
				}
			}
		}
		out = append(out, "hi, "+lowerFirst(base), lowerFirst(base)+" please", "quick question: "+lowerFirst(base)+"?")
		if strings.Contains(low, " my ") {
			out = append(out, strings.Replace(base, " my ", " the ", 1))
		}
	}
	return out
}

func lowerFirst(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if r == utf8.RuneError {
		return s
	}
	return string(unicode.ToLower(r)) + s[n:]
}

// ProposedIntent is an intent found in customer messages.
type ProposedIntent struct {
	Name    string   `json:"name"`
	Count   int      `json:"count"`
	Phrases []string `json:"phrases"`
}

// Intents groups customer utterances into proposed intents, largest
// first, named by their keywords (or by the local model).
func (a *Assistant) Intents(ctx context.Context, utterances []string, maxIntents int) ([]ProposedIntent, string, error) {
	groups, err := Clusters{}.Groups(ctx, utterances, maxIntents)
	if err != nil {
		return nil, "", err
	}
	out := make([]ProposedIntent, 0, len(groups))
	for _, g := range groups {
		if g.Count < 2 {
			continue
		}
		p := ProposedIntent{Name: strings.Join(g.Keywords, "_"), Count: g.Count}
		for _, m := range g.Members[:min(10, len(g.Members))] {
			p.Phrases = append(p.Phrases, utterances[m])
		}
		out = append(out, p)
	}
	source := SourceBuiltin
	if a.Generator != nil && len(out) > 0 {
		var reply struct {
			Names []string `json:"names"`
		}
		var b strings.Builder
		for i, p := range out {
			fmt.Fprintf(&b, "%d. %s\n", i+1, strings.Join(p.Phrases[:min(4, len(p.Phrases))], " | "))
		}
		schema := fmt.Appendf(nil, `{"type":"object","additionalProperties":false,"required":["names"],"properties":{"names":{"type":"array","maxItems":%d,"items":{"type":"string","maxLength":40}}}}`, len(out))
		if err := a.ask(ctx, "You name customer-service intents in snake_case. Reply with JSON only.",
			"Give one short snake_case intent name for each numbered group of customer messages, in order.\n"+b.String(), schema, &reply); err == nil && len(reply.Names) == len(out) {
			ok := true
			seen := map[string]bool{}
			for _, n := range reply.Names {
				if !nameRE.MatchString(n) || seen[n] {
					ok = false
				}
				seen[n] = true
			}
			if ok {
				for i := range out {
					out[i].Name = reply.Names[i]
				}
				source = SourceModel
			}
		}
	}
	return out, source, nil
}

// Group is a topic with the indexes of its texts.
type Group struct {
	Topic
	Members []int `json:"-"`
}

// Groups is Topics with the members of each topic.
func (c Clusters) Groups(ctx context.Context, texts []string, maxGroups int) ([]Group, error) {
	return c.groups(ctx, texts, maxGroups)
}

// flowSpec is what the model writes for a flow: small enough to bound
// with a schema, turned into a Definition and validated like any other.
type flowSpec struct {
	Intent      string `json:"intent"`
	Description string `json:"description"`
	Phrases     []string
	Steps       []struct {
		Kind  string `json:"kind"` // say, ask, skill, handover, end
		Text  string `json:"text"`
		Slot  string `json:"slot"`
		Type  string `json:"type"`
		Skill string `json:"skill"`
	} `json:"steps"`
}

// FlowRequest asks for a flow from instructions in plain language.
type FlowRequest struct {
	// Base is the bot the flow is added to (its ID, queue and intents).
	Base Definition
	// Intent names the new intent; Phrases are its training phrases
	// (the model may add some).
	Intent  string
	Phrases []string
	// Instructions, one step per line or sentence: "Ask for the
	// customer's email address", "Use [Validate Purchase]", "Tell the
	// customer ...", "Escalate to a manager", "End the conversation".
	Instructions string
	// Plugin is the skill plugin that runs the skills the instructions
	// name.
	Plugin string
}

// Flow turns instructions into a flow added to req.Base, with its intent,
// slots and skills. The result must pass the same validation as any
// definition; the caller validates it.
func (a *Assistant) Flow(ctx context.Context, req FlowRequest) (Definition, string, error) {
	if strings.TrimSpace(req.Instructions) == "" {
		return Definition{}, "", errors.New("bot: instructions are empty")
	}
	if !nameRE.MatchString(req.Intent) {
		return Definition{}, "", fmt.Errorf("bot: intent %q must be an identifier", req.Intent)
	}
	if a.Generator != nil {
		var spec flowSpec
		schema := []byte(`{"type":"object","additionalProperties":false,"required":["intent","description","phrases","steps"],"properties":{` +
			`"intent":{"type":"string","maxLength":60},"description":{"type":"string","maxLength":200},` +
			`"phrases":{"type":"array","maxItems":20,"items":{"type":"string","maxLength":160}},` +
			`"steps":{"type":"array","maxItems":30,"items":{"type":"object","additionalProperties":false,"required":["kind","text","slot","type","skill"],"properties":{` +
			`"kind":{"type":"string","enum":["say","ask","skill","handover","end"]},"text":{"type":"string","maxLength":300},` +
			`"slot":{"type":"string","maxLength":40},"type":{"type":"string","enum":["","number","amount","date","time","email","phone","card_last4","account_number","yes_no","text"]},` +
			`"skill":{"type":"string","maxLength":40}}}}}}`)
		prompt := fmt.Sprintf("Turn these instructions into the steps of a chat-bot flow for the intent %s.\nInstructions:\n%s\n", req.Intent, req.Instructions)
		if err := a.ask(ctx, "You design customer-service chat-bot flows. Reply with JSON only.", prompt, schema, &spec); err == nil && len(spec.Steps) > 0 {
			spec.Intent = req.Intent
			spec.Phrases = append(slices.Clone(req.Phrases), spec.Phrases...)
			return buildFlow(req, spec), SourceModel, nil
		}
	}
	spec := parseInstructions(req)
	if len(spec.Steps) == 0 {
		return Definition{}, "", fmt.Errorf("%w: the built-in flow writer found no step it knows (ask for, tell, [Skill], escalate, end)", ErrNeedsModel)
	}
	return buildFlow(req, spec), SourceBuiltin, nil
}

var (
	buttonRE   = regexp.MustCompile(`\[([^\]]{2,40})\]`)
	askRE      = regexp.MustCompile(`(?i)^(?:ask(?: the customer)?(?: for)?|get|gather|collect|request|find out|obtain|enter)\s+(?:the customer'?s?\s+|their\s+|his or her\s+|a\s+|the\s+)?(.+)$`)
	sayRE      = regexp.MustCompile(`(?i)^(?:tell|inform|say|explain|let the customer know|respond|apologi[sz]e)\b(.*)$`)
	handoverRE = regexp.MustCompile(`(?i)\b(escalat|transfer|hand (?:it )?over|notify (?:the )?(?:manager|internal team)|pass (?:it )?to)`)
	endRE      = regexp.MustCompile(`(?i)^(?:end|close|finish|wrap up)\b`)
)

// slotTypeFor infers a slot type from what is asked for.
func slotTypeFor(what string) slots.Type {
	w := strings.ToLower(what)
	switch {
	case strings.Contains(w, "email"):
		return slots.Email
	case strings.Contains(w, "phone") || strings.Contains(w, "mobile number"):
		return slots.Phone
	case strings.Contains(w, "last four") || strings.Contains(w, "last 4"):
		return slots.CardLast4
	case strings.Contains(w, "date") || strings.HasPrefix(w, "when"):
		return slots.Date
	case strings.Contains(w, "amount") || strings.Contains(w, "price") || strings.Contains(w, "dollar"):
		return slots.Amount
	case strings.Contains(w, "order id") || strings.Contains(w, "account number") || strings.Contains(w, "order number") ||
		strings.Contains(w, "account id") || strings.Contains(w, "zip") || strings.Contains(w, "postcode"):
		return slots.AccountNumber
	case strings.HasPrefix(w, "whether") || strings.Contains(w, "yes or no") || strings.HasPrefix(w, "if they"):
		return slots.YesNo
	case strings.Contains(w, "how many") || strings.Contains(w, "number of"):
		return slots.Number
	}
	return slots.Text
}

// slotName makes an identifier of what is asked for.
func slotName(what string) string {
	ws := contentWords(what)
	if len(ws) == 0 {
		ws = textclass.Tokens(what)
	}
	if len(ws) > 3 {
		ws = ws[:3]
	}
	n := strings.Join(ws, "_")
	if n == "" || !nameRE.MatchString(n) {
		n = "value"
	}
	return n
}

// sentences splits instructions into lines and sentences.
func instructionSentences(text string) []string {
	var out []string
	for _, ln := range strings.Split(text, "\n") {
		ln = strings.TrimSpace(strings.TrimLeft(strings.TrimSpace(ln), "-*•0123456789.) "))
		for _, s := range regexp.MustCompile(`(?:[.;!?])\s+`).Split(ln, -1) {
			if s = strings.TrimSpace(strings.TrimRight(s, ".;!?")); s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}

// parseInstructions is the built-in flow writer: one step per sentence,
// by its opening verb.
func parseInstructions(req FlowRequest) flowSpec {
	spec := flowSpec{Intent: req.Intent, Phrases: req.Phrases}
	add := func(kind, text, slot, typ, skill string) {
		spec.Steps = append(spec.Steps, struct {
			Kind  string `json:"kind"`
			Text  string `json:"text"`
			Slot  string `json:"slot"`
			Type  string `json:"type"`
			Skill string `json:"skill"`
		}{kind, text, slot, typ, skill})
	}
	for _, s := range instructionSentences(req.Instructions) {
		buttons := buttonRE.FindAllStringSubmatch(s, -1)
		plain := strings.TrimSpace(buttonRE.ReplaceAllString(s, ""))
		plain = strings.TrimSpace(strings.TrimSuffix(strings.TrimSuffix(strings.TrimSpace(plain), " with"), " using"))
		switch {
		case handoverRE.MatchString(s):
			add("handover", "", "", "", "")
		case endRE.MatchString(s):
			add("end", "", "", "", "")
		case askRE.MatchString(plain):
			what := askRE.FindStringSubmatch(plain)[1]
			what = regexp.MustCompile(`(?i)\s+(?:for|to|so|in order|and use|and click|with|using)\b.*$`).ReplaceAllString(what, "")
			for _, part := range regexp.MustCompile(`(?i),\s*|\s+and\s+`).Split(what, -1) {
				if strings.TrimSpace(part) == "" {
					continue
				}
				add("ask", "What is your "+strings.TrimSpace(strings.TrimPrefix(strings.ToLower(part), "their "))+"?", slotName(part), string(slotTypeFor(part)), "")
			}
		case sayRE.MatchString(plain):
			text := strings.TrimSpace(sayRE.FindStringSubmatch(plain)[1])
			text = strings.TrimSpace(strings.TrimPrefix(strings.TrimPrefix(text, " the customer"), "the customer"))
			text = strings.TrimSpace(strings.TrimPrefix(text, "that"))
			if text != "" {
				add("say", upperFirst(text)+".", "", "", "")
			}
		}
		for _, b := range buttons {
			add("skill", "", "", "", slotName(b[1]))
		}
	}
	return spec
}

func upperFirst(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if r == utf8.RuneError {
		return s
	}
	return string(unicode.ToUpper(r)) + s[n:]
}

// buildFlow adds the spec's flow, intent, slots and skills to the base.
func buildFlow(req FlowRequest, spec flowSpec) Definition {
	d := req.Base
	d.Intents = slices.Clone(d.Intents)
	d.Slots = slices.Clone(d.Slots)
	d.Skills = slices.Clone(d.Skills)
	d.Flows = slices.Clone(d.Flows)
	flow := Flow{Name: spec.Intent}
	var phrases []string
	for _, p := range spec.Phrases {
		if p = strings.TrimSpace(slots.Clean(p)); p != "" {
			phrases = append(phrases, p)
		}
	}
	d.Intents = append(d.Intents, Intent{Name: spec.Intent, Description: spec.Description, Phrases: phrases, Flow: flow.Name})
	hasSlot := func(n string) bool { return d.slotNamed(n) != nil }
	hasSkill := func(n string) bool { return slices.ContainsFunc(d.Skills, func(s Skill) bool { return s.Name == n }) }
	var collected []string
	for _, st := range spec.Steps {
		switch st.Kind {
		case "say":
			flow.Steps = append(flow.Steps, Step{Send: st.Text})
		case "ask":
			name := st.Slot
			if !nameRE.MatchString(name) {
				name = slotName(st.Text)
			}
			typ := slots.Type(st.Type)
			if !typ.Valid() {
				typ = slotTypeFor(st.Text)
			}
			// A bot's existing slot of the same specific type is reused
			// (its skills read it by that name).
			if typ != slots.Text && typ != slots.YesNo && typ != slots.Number {
				for _, sl := range d.Slots {
					if sl.Type == typ {
						name = sl.Name
						break
					}
				}
			}
			if !hasSlot(name) {
				sl := Slot{Name: name, Type: typ, Prompt: st.Text}
				if typ == slots.Text {
					sl.MaxLen = 200
				}
				d.Slots = append(d.Slots, sl)
			}
			if n := len(flow.Steps); n > 0 && len(flow.Steps[n-1].Collect) > 0 {
				flow.Steps[n-1].Collect = append(flow.Steps[n-1].Collect, name)
			} else {
				flow.Steps = append(flow.Steps, Step{Collect: []string{name}})
			}
			collected = append(collected, name)
		case "skill":
			name := st.Skill
			if !nameRE.MatchString(name) {
				continue
			}
			if !hasSkill(name) {
				in := map[string]string{}
				for _, c := range collected {
					in[c] = "{{" + c + "}}"
				}
				d.Skills = append(d.Skills, Skill{Name: name, Plugin: req.Plugin, Input: in})
			}
			flow.Steps = append(flow.Steps, Step{Skill: name, OnError: "skill_failed"})
		case "handover":
			flow.Steps = append(flow.Steps, Step{Handover: "flow"})
		case "end":
			flow.Steps = append(flow.Steps, Step{End: "resolved"})
		}
	}
	if slices.ContainsFunc(flow.Steps, func(s Step) bool { return s.OnError != "" }) {
		// Skill failures go to one error step at the end.
		if n := len(flow.Steps); n == 0 || (flow.Steps[n-1].End == "" && flow.Steps[n-1].Handover == "") {
			flow.Steps = append(flow.Steps, Step{End: "resolved"})
		}
		flow.Steps = append(flow.Steps, Step{ID: "skill_failed", Send: "Sorry, something went wrong on our side."}, Step{Handover: "skill_error"})
	}
	d.Flows = append(d.Flows, flow)
	return d
}

// SampleQuery is a question a knowledge-base article should answer.
type SampleQuery struct {
	ArticleID string `json:"article_id"`
	Query     string `json:"query"`
}

// Article is what KBQueries reads of a knowledge-base article.
type Article struct {
	ID, Title, Body string
}

// KBQueries writes up to n sample questions per article, to test which
// questions the knowledge base answers.
func (a *Assistant) KBQueries(ctx context.Context, arts []Article, n int) ([]SampleQuery, string, error) {
	n = min(max(n, 1), 10)
	var out []SampleQuery
	source := SourceBuiltin
	for _, art := range arts {
		if a.Generator != nil {
			var reply struct {
				Questions []string `json:"questions"`
			}
			schema := fmt.Appendf(nil, `{"type":"object","additionalProperties":false,"required":["questions"],"properties":{"questions":{"type":"array","maxItems":%d,"items":{"type":"string","maxLength":200}}}}`, n)
			body := truncate(art.Body, 3000)
			if err := a.ask(ctx, "You write questions customers would ask that an article answers. Reply with JSON only.",
				fmt.Sprintf("Article: %s\n%s\nWrite %d different customer questions it answers.", art.Title, body, n), schema, &reply); err == nil && len(reply.Questions) > 0 {
				for _, q := range reply.Questions {
					if q = strings.TrimSpace(slots.Clean(q)); q != "" {
						out = append(out, SampleQuery{ArticleID: art.ID, Query: q})
					}
				}
				source = SourceModel
				continue
			}
		}
		for _, q := range titleQuestions(art, n) {
			out = append(out, SampleQuery{ArticleID: art.ID, Query: q})
		}
	}
	return out, source, nil
}

// titleQuestions turns an article's title and headings into questions.
func titleQuestions(art Article, n int) []string {
	var heads []string
	heads = append(heads, art.Title)
	for _, ln := range strings.Split(art.Body, "\n") {
		if h, ok := strings.CutPrefix(strings.TrimSpace(ln), "#"); ok {
			heads = append(heads, strings.TrimLeft(h, "# "))
		}
	}
	var out []string
	for _, h := range heads {
		h = strings.TrimRight(strings.TrimSpace(h), ".?!:")
		if h == "" {
			continue
		}
		low := lowerFirst(h)
		ws := textclass.Tokens(h)
		switch {
		case len(ws) > 0 && strings.HasSuffix(ws[0], "ing"):
			out = append(out, "How do I go about "+low+"?", "Can you tell me about "+low+"?")
		default:
			out = append(out, "What about "+low+"?", "Can you tell me about "+low+"?")
		}
		if len(out) >= n {
			break
		}
	}
	return out[:min(n, len(out))]
}
