package sdk_test

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/earshot/earshot/plugins/sdk"
	"github.com/earshot/earshot/plugins/sdk/sdktest"
)

// accounts is a tiny info plugin: one card per known customer.
type accounts map[string]string

func (a accounts) Cards(_ context.Context, e sdk.Engagement) ([]sdk.Card, error) {
	tier, ok := a[e.CustomerRef]
	if !ok {
		return nil, fmt.Errorf("customer: %w", sdk.ErrNotFound)
	}
	return []sdk.Card{{Title: "Account", Fields: []sdk.Field{{Key: "tier", Label: "Tier", Value: tier}}}}, nil
}

// This is how an integrator tests an info plugin in-process: sdktest serves
// it over gRPC exactly as the host would call it.
func Example() {
	plugin := &sdk.Plugin{Name: "accounts", Version: "1.0.0", Info: accounts{"C-1": "gold"}}
	conn, err := sdktest.Serve(plugin)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer conn.Close()

	cards, err := conn.Remote.Cards(context.Background(), sdk.Engagement{EngagementID: "e1", CustomerRef: "C-1"})
	fmt.Println(cards[0].Title, cards[0].Fields[0].Label, cards[0].Fields[0].Value, err)

	_, err = conn.Remote.Cards(context.Background(), sdk.Engagement{EngagementID: "e2", CustomerRef: "C-404"})
	fmt.Println(errors.Is(err, sdk.ErrNotFound))
	// Output:
	// Account Tier gold <nil>
	// true
}

// A plugin's main only calls Serve; the host starts the binary. (Not run
// here: Serve takes over the process.)
func ExampleServe() {
	sdk.Serve(&sdk.Plugin{Name: "accounts", Version: "1.0.0", Info: accounts{"C-1": "gold"}})
}

// upper is a skill plugin with one skill.
type upper struct{}

func (upper) Skills(context.Context) ([]sdk.Skill, error) {
	return []sdk.Skill{{Name: "shout", Description: "Upper-cases a text",
		InputSchema: `{"type":"object","properties":{"text":{"type":"string"}},"required":["text"]}`}}, nil
}

func (upper) Invoke(_ context.Context, req sdk.InvokeRequest) (sdk.InvokeResult, error) {
	if req.Skill != "shout" {
		return sdk.InvokeResult{}, fmt.Errorf("skill %q: %w", req.Skill, sdk.ErrInvalidInput)
	}
	return sdk.InvokeResult{ResultJSON: strings.ToUpper(req.InputJSON), Message: "Done."}, nil
}

func ExampleSkillProvider() {
	conn, err := sdktest.Serve(&sdk.Plugin{Name: "upper", Version: "0.1.0", Skills: upper{}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer conn.Close()
	ctx := context.Background()
	skills, _ := conn.Remote.Skills(ctx)
	fmt.Println(skills[0].Name)
	res, err := conn.Remote.Invoke(ctx, sdk.InvokeRequest{Skill: "shout", InputJSON: `{"text":"hi"}`})
	fmt.Println(res.ResultJSON, res.Message, err)
	// Output:
	// shout
	// {"TEXT":"HI"} Done. <nil>
}

func ExampleCheckAPIVersion() {
	fmt.Println(sdk.CheckAPIVersion("1.2.0", "1.0.3"))
	fmt.Println(sdk.CheckAPIVersion("1.2.0", "2.0.0"))
	// Output:
	// <nil>
	// sdk: plugin speaks API 2.0.0, the host speaks API 1.2.0: major versions differ, rebuild the plugin against SDK v1.x
}
