package bot

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestValidateEveryProblem breaks the card-services bot in many ways at
// once and checks that validation names each problem, where it is.
func TestValidateEveryProblem(t *testing.T) {
	d := loadCardBot(t)
	// An intent with too few phrases.
	d.Intents[2].Phrases = d.Intents[2].Phrases[:3]
	// A slot used before it is collected: the balance flow says the
	// digits before asking for them.
	bal := &d.Flows[1]
	bal.Steps = append([]Step{{Send: "Looking up the card ending {{last4}}."}}, bal.Steps...)
	// A skill whose plugin is not installed.
	d.Skills = append(d.Skills, Skill{Name: "freeze", Plugin: "core-banking", Input: map[string]string{"last4": "{{last4}}"}})
	// An unreachable flow, and a loop in it that never waits.
	d.Flows = append(d.Flows, Flow{Name: "orphan", Steps: []Step{
		{ID: "a", Send: "one", Next: "b"},
		{ID: "b", Skill: "freeze", Next: "a"},
	}})
	// An unreachable step: nothing goes to "keep" once the condition
	// always blocks.
	d.Flows[0].Steps[1].Else = "block"
	// A jump to a step that does not exist, a bad expression, an unknown
	// slot, a bad origin.
	d.Flows[0].Steps = append(d.Flows[0].Steps, Step{ID: "late", Goto: "nowhere"})
	d.Flows[0].Steps[1].Condition = append(d.Flows[0].Steps[1].Condition, Case{If: "confirm_block ==", Goto: "block"})
	d.Flows[2].Steps = append(d.Flows[2].Steps, Step{Collect: []string{"pin"}})
	d.Widget.AllowedOrigins = append(d.Widget.AllowedOrigins, "*")
	env := okEnv
	env.CheckSkill = func(_ context.Context, plugin, skill string) error {
		if plugin == "card-services" {
			return nil
		}
		return errors.New("plugin core-banking is not installed")
	}
	ps := Validate(t.Context(), d, env)
	type pc struct{ Path, Code string }
	var got []pc
	for _, p := range ps.Errors() {
		got = append(got, pc{p.Path, p.Code})
	}
	want := []pc{
		{"flows[anything_else].steps[1].collect", CodeUnknown},
		{"flows[balance].steps[0]", CodeUsedBefore},
		{"flows[lost_card].steps[check].condition[1].if", CodeInvalid},
		{"flows[lost_card].steps[keep]", CodeUnreachable},
		{"flows[lost_card].steps[late]", CodeUnreachable},
		{"flows[lost_card].steps[late].goto", CodeUnknown},
		{"flows[orphan]", CodeLoop},
		{"flows[orphan]", CodeUnreachable},
		{"flows[orphan].steps[b]", CodeUsedBefore},
		{"intents[fees].phrases", CodeFewPhrases},
		{"skills[freeze]", CodeSkillMissing},
		{"widget.allowed_origins[1]", CodeInvalid},
	}
	byKey := func(a, b pc) int { return strings.Compare(a.Path+" "+a.Code, b.Path+" "+b.Code) }
	slices.SortFunc(got, byKey)
	slices.SortFunc(want, byKey)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("problems (-want +got):\n%s\nall: %v", diff, ps)
	}
	// Publishing (an engine) refuses it with the same problems.
	_, _, err := NewEngine(t.Context(), DefaultConfig(), d, 2, env, Deps{})
	var inv *InvalidError
	if !errors.As(err, &inv) || len(inv.Problems) != len(want) {
		t.Errorf("NewEngine = %v, want an InvalidError with %d problems", err, len(want))
	}
}

