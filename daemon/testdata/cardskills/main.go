// Command cardskills is the card-services skill plugin the virtual-agent
// tests build and install: block_card blocks a card by its last four
// digits, balance gives its balance, notify_team and the ABCD actions
// (pull_up_account, validate_purchase, membership_privileges,
// enter_details, update_order) acknowledge their input. It is a real
// plugin process; what it "blocks" lives in its own memory.
//
// Configuration:
//
//	record     file to append one JSON line per call: the skill, its input
//	           and the engagement fields received (the tests check scopes)
//	mode_file  file whose content sets how calls behave, re-read per call:
//	           "ok" (default), "hang" (never answer), "panic" (crash the
//	           process), "fail" (answer an error)
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/earshot/earshot/plugins/sdk"
)

func main() {
	p := &cards{blocked: map[string]bool{}}
	sdk.Serve(&sdk.Plugin{Name: "card-services", Version: "1.0.0", Configure: p.configure, Skills: p})
}

type cards struct {
	mu      sync.Mutex
	cfg     map[string]string
	blocked map[string]bool
}

func (c *cards) configure(_ context.Context, cfg map[string]string) error {
	c.mu.Lock()
	c.cfg = cfg
	c.mu.Unlock()
	return nil
}

var skills = []sdk.Skill{
	{Name: "block_card", Description: "Block a card by its last four digits", InputSchema: `{"type":"object","properties":{"last4":{"type":"string"}}}`},
	{Name: "balance", Description: "The balance of a card", InputSchema: `{"type":"object","properties":{"last4":{"type":"string"}}}`},
	{Name: "notify_team", Description: "Tell an internal team to call the customer back"},
	{Name: "pull_up_account", Description: "Find the customer's account"},
	{Name: "validate_purchase", Description: "Check that an order belongs to the customer"},
	{Name: "membership_privileges", Description: "The return window of a membership level"},
	{Name: "enter_details", Description: "Record details on the order"},
	{Name: "update_order", Description: "Change how an order is returned"},
}

func (c *cards) Skills(context.Context) ([]sdk.Skill, error) { return skills, nil }

func (c *cards) Invoke(ctx context.Context, req sdk.InvokeRequest) (sdk.InvokeResult, error) {
	c.mu.Lock()
	cfg := c.cfg
	c.mu.Unlock()
	var in map[string]string
	if req.InputJSON != "" {
		if err := json.Unmarshal([]byte(req.InputJSON), &in); err != nil {
			return sdk.InvokeResult{}, fmt.Errorf("input: %w", sdk.ErrInvalidInput)
		}
	}
	if p := cfg["record"]; p != "" {
		line, _ := json.Marshal(map[string]any{"skill": req.Skill, "input": in, "engagement": req.Engagement})
		if f, err := os.OpenFile(p, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600); err == nil {
			f.Write(append(line, '\n'))
			f.Close()
		}
	}
	mode := "ok"
	if p := cfg["mode_file"]; p != "" {
		if b, err := os.ReadFile(p); err == nil {
			mode = strings.TrimSpace(string(b))
		}
	}
	switch mode {
	case "hang":
		<-ctx.Done()
		select {} // never answer, even after the caller gave up
	case "panic":
		panic("cardskills: asked to crash")
	case "fail":
		return sdk.InvokeResult{}, fmt.Errorf("core banking unavailable")
	}
	switch req.Skill {
	case "block_card":
		if len(in["last4"]) != 4 {
			return sdk.InvokeResult{}, fmt.Errorf("last4: %w", sdk.ErrInvalidInput)
		}
		c.mu.Lock()
		c.blocked[in["last4"]] = true
		c.mu.Unlock()
		return sdk.InvokeResult{Message: "A replacement card will arrive in 3 to 5 working days.", ResultJSON: `{"blocked":true,"reference":"BLK-` + in["last4"] + `"}`}, nil
	case "balance":
		c.mu.Lock()
		blocked := c.blocked[in["last4"]]
		c.mu.Unlock()
		return sdk.InvokeResult{ResultJSON: fmt.Sprintf(`{"balance":"1250.40","currency":"EUR","blocked":%v}`, blocked)}, nil
	case "membership_privileges":
		days := map[string]int{"gold": 100000, "silver": 183, "bronze": 90, "guest": 30}[strings.ToLower(in["membership"])]
		return sdk.InvokeResult{Message: "ok", ResultJSON: fmt.Sprintf(`{"return_days":%d}`, days)}, nil
	}
	for _, s := range skills {
		if s.Name == req.Skill {
			return sdk.InvokeResult{Message: "done", ResultJSON: `{"ok":true}`}, nil
		}
	}
	return sdk.InvokeResult{}, fmt.Errorf("skill %q: %w", req.Skill, sdk.ErrInvalidInput)
}