func TestValidateCases(t *testing.T) {
	for _, tc := range []struct {
		name  string
		edit  func(*Definition)
		path  string
		code  string
		valid bool
	}{
		{"valid", func(*Definition) {}, "", "", true},
		{"bad id", func(d *Definition) { d.ID = "Card Services" }, "id", CodeInvalid, false},
		{"no queue", func(d *Definition) { d.Queue = "" }, "queue", CodeRequired, false},
		{"unknown queue", func(d *Definition) { d.Queue = "loans" }, "queue", CodeUnknown, false},
		{"one intent", func(d *Definition) { d.Intents = d.Intents[:1]; d.Flows = d.Flows[:1] }, "intents", CodeRequired, false},
		{"duplicate intent", func(d *Definition) { d.Intents[1].Name = "lost_card" }, "intents[lost_card].name", CodeDuplicate, false},
		{"intent without action", func(d *Definition) { d.Intents[2].Answer = "" }, "intents[fees]", CodeRequired, false},
		{"intent to unknown flow", func(d *Definition) { d.Intents[1].Flow = "nope" }, "intents[balance].flow", CodeUnknown, false},
		{"phrase in two intents", func(d *Definition) { d.Intents[1].Phrases[0] = "I LOST my  card" }, "intents[balance].phrases[0]", CodeAmbiguousPhras, false},
		{"bad slot type", func(d *Definition) { d.Slots[0].Type = "colour" }, "slots[last4].type", CodeInvalid, false},
		{"slot without prompt", func(d *Definition) { d.Slots[0].Prompt = "" }, "slots[last4].prompt", CodeRequired, false},
		{"bad pattern", func(d *Definition) {
			d.Slots = append(d.Slots, Slot{Name: "ref", Type: "text", Prompt: "Ref?", Pattern: "(["})
		}, "slots[ref].pattern", CodeInvalid, false},
		{"choice without options", func(d *Definition) { d.Slots = append(d.Slots, Slot{Name: "tier", Type: "choice", Prompt: "Tier?"}) }, "slots[tier].options", CodeRequired, false},
		{"prompt reads a later slot", func(d *Definition) { d.Flows[0].Steps[0].Collect = []string{"confirm_block", "last4"} }, "flows[lost_card].steps[0]", CodeUsedBefore, false},
		{"step with two actions", func(d *Definition) { d.Flows[2].Steps[0].End = "x" }, "flows[anything_else].steps[0]", CodeInvalid, false},
		{"step with no action", func(d *Definition) { d.Flows[2].Steps = append(d.Flows[2].Steps, Step{ID: "empty"}) }, "flows[anything_else].steps[empty]", CodeRequired, false},
		{"skill timeout too long", func(d *Definition) { d.Skills[0].Timeout = Duration(2 * MaxSkillTimeout) }, "skills[block_card].timeout", CodeInvalid, false},
		{"unknown variable", func(d *Definition) { d.Flows[2].Steps[0].Send = "Hello {{customer_name}}" }, "flows[anything_else].steps[0]", CodeUnknown, false},
		{"self loop", func(d *Definition) {
			d.Flows[2].Steps = []Step{{ID: "again", Send: "hi", Next: "again"}}
		}, "flows[anything_else]", CodeLoop, false},
		{"loop through a form is fine", func(d *Definition) {
			d.Flows[0].Steps[len(d.Flows[0].Steps)-1].Next = "flow:lost_card"
		}, "", "", true},
		{"agentic without model is a warning", func(d *Definition) { d.Agentic.Enabled = true }, "", "", true},
		{"handler uses a slot", func(d *Definition) { d.Handlers.Fallback = "Sorry {{last4}}" }, "handlers.fallback", CodeUnknown, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := loadCardBot(t)
			tc.edit(&d)
			ps := Validate(t.Context(), d, okEnv).Errors()
			if tc.valid {
				if len(ps) > 0 {
					t.Errorf("problems: %v", ps)
				}
				return
			}
			if !slices.ContainsFunc(ps, func(p Problem) bool { return p.Path == tc.path && p.Code == tc.code }) {
				t.Errorf("want %s at %s; got %v", tc.code, tc.path, ps)
			}
		})
	}
}

func TestExpressions(t *testing.T) {
	v := Vars{"n": 5.0, "s": "gold", "b": true, "d": "2026-01-01", "res": map[string]any{"status": "ok", "amount": 12.5}}
	for _, tc := range []struct {
		src  string
		want any
	}{
		{"n > 3 && s == 'gold'", true},
		{"n >= 6 or b", true},
		{"not b", false},
		{"res.status == \"ok\" and res.amount < 20", true},
		{"missing == null", true},
		{"missing > 3", false},
		{"days_since(d)", 41.0},
		{"days_until('2026-02-21')", 10.0},
		{"len(s) == 4", true},
		{"contains(s, 'OL')", true},
		{"empty(missing)", true},
		{"number('42') + 0 == 42", nil},
		{"b == 'yes'", true},
		{"(n == 5) == true", true},
	} {
		e, _, err := parseExpr(tc.src)
		if tc.want == nil {
			if err == nil {
				t.Errorf("parseExpr(%q) accepted", tc.src)
			}
			continue
		}
		if err != nil {
			t.Errorf("parseExpr(%q): %v", tc.src, err)
			continue
		}
		if got := e.eval(v, ref); got != tc.want {
			t.Errorf("%s = %v, want %v", tc.src, got, tc.want)
		}
	}
	if got := render("Card {{ res.status }} for {{s}}{{missing}}", v); got != "Card ok for gold" {
		t.Errorf("render = %q", got)
	}
}
