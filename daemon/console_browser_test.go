package daemon

import (
	"archive/zip"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/earshot/earshot/inference/qm"
	"github.com/earshot/earshot/internal/testdep"
	"github.com/earshot/earshot/store"
)

// browser is a headless Chromium driven through the DevTools protocol,
// recording what a page logged as an error and every answer it received.
type browser struct {
	t     *testing.T
	ctx   context.Context
	shots string

	mu sync.Mutex
	// +checklocks:mu
	errors []string
	// +checklocks:mu
	answers map[string]int // "METHOD URL" of the last request -> status
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	bin := testdep.Program(t, "chromium", "chromium")
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin), chromedp.NoSandbox, chromedp.Flag("disable-gpu", true),
		chromedp.WindowSize(1280, 800), chromedp.UserDataDir(t.TempDir()))
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelA)
	// Screenshots go to a folder named after the test, outside the tree.
	shots := filepath.Join(os.TempDir(), "earshot-console-screenshots", strings.ReplaceAll(t.Name(), "/", "_"))
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots in %s", shots)
	return attach(t, actx, shots)
}

// tab opens another tab of the same browser: its own page and session
// storage, so another user can sign in.
func (b *browser) tab() *browser { return attach(b.t, b.ctx, b.shots) }

func attach(t *testing.T, parent context.Context, shots string) *browser {
	t.Helper()
	b := &browser{t: t, shots: shots, answers: map[string]int{}}
	ctx, cancel := chromedp.NewContext(parent, chromedp.WithListener(func(ev any) {
		b.mu.Lock()
		defer b.mu.Unlock()
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			b.errors = append(b.errors, "exception: "+exceptionText(ev.ExceptionDetails))
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError {
				var parts []string
				for _, a := range ev.Args {
					parts = append(parts, string(a.Value))
				}
				b.errors = append(b.errors, "console.error: "+strings.Join(parts, " "))
			}
		case *network.EventResponseReceived:
			b.answers[ev.Response.URL] = int(ev.Response.Status)
		}
	}))
	b.ctx = ctx
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return b
}

// run runs actions with a deadline, failing the test with what the page
// showed when they do not complete.
func (b *browser) run(what string, timeout time.Duration, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, timeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		body, _ := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS("body")))
		b.shot(what + "-failed")
		b.mu.Lock()
		errs := strings.Join(b.errors, "\n")
		b.mu.Unlock()
		b.t.Fatalf("%s: %v\npage errors:\n%s\npage text:\n%s", what, err, errs, body)
	}
}

// shot saves a full-page screenshot named name.png.
func (b *browser) shot(name string) {
	b.t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return
	}
	os.WriteFile(filepath.Join(b.shots, name+".png"), png, 0o644)
}

// check fails the test for page errors and for answers that were neither
// 2xx nor in expected (URL substring -> status).
func (b *browser) check(expected map[string]int) {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, e := range b.errors {
		b.t.Errorf("the page logged %s", e)
	}
	for url, code := range b.answers {
		if code >= 200 && code < 300 {
			continue
		}
		ok := false
		for sub, want := range expected {
			ok = ok || (strings.Contains(url, sub) && code == want)
		}
		if !ok {
			b.t.Errorf("the page got %d for %s", code, url)
		}
	}
}

// waitAnswer waits until the page received the headers of an answer to a
// URL containing sub.
func (b *browser) waitAnswer(sub string, timeout time.Duration) {
	b.t.Helper()
	for deadline := time.Now().Add(timeout); ; time.Sleep(20 * time.Millisecond) {
		b.mu.Lock()
		seen := false
		for url := range b.answers {
			seen = seen || strings.Contains(url, sub)
		}
		b.mu.Unlock()
		if seen {
			return
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("the page made no request to %s within %s", sub, timeout)
		}
	}
}

// accessible runs axe-core on the page as it is and fails the test for
// every violation of impact serious or critical.
func (b *browser) accessible(page string) {
	b.t.Helper()
	src, err := os.ReadFile(filepath.Join("testdata", "axe-core", "axe.min.js"))
	if err != nil {
		b.t.Fatalf("axe-core: %v", err)
	}
	ctx, cancel := context.WithTimeout(b.ctx, 60*time.Second)
	defer cancel()
	// DevTools evaluation is not subject to the page's CSP.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[any](string(src)+";true")); err != nil {
		b.t.Fatalf("inject axe-core: %v", err)
	}
	found, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`axe.run(document, {resultTypes: ["violations"]}).then(r =>
		r.violations.filter(v => v.impact === "serious" || v.impact === "critical")
			.map(v => v.impact + " " + v.id + ": " + v.help + " at " + v.nodes.map(n => n.target.join(" ")).join(", ")))`,
		chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("run axe-core: %v", err)
	}
	for _, v := range found {
		b.t.Errorf("accessibility of %s: %s", page, v)
	}
}

// fitsTablet checks the page as it is on a 10-inch tablet held upright
// (800×1280 CSS pixels, touch): nothing makes the page scroll sideways.
// The window goes back to 1280×800 after.
func (b *browser) fitsTablet(page string) {
	b.t.Helper()
	b.run("show "+page+" on a tablet", 20*time.Second, chromedp.EmulateViewport(800, 1280, chromedp.EmulatePortrait, chromedp.EmulateTouch))
	over, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth - document.documentElement.clientWidth`))
	if err != nil || over > 0 {
		b.t.Errorf("%s on a tablet: the page is %d px wider than the screen (%v)", page, over, err)
	}
	b.shot(strings.ReplaceAll(page, " ", "-") + "-tablet")
	b.run("back to 1280×800", 20*time.Second, chromedp.EmulateViewport(1280, 800))
}

func (b *browser) signIn(base, token string) {
	b.t.Helper()
	b.run("sign in", 30*time.Second,
		chromedp.Navigate(base+"/console/"),
		chromedp.WaitVisible(chromedp.CSS("#token")),
		chromedp.SendKeys(chromedp.CSS("#token"), token),
		chromedp.Click(chromedp.CSS(`#login-form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS("#nav a")),
	)
}

func (b *browser) navLabels() []string {
	b.t.Helper()
	labels, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#nav a")].map(a => a.textContent)`))
	if err != nil {
		b.t.Fatalf("read the navigation: %v", err)
	}
	return labels
}

// TestConsoleAgentDesktop: an agent signs in, opens a live chat, sees the
// customer's message and a knowledge card appear as the customer writes,
// and after the end saves the wrap-up, which the API then returns. The
// page logs no error and every request it made is answered 2xx.
func TestConsoleAgentDesktop(t *testing.T) {
	td := startDaemon(t, nil)
	b := newBrowser(t)
	td.mustCall(t, td.Admin, "POST", "/api/v1/queues", queueRequest{ID: "cards"}, 201)
	agent := td.tokenFor(t, "ana", RoleAgent, "cards")
	ingest := td.tokenFor(t, "web", RoleIngest, "cards") // an ingest user feeds its own queues
	td.mustCall(t, td.Admin, "PUT", "/api/v1/kb/articles/block-card", map[string]any{"title": "Blocking a stolen card",
		"body": "When a customer reports a stolen card, block the card at once and order a replacement card.", "queue": "cards"}, 200)
	var e store.Engagement
	json.Unmarshal(td.mustCall(t, ingest, "POST", "/api/v1/engagements", engagementRequest{Queue: "cards", Agent: "ana", Channel: "chat"}, 201), &e)

	b.run("open the sign-in page", 30*time.Second, chromedp.Navigate(td.URL+"/console/"), chromedp.WaitVisible(chromedp.CSS("#token")))
	b.accessible("the sign-in page")
	b.signIn(td.URL, agent)
	if got := b.navLabels(); strings.Join(got, ",") != "Engagements,Quality,Knowledge,Features" {
		t.Errorf("agent's navigation = %v", got)
	}
	b.run("open the engagement list", 20*time.Second, chromedp.WaitVisible(chromedp.CSS(`#view a[href="#engagements/`+e.ID+`"]`)))
	b.run("open the live engagement", 20*time.Second,
		chromedp.Click(chromedp.CSS(`#view a[href="#engagements/`+e.ID+`"]`)),
		chromedp.WaitVisible(chromedp.CSS(".transcript")))
	// The page follows the event stream once its answer's headers came.
	b.waitAnswer("/api/v1/engagements/"+e.ID+"/events", 20*time.Second)
	td.mustCall(t, ingest, "POST", "/api/v1/engagements/"+e.ID+"/messages", messageRequest{Sender: "customer", Text: "Hello, my card was stolen yesterday and I need to block the card."}, 201)
	b.run("see the customer's line and a knowledge card", 20*time.Second,
		chromedp.WaitVisible(chromedp.Search(`//div[contains(@class,"utt") and contains(@class,"customer")]//span[contains(., "card was stolen")]`)),
		chromedp.WaitVisible(chromedp.Search(`//div[contains(@class,"card kb")]//a[contains(., "Blocking a stolen card")]`)))
	b.shot("agent-live")
	b.accessible("the agent desktop, live")
	b.fitsTablet("the agent desktop")
	// Page weight: everything the desktop loaded so far (the page, its
	// script and style, the API's answers), uncompressed; all of it from
	// the daemon.
	type pageWeight struct {
		Static, API int
		Foreign     []string
	}
	weight, err := chromedp.Run(b.ctx, chromedp.Evaluate[pageWeight](`(() => {
		const w = { Static: 0, API: 0, Foreign: [] };
		for (const e of [...performance.getEntriesByType("navigation"), ...performance.getEntriesByType("resource")]) {
			if (new URL(e.name).origin !== location.origin) w.Foreign.push(e.name);
			if (new URL(e.name).pathname.startsWith("/api/")) w.API += e.decodedBodySize; else w.Static += e.decodedBodySize;
		}
		return w;
	})()`))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("agent desktop weight: static %d bytes, API answers %d bytes (uncompressed)", weight.Static, weight.API)
	if weight.Static+weight.API > 300_000 || weight.Static < 10_000 || len(weight.Foreign) > 0 {
		t.Errorf("agent desktop: static %d + API %d bytes (want < 300 kB), requests elsewhere: %v", weight.Static, weight.API, weight.Foreign)
	}

	td.mustCall(t, ingest, "POST", "/api/v1/engagements/"+e.ID+"/end", nil, 202)
	reason := "Stolen card blocked from the console " + fmt.Sprint(time.Now().UnixNano())
	b.run("complete the wrap-up", 30*time.Second,
		chromedp.WaitVisible(chromedp.CSS("#wu-reason")),
		chromedp.SetValue(chromedp.CSS("#wu-reason"), reason),
		chromedp.Click(chromedp.CSS(`.wrapup-form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.Search(`//form[contains(@class,"wrapup-form")]//p[contains(., "Saved.")]`)))
	b.shot("agent-wrapup")
	b.accessible("the agent desktop, wrap-up")

	var res struct {
		Results map[string]json.RawMessage `json:"results"`
	}
	json.Unmarshal(td.mustCall(t, agent, "GET", "/api/v1/engagements/"+e.ID+"/results", nil, 200), &res)
	if !strings.Contains(string(res.Results["notes"]), reason) {
		t.Errorf("saved notes = %s, want the reason typed in the console", res.Results["notes"])
	}
	b.check(nil)
}

// TestConsoleAuditorSeesOnlyTheAuditLog: an auditor's console offers the
// audit log and nothing else, and opening another page by its address
// lands on the audit log without a request the auditor may not make.
func TestConsoleAuditorSeesOnlyTheAuditLog(t *testing.T) {
	td := startDaemon(t, nil)
	b := newBrowser(t)
	auditor := td.tokenFor(t, "aud", RoleAuditor)
	b.signIn(td.URL, auditor)
	if got := b.navLabels(); strings.Join(got, ",") != "Audit" {
		t.Errorf("auditor's navigation = %v, want only Audit", got)
	}
	b.run("read the audit log", 20*time.Second,
		chromedp.WaitVisible(chromedp.Search(`//h2[.="Audit log"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#view table tbody tr`)))
	b.run("try the engagements page", 20*time.Second,
		// A hash change, as a typed address or a bookmark would make it.
		chromedp.Evaluate[chromedp.Void](`location.hash = "engagements"; undefined`),
		chromedp.WaitVisible(chromedp.Search(`//h2[.="Audit log"]`)))
	b.shot("auditor")
	b.accessible("the audit log")
	b.check(nil)
}

// TestConsoleSupervisorBoard: a supervisor's board ranks a live chat whose
// customer turns angry, as the customer writes.
func TestConsoleSupervisorBoard(t *testing.T) {
	td := startDaemon(t, nil)
	b := newBrowser(t)
	td.mustCall(t, td.Admin, "POST", "/api/v1/queues", queueRequest{ID: "cards"}, 201)
	sup := td.tokenFor(t, "sam", RoleSupervisor, "cards")
	td.tokenFor(t, "ana", RoleAgent, "cards")
	ingest := td.tokenFor(t, "web", RoleIngest, "cards") // an ingest user feeds its own queues
	var e store.Engagement
	json.Unmarshal(td.mustCall(t, ingest, "POST", "/api/v1/engagements", engagementRequest{Queue: "cards", Agent: "ana", Channel: "chat"}, 201), &e)
	b.signIn(td.URL, sup)
	if got := b.navLabels(); strings.Join(got, ",") != "Engagements,Board,Quality,Topics,Reports,Knowledge,Ask,Forecasts,Schedules,Features" {
		t.Errorf("supervisor's navigation = %v", got)
	}
	b.run("open the board", 20*time.Second, chromedp.Click(chromedp.CSS(`#nav a[href="#board"]`)), chromedp.WaitVisible(chromedp.Search(`//h2[.="Escalation board"]`)))
	for _, text := range []string{
		"This is ridiculous, it is the third time this happens.",
		"I want to speak to a manager right now, I will cancel my account and complain.",
	} {
		td.mustCall(t, ingest, "POST", "/api/v1/engagements/"+e.ID+"/messages", messageRequest{Sender: "customer", Text: text}, 201)
	}
	b.run("see the engagement rise on the board", 30*time.Second,
		chromedp.WaitVisible(chromedp.CSS(`#view a[href="#engagements/`+e.ID+`"]`)),
		chromedp.WaitVisible(chromedp.Search(`//td/span[contains(@class,"risk-high") or contains(@class,"risk-medium")]`)))
	b.shot("supervisor-board")
	b.accessible("the escalation board")
	b.check(nil)
}

func exceptionText(d *runtime.ExceptionDetails) string {
	if d == nil {
		return "?"
	}
	if d.Exception != nil && d.Exception.Description != "" {
		return d.Exception.Description
	}
	return d.Text
}

// TestConsoleAnalystForecast: an analyst opens the forecast of their queue
// and sees its chart with the interval bands.
func TestConsoleAnalystForecast(t *testing.T) {
	td := startDaemon(t, nil)
	b := newBrowser(t)
	td.mustCall(t, td.Admin, "POST", "/api/v1/queues", queueRequest{ID: "cards"}, 201)
	analyst := td.tokenFor(t, "ann", RoleAnalyst, "cards")
	td.mustCall(t, analyst, "POST", "/api/v1/queues/cards/forecast", forecastHistoryBody, 200) // stored
	b.signIn(td.URL, analyst)
	if got := b.navLabels(); strings.Join(got, ",") != "Engagements,Quality,Topics,Reports,Knowledge,Ask,Forecasts,Schedules,Features" {
		t.Errorf("analyst's navigation = %v", got)
	}
	b.run("open the forecast", 30*time.Second,
		chromedp.Click(chromedp.CSS(`#nav a[href="#forecasts"]`)),
		chromedp.WaitVisible(chromedp.CSS(`svg.chart polyline.value`)),
		chromedp.WaitVisible(chromedp.CSS(`svg.chart polygon.band95`)))
	n, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](`document.querySelector("svg.chart polyline.value").points.length`))
	if err != nil || n < 96 {
		t.Errorf("the chart's line has %d points (%v); want at least a day of intervals", n, err)
	}
	b.shot("analyst-forecast")
	b.accessible("the forecast page")
	b.check(nil)
}

// TestConsoleAdminSwitchesCardsOff: an agent follows a live chat and gets a
// knowledge card; an administrator, in another tab, switches kb_retrieval
// off for the queue in the feature settings page; the agent's next
// messages bring no card.
func TestConsoleAdminSwitchesCardsOff(t *testing.T) {
	td := startDaemon(t, nil)
	b := newBrowser(t)
	td.mustCall(t, td.Admin, "POST", "/api/v1/queues", queueRequest{ID: "cards"}, 201)
	agent := td.tokenFor(t, "ana", RoleAgent, "cards")
	ingest := td.tokenFor(t, "web", RoleIngest, "cards") // an ingest user feeds its own queues
	for id, a := range map[string][2]string{
		"block-card": {"Blocking a stolen card", "When a customer reports a stolen card, block the card at once and order a replacement card."},
		"mortgage":   {"Mortgage payment holiday", "A mortgage payment holiday pauses the monthly mortgage payment for up to three months."},
	} {
		td.mustCall(t, td.Admin, "PUT", "/api/v1/kb/articles/"+id, map[string]any{"title": a[0], "body": a[1], "queue": "cards"}, 200)
	}
	var e store.Engagement
	json.Unmarshal(td.mustCall(t, ingest, "POST", "/api/v1/engagements", engagementRequest{Queue: "cards", Agent: "ana", Channel: "chat"}, 201), &e)
	say := func(text string) {
		td.mustCall(t, ingest, "POST", "/api/v1/engagements/"+e.ID+"/messages", messageRequest{Sender: "customer", Text: text}, 201)
	}

	b.signIn(td.URL, agent)
	b.run("open the live engagement", 20*time.Second,
		chromedp.Click(chromedp.CSS(`#view a[href="#engagements/`+e.ID+`"]`)),
		chromedp.WaitVisible(chromedp.CSS(".transcript")))
	b.waitAnswer("/api/v1/engagements/"+e.ID+"/events", 20*time.Second)
	say("Hello, my card was stolen yesterday and I need to block the card.")
	b.run("see a knowledge card", 20*time.Second, chromedp.WaitVisible(chromedp.Search(`//div[contains(@class,"card kb")]//a[contains(., "Blocking a stolen card")]`)))

	admin := b.tab()
	admin.signIn(td.URL, td.Admin)
	admin.run("switch kb_retrieval off for the queue", 30*time.Second,
		chromedp.Click(chromedp.CSS(`#nav a[href="#settings"]`)),
		chromedp.WaitVisible(chromedp.CSS("#fs-level")),
		chromedp.SetValue(chromedp.CSS("#fs-level"), "queues/cards"),
		chromedp.Evaluate[chromedp.Void](`document.querySelector("#fs-level").dispatchEvent(new Event("change")); undefined`),
		chromedp.WaitVisible(chromedp.Search(`//h2[.="Feature settings · queue cards"]`)),
		chromedp.SetValue(chromedp.CSS("#fs-kb_retrieval"), "off"),
		chromedp.Evaluate[chromedp.Void](`document.querySelector("#fs-kb_retrieval").dispatchEvent(new Event("change")); undefined`),
		chromedp.WaitVisible(chromedp.Search(`//p[contains(., "kb_retrieval saved.")]`)))
	admin.shot("admin-feature-settings")
	admin.accessible("the feature settings page")
	var fs struct {
		Settings FeatureSettings `json:"settings"`
	}
	json.Unmarshal(td.mustCall(t, td.Admin, "GET", "/api/v1/settings/features", nil, 200), &fs)
	if s := fs.Settings.Queues["cards"]["kb_retrieval"]; s.Enabled == nil || *s.Enabled {
		t.Fatalf("queue cards kb_retrieval = %+v after the console switched it off", s)
	}

	say("Can I get a mortgage payment holiday for my monthly mortgage payment?")
	say("Thank you.")
	// Events arrive in order: once the last line is shown, a card for the
	// mortgage question would have been shown before it.
	b.run("see the later lines", 20*time.Second, chromedp.WaitVisible(chromedp.Search(`//span[contains(@class,"text") and .="Thank you."]`)))
	cards, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](`document.querySelectorAll(".card.kb .suggestion").length`))
	if err != nil || cards != 1 {
		t.Errorf("knowledge cards after the switch = %d (%v), want still the 1 from before", cards, err)
	}
	b.shot("agent-after-switch")
	b.check(nil)
	admin.check(nil)
}

// TestConsoleAdminIssuesToken: an administrator adds a user, issues a
// token shown once, which then works against the API, and revokes it; then
// hands the user a one-time sign-in link, which signs them in once.
func TestConsoleAdminIssuesToken(t *testing.T) {
	td := startDaemon(t, nil)
	b := newBrowser(t)
	td.mustCall(t, td.Admin, "POST", "/api/v1/queues", queueRequest{ID: "cards"}, 201)
	b.signIn(td.URL, td.Admin)
	b.run("add a user", 30*time.Second,
		chromedp.Click(chromedp.CSS(`#nav a[href="#directory"]`)),
		chromedp.WaitVisible(chromedp.CSS("#nu-id")),
		chromedp.SendKeys(chromedp.CSS("#nu-id"), "zoe"),
		chromedp.SendKeys(chromedp.CSS("#nu-queues"), "cards"),
		chromedp.Click(chromedp.CSS(`#nu-licensed`)),
		chromedp.Click(chromedp.Search(`//button[.="Add user"]`)),
		chromedp.WaitVisible(chromedp.Search(`//p[@id="dir-status" and .="User zoe added."]`)),
		chromedp.Click(chromedp.CSS(`button[data-issue="zoe"]`)),
		chromedp.WaitVisible(chromedp.CSS("#secret-value")))
	secret, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS("#secret-value")))
	if err != nil {
		t.Fatal(err)
	}
	b.accessible("the users page")
	var who struct {
		User struct {
			ID       string   `json:"id"`
			Role     string   `json:"role"`
			Queues   []string `json:"queues"`
			Licensed bool     `json:"licensed"`
		} `json:"user"`
		TokenID string `json:"token_id"`
	}
	json.Unmarshal(td.mustCall(t, strings.TrimSpace(secret), "GET", "/api/v1/whoami", nil, 200), &who)
	if who.User.ID != "zoe" || who.User.Role != "agent" || strings.Join(who.User.Queues, ",") != "cards" || !who.User.Licensed {
		t.Fatalf("the issued token is %+v", who)
	}
	b.run("revoke the token", 30*time.Second,
		chromedp.Click(chromedp.CSS(`button[data-revoke="`+who.TokenID+`"]`)),
		chromedp.WaitVisible(chromedp.Search(`//p[@id="dir-status" and contains(., "revoked")]`)))
	td.mustCall(t, strings.TrimSpace(secret), "GET", "/api/v1/whoami", nil, 401)
	b.shot("admin-users")

	// A one-time sign-in link: it signs zoe in once, and the code leaves
	// the address bar.
	b.run("create a sign-in link", 30*time.Second,
		chromedp.Click(chromedp.CSS(`button[data-link="zoe"]`)),
		chromedp.WaitVisible(chromedp.CSS("#link-value")))
	link, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS("#link-value")))
	if err != nil {
		t.Fatal(err)
	}
	link = strings.TrimSpace(link)
	if !strings.HasPrefix(link, td.URL+"/console/#sign-in="+signInCodePrefix) {
		t.Fatalf("sign-in link %q", link)
	}
	b.shot("admin-sign-in-link")
	b.accessible("the users page with a sign-in link")
	zoe := b.tab()
	zoe.run("open the sign-in link", 30*time.Second,
		chromedp.Navigate(link),
		chromedp.WaitVisible(chromedp.CSS("#nav a")),
		chromedp.WaitVisible(chromedp.Search(`//span[@id="who" and contains(., "zoe (agent)")]`)))
	address, err := chromedp.Run(zoe.ctx, chromedp.Evaluate[string](`location.href`))
	if err != nil || strings.Contains(address, "sign-in") || strings.Contains(address, signInCodePrefix) {
		t.Errorf("the address after sign-in is %q (%v): the code must be gone", address, err)
	}
	session, err := chromedp.Run(zoe.ctx, chromedp.Evaluate[string](`sessionStorage.getItem("earshot-token")`))
	if err != nil {
		t.Fatal(err)
	}
	json.Unmarshal(td.mustCall(t, session, "GET", "/api/v1/whoami", nil, 200), &who)
	if who.User.ID != "zoe" {
		t.Errorf("the link's session is %+v", who)
	}
	zoe.shot("signed-in-by-link")
	again := b.tab()
	again.run("open the used link", 30*time.Second,
		chromedp.Navigate(link),
		chromedp.WaitVisible(chromedp.Search(`//p[@id="login-error" and contains(., "not valid any more")]`)))
	again.shot("used-link")
	// A link may name the page to open once signed in.
	var l struct{ Path string }
	json.Unmarshal(td.mustCall(t, td.Admin, "POST", "/api/v1/sign-in-links", map[string]string{"user_id": "zoe"}, 201), &l)
	opened := b.tab()
	opened.run("open a link to a page", 30*time.Second,
		chromedp.Navigate(td.URL+l.Path+"&open=knowledge"),
		chromedp.WaitVisible(chromedp.Search(`//h2[@id="page-title" and .="Knowledge"]`)))
	if address, err := chromedp.Run(opened.ctx, chromedp.Evaluate[string](`location.href`)); err != nil || !strings.HasSuffix(address, "/console/#knowledge") {
		t.Errorf("the address after a link to a page is %q (%v), want the page without the code", address, err)
	}
	b.check(nil)
	zoe.check(nil)
	opened.check(nil)
	again.check(map[string]int{"/api/v1/sign-in": 401})
}

// TestConsoleQuality: a supervisor reviews an automatic evaluation (accepts
// one answer, overrides another with a comment), follows its evidence to
// the transcript line, and opens topics and reports; the agent disputes
// the evaluation from their own console.
func TestConsoleQuality(t *testing.T) {
	td := startDaemon(t, nil)
	b := newBrowser(t)
	td.mustCall(t, td.Admin, "POST", "/api/v1/queues", queueRequest{ID: "cards"}, 201)
	td.mustCall(t, td.Admin, "PUT", "/api/v1/settings/features/account/auto_qm", map[string]any{"enabled": true}, 200)
	sup := td.tokenFor(t, "sue", RoleSupervisor, "cards")
	ann := td.tokenFor(t, "ann", RoleAgent, "cards")
	ingest := td.tokenFor(t, "pbx", RoleIngest, "cards")
	td.mustCall(t, td.Admin, "POST", "/api/v1/scorecards", testScorecardBody("basics"), 201)
	id := uploadCall(t, td, ingest, "cards", "ann", serviceCall())
	evID := id + ".basics"

	b.signIn(td.URL, sup)
	b.run("open the evaluation", 30*time.Second,
		chromedp.Click(chromedp.CSS(`#nav a[href="#quality"]`)),
		chromedp.Click(chromedp.CSS(`#view a[href="#quality/`+evID+`"]`)),
		chromedp.WaitVisible(chromedp.CSS("#review-form")))
	b.accessible("the evaluation review")
	b.run("review it", 30*time.Second,
		chromedp.SetValue(chromedp.CSS("#rv-greet"), "accept"),
		chromedp.SetValue(chromedp.CSS("#rv-empathy"), "override:no"),
		chromedp.SendKeys(chromedp.CSS("#rc-empathy"), "read from a script"),
		chromedp.Click(chromedp.CSS(`#review-form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.Search(`//p[@id="ev-msg" and .="Review saved."]`)))
	b.shot("evaluation-reviewed")
	var ev qm.Evaluation
	json.Unmarshal(td.mustCall(t, sup, "GET", "/api/v1/evaluations/"+evID, nil, 200), &ev)
	got := map[string]string{}
	for _, a := range ev.Answers {
		if a.Review != nil {
			got[a.Question] = a.Review.Action + " " + a.Value + " " + a.Review.Comment
		}
	}
	if ev.Status != qm.StatusReviewed || got["greet"] != "accept yes " || got["empathy"] != "override no read from a script" {
		t.Fatalf("after the console's review: status %s, reviews %q", ev.Status, got)
	}
	// The evidence of the greeting jumps to its transcript line.
	var seq int
	for _, a := range ev.Answers {
		if a.Question == "greet" && len(a.Evidence) > 0 {
			seq = a.Evidence[0].Seq
		}
	}
	b.run("follow the evidence", 30*time.Second,
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`a.evidence[href="#engagements/%s/%d"]`, id, seq))),
		chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`.utt.hit[data-seq="%d"]`, seq))),
		chromedp.WaitVisible(chromedp.CSS(".card.analytics")))
	focused, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.activeElement.dataset.seq || ""`))
	if err != nil || focused != fmt.Sprint(seq) {
		t.Errorf("focus after following the evidence is on line %q (%v), want %d", focused, err, seq)
	}
	b.shot("evidence-line")
	b.accessible("the engagement with its analytics")
	b.run("open topics", 30*time.Second,
		chromedp.Click(chromedp.CSS(`#nav a[href="#topics"]`)),
		chromedp.WaitVisible(chromedp.Search(`//h2[.="Topics"]`)),
		chromedp.WaitVisible(chromedp.Search(`//button[.="Discover topics now"]`)))
	b.accessible("the topics page")
	b.run("open reports", 30*time.Second,
		chromedp.Click(chromedp.CSS(`#nav a[href="#reports"]`)),
		chromedp.WaitVisible(chromedp.CSS(`svg.chart.bars rect.bar`)))
	bars, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](`document.querySelectorAll("svg.chart.bars rect.bar").length`))
	if err != nil || bars != 2 { // one queue: one bar of engagements, one of scores
		t.Errorf("report bars = %d (%v), want 2", bars, err)
	}
	b.shot("reports")
	b.accessible("the reports page")
	b.fitsTablet("the reports page")

	agent := b.tab()
	agent.signIn(td.URL, ann)
	agent.run("dispute the evaluation", 30*time.Second,
		chromedp.Click(chromedp.CSS(`#nav a[href="#quality"]`)),
		chromedp.Click(chromedp.CSS(`#view a[href="#quality/`+evID+`"]`)),
		chromedp.WaitVisible(chromedp.CSS("#dispute-form")),
		chromedp.SendKeys(chromedp.CSS("#dispute-comment"), "I did apologise"),
		chromedp.Click(chromedp.CSS(`#dispute-form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.Search(`//p[@id="ev-msg" and contains(., "Disputed")]`)))
	agent.shot("agent-disputed")
	agent.accessible("the agent's evaluation")
	json.Unmarshal(td.mustCall(t, ann, "GET", "/api/v1/evaluations/"+evID, nil, 200), &ev)
	if ev.Status != qm.StatusDisputed || ev.History[len(ev.History)-1].Comment != "I did apologise" {
		t.Errorf("after the agent's dispute: %s %+v", ev.Status, ev.History)
	}
	b.check(nil)
	agent.check(nil)
}

// TestConsoleSchedules: an analyst uploads a roster CSV, makes a week's
// schedule from the stored forecast, and opens its coverage, each agent's
// week and the intraday view of the rest of today.
func TestConsoleSchedules(t *testing.T) {
	td := startDaemon(t, nil)
	b := newBrowser(t)
	td.mustCall(t, td.Admin, "POST", "/api/v1/queues", queueRequest{ID: "billing"}, 201)
	analyst := td.tokenFor(t, "ana", RoleAnalyst, "billing")
	td.mustCall(t, analyst, "POST", "/api/v1/queues/billing/forecast?days=21", map[string]any{"points": wfmHistory()}, 200)
	roster := filepath.Join(t.TempDir(), "team-a.csv")
	if err := os.WriteFile(roster, []byte(wfmRosterCSV(12, "billing")), 0o600); err != nil {
		t.Fatal(err)
	}
	today := time.Now().UTC().Format(time.DateOnly)

	b.signIn(td.URL, analyst)
	b.run("upload a roster", 30*time.Second,
		chromedp.Click(chromedp.CSS(`#nav a[href="#schedules"]`)),
		chromedp.WaitVisible(chromedp.CSS("#ro-file")),
		chromedp.SendKeys(chromedp.CSS("#ro-id"), "team-a"),
		chromedp.SetUploadFiles(chromedp.CSS("#ro-file"), []string{roster}),
		chromedp.Click(chromedp.Search(`//button[.="Upload roster"]`)),
		chromedp.WaitVisible(chromedp.Search(`//p[@id="wfm-msg" and .="Roster stored."]`)))
	b.accessible("the schedules page")
	b.run("make a schedule", 90*time.Second,
		chromedp.SendKeys(chromedp.CSS("#sc-id"), "week-1"),
		chromedp.SetValue(chromedp.CSS("#sc-start"), today),
		chromedp.Click(chromedp.Search(`//button[.="Make the schedule"]`)),
		chromedp.WaitVisible(chromedp.Search(`//h2[.="Schedule week-1"]`)),
		chromedp.WaitVisible(chromedp.CSS(`svg.server-chart`)))
	charts, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](`document.querySelectorAll("svg.server-chart").length`))
	if err != nil || charts != 2 {
		t.Errorf("schedule charts = %d (%v), want coverage and week", charts, err)
	}
	var recs []struct {
		ID      string            `json:"id"`
		Summary map[string]string `json:"summary"`
	}
	json.Unmarshal(td.mustCall(t, analyst, "GET", "/api/v1/wfm/schedules", nil, 200), &recs)
	if len(recs) != 1 || recs[0].ID != "week-1" || recs[0].Summary["start"] != today || recs[0].Summary["days"] != "7" {
		t.Fatalf("stored schedules = %+v", recs)
	}
	b.run("open intraday", 30*time.Second,
		chromedp.Click(chromedp.Search(`//button[.="Show the rest of the day"]`)),
		chromedp.WaitVisible(chromedp.Search(`//caption[.="The rest of the day"]/..//tbody/tr`)))
	b.shot("schedule")
	b.accessible("the schedule page")
	b.check(nil)
}

// consoleAddressBot is matrixBot("b1") with an intent and flow more, as
// an administrator types it; consoleBrokenBot has three problems (one
// intent, an unknown flow, too few phrases).
const consoleAddressBot = `id: b1
name: Matrix bot
queue: q1
settings: {min_phrases: 3}
widget: {enabled: true}
intents:
  - {name: fees, answer: kb, phrases: [what are your fees, how much does it cost, fee for a card]}
  - {name: block, flow: block, phrases: [block my card, I lost my card, my card was stolen]}
  - {name: address, flow: address, phrases: [change my address, I moved house, update my postal address]}
flows:
  - {name: block, steps: [{send: Call us to block it.}]}
  - {name: address, steps: [{send: Your address can be changed in the app.}]}
`

const consoleBrokenBot = `id: b1
name: Matrix bot
queue: q1
settings: {min_phrases: 3}
intents:
  - {name: fees, flow: nowhere, phrases: [what are your fees]}
`

// TestConsoleAdministration: an administrator writes a knowledge article
// and imports an archive of them; edits a bot's draft (every problem
// named), chats with the draft, validates and publishes it, publishes a
// second version and rolls back to the first, tries a message on it; and applies retention and rotates the keys;
// the plugins page tells that none is installed.
func TestConsoleAdministration(t *testing.T) {
	td := startDaemon(t, nil)
	b := newBrowser(t)
	td.mustCall(t, td.Admin, "POST", "/api/v1/queues", queueRequest{ID: "q1"}, 201)
	td.mustCall(t, td.Admin, "PUT", "/api/v1/settings/features/queues/q1/virtual_agent", map[string]any{"enabled": true}, 200)
	td.mustCall(t, td.Admin, "POST", "/api/v1/bots", matrixBot("b1"), 201)
	archive := filepath.Join(t.TempDir(), "articles.zip")
	f, err := os.Create(archive)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	w, _ := zw.Create("fees.md")
	fmt.Fprint(w, "# Card fees\n\nA replacement card costs nothing; express delivery costs five pounds.\n")
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()

	b.signIn(td.URL, td.Admin)
	b.run("write an article", 30*time.Second,
		chromedp.Click(chromedp.CSS(`#nav a[href="#articles"]`)),
		chromedp.WaitVisible(chromedp.CSS("#article-form")),
		chromedp.SendKeys(chromedp.CSS("#ka-id"), "block-card"),
		chromedp.SendKeys(chromedp.CSS("#ka-title"), "Blocking a card"),
		chromedp.SendKeys(chromedp.CSS("#ka-body"), "Press block on the card screen."),
		chromedp.Click(chromedp.Search(`//button[.="Save article"]`)),
		chromedp.WaitVisible(chromedp.Search(`//h3[.="Edit Blocking a card"]`)))
	var art struct{ Title, Body string }
	json.Unmarshal(td.mustCall(t, td.Admin, "GET", "/api/v1/kb/articles/block-card", nil, 200), &art)
	if art.Title != "Blocking a card" || art.Body != "Press block on the card screen." {
		t.Errorf("the article written in the console is %+v", art)
	}
	b.run("import an archive", 30*time.Second,
		chromedp.SetUploadFiles(chromedp.CSS("#kb-archive"), []string{archive}),
		chromedp.Click(chromedp.Search(`//button[.="Import"]`)),
		chromedp.WaitVisible(chromedp.Search(`//p[@id="kb-msg" and contains(., "1 added")]`)))
	b.accessible("the articles page")

	b.run("open the bot's draft", 30*time.Second,
		chromedp.Click(chromedp.CSS(`#nav a[href="#bots"]`)),
		chromedp.Click(chromedp.CSS(`#view a[href="#bots/b1"]`)),
		chromedp.WaitVisible(chromedp.CSS("#bot-def")))
	if src, _ := chromedp.Run(b.ctx, chromedp.Value(chromedp.CSS("#bot-def"))); !strings.Contains(src, "id: b1") || !strings.Contains(src, "what are your fees") {
		t.Errorf("the draft editor shows %q, want the draft as YAML", src)
	}
	// A draft with problems is saved, every problem named.
	b.run("save a draft with problems", 30*time.Second,
		chromedp.SetValue(chromedp.CSS("#bot-def"), consoleBrokenBot),
		chromedp.Click(chromedp.Search(`//button[.="Save the draft"]`)),
		chromedp.WaitVisible(chromedp.Search(`//p[@id="bot-msg" and contains(., "with 3 problems")]`)),
		chromedp.WaitVisible(chromedp.Search(`//div[@id="bot-problems"]//li[contains(., "nowhere")]`)))
	b.shot("bot-problems")
	b.run("fix the draft and chat with it", 60*time.Second,
		chromedp.SetValue(chromedp.CSS("#bot-def"), consoleAddressBot),
		chromedp.Click(chromedp.Search(`//button[.="Save the draft"]`)),
		chromedp.WaitVisible(chromedp.Search(`//p[@id="bot-msg" and .="The draft is saved."]`)),
		chromedp.SendKeys(chromedp.CSS("#bot-chat-text"), "I moved house, change my address"),
		chromedp.Click(chromedp.Search(`//form[@id="bot-chat"]//button[.="Send"]`)),
		chromedp.WaitVisible(chromedp.Search(`//ol[@id="bot-chat-log"]/li[contains(., "Your address can be changed in the app.")]`)),
		chromedp.WaitVisible(chromedp.Search(`//ol[@id="bot-chat-log"]/li[contains(., "intent address")]`)))
	b.shot("bot-test-chat")
	b.accessible("the bot page with a test chat")
	b.run("validate and publish a bot", 60*time.Second,
		chromedp.Click(chromedp.Search(`//button[.="Validate the draft"]`)),
		chromedp.WaitVisible(chromedp.Search(`//p[@id="bot-msg" and .="The draft is valid."]`)),
		chromedp.Click(chromedp.Search(`//button[.="Publish the draft"]`)),
		chromedp.WaitVisible(chromedp.Search(`//p[@id="bot-msg" and .="Published."]`)),
		chromedp.SendKeys(chromedp.CSS("#bot-text"), "someone stole my card, block it"),
		chromedp.Click(chromedp.CSS(`#bot-try button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.Search(`//p[contains(., "Intent:")]/strong[.="block"]`)))
	b.run("publish a second version and roll back to the first", 60*time.Second,
		chromedp.Click(chromedp.Search(`//button[.="Save the draft"]`)),
		chromedp.WaitVisible(chromedp.Search(`//p[@id="bot-msg" and .="The draft is saved."]`)),
		chromedp.Click(chromedp.Search(`//button[.="Publish the draft"]`)),
		chromedp.WaitVisible(chromedp.Search(`//p[@id="bot-msg" and .="Published."]`)),
		chromedp.WaitVisible(chromedp.Search(`//button[.="Make v1 live"]`)))
	var bv struct{ Bot botView }
	json.Unmarshal(td.mustCall(t, td.Admin, "GET", "/api/v1/bots/b1", nil, 200), &bv)
	if bv.Bot.Published != 2 {
		t.Errorf("bot published version = %d after the console published twice", bv.Bot.Published)
	}
	b.run("roll back", 30*time.Second,
		chromedp.Click(chromedp.Search(`//button[.="Make v1 live"]`)),
		chromedp.WaitVisible(chromedp.Search(`//p[@id="bot-msg" and .="Version 1 is live again."]`)))
	b.shot("bot")
	b.accessible("the bot page")
	json.Unmarshal(td.mustCall(t, td.Admin, "GET", "/api/v1/bots/b1", nil, 200), &bv)
	if bv.Bot.Published != 1 {
		t.Errorf("bot live version = %d after the console rolled back to 1", bv.Bot.Published)
	}

	b.run("open plugins", 30*time.Second,
		chromedp.Click(chromedp.CSS(`#nav a[href="#plugins"]`)),
		chromedp.WaitVisible(chromedp.Search(`//p[contains(., "No plugin installed")]`)))
	b.accessible("the plugins page")
	b.run("apply retention and rotate keys", 60*time.Second,
		chromedp.Click(chromedp.CSS(`#nav a[href="#operations"]`)),
		chromedp.WaitVisible(chromedp.Search(`//tr[td[.="Transcripts"]]/td[.="30 days after the engagement ended"]`)),
		chromedp.WaitVisible(chromedp.Search(`//p[@id="retention-source" and contains(., "store.retention")]`)),
		chromedp.Click(chromedp.CSS("#sweep")),
		chromedp.WaitVisible(chromedp.Search(`//p[@id="op-msg" and contains(., "Retention applied")]`)),
		chromedp.Click(chromedp.CSS("#rotate")),
		chromedp.WaitVisible(chromedp.Search(`//p[@id="op-msg" and contains(., "Keys rotated from version 1 to 2")]`)))
	b.shot("operations")
	b.accessible("the operations page")
	b.fitsTablet("the operations page")
	var entries []store.AuditEntry
	json.Unmarshal(td.mustCall(t, td.Admin, "GET", "/api/v1/audit?limit=500", nil, 200), &entries)
	seen := map[string]bool{}
	for _, e := range entries {
		seen[e.Action] = true
	}
	if !seen["retention.sweep"] {
		t.Errorf("the console's retention sweep is not in the audit log")
	}
	b.check(nil)
}

// TestConsolePlugins: an administrator installs two plugins from folders
// on this machine in the page, approves a skill plugin's scope, configures
// a knowledge plugin, enables it, syncs its articles into the knowledge
// base, restarts, disables and uninstalls it (confirming first).
func TestConsolePlugins(t *testing.T) {
	td := startDaemon(t, nil)
	b := newBrowser(t)
	kbSrc, skillSrc := t.TempDir(), t.TempDir()
	buildTestPlugin(t, "./plugins/examples/kb-dir", filepath.Join(kbSrc, "kb-dir"))
	os.WriteFile(filepath.Join(kbSrc, "manifest.json"), []byte(`{"name":"kb-dir","version":"1.0.0","executable":"kb-dir","kinds":["knowledge"]}`), 0o644)
	buildTestPlugin(t, "./plugins/testdata/faulty", filepath.Join(skillSrc, "skills"))
	os.WriteFile(filepath.Join(skillSrc, "manifest.json"), []byte(`{"name":"skills","version":"0.0.1","executable":"skills","kinds":["skill"],"scopes":["customer_ref"]}`), 0o644)
	docs := pluginShareDir(t)
	os.WriteFile(filepath.Join(docs, "overdraft.md"), []byte("# Overdraft fees\n\nAn overdraft fee is refunded once a year when the customer asks."), 0o644)

	b.signIn(td.URL, td.Admin)
	b.run("install two plugins", 60*time.Second,
		chromedp.Click(chromedp.CSS(`#nav a[href="#plugins"]`)),
		chromedp.WaitVisible(chromedp.Search(`//p[contains(., "No plugin installed")]`)),
		chromedp.SetValue(chromedp.CSS("#pl-dir"), skillSrc),
		chromedp.Click(chromedp.Search(`//form[@id="pl-install"]//button[.="Install"]`)),
		chromedp.WaitVisible(chromedp.Search(`//td[.="skills 0.0.1"]`)),
		chromedp.SetValue(chromedp.CSS("#pl-dir"), kbSrc),
		chromedp.Click(chromedp.Search(`//form[@id="pl-install"]//button[.="Install"]`)),
		chromedp.WaitVisible(chromedp.Search(`//td[.="kb-dir 1.0.0"]`)),
		chromedp.WaitVisible(chromedp.Search(`//p[@id="pl-msg" and contains(., "Installed.")]`)),
		chromedp.Click(chromedp.CSS(`input[data-scope="customer_ref"]`)),
		chromedp.WaitVisible(chromedp.Search(`//p[@id="pl-msg" and .="Scopes of skills saved."]`)))
	b.shot("plugins-installed")
	b.accessible("the plugins page")
	settings := func(name string) (st struct {
		Enabled        bool
		ApprovedScopes []string `json:"approved_scopes"`
		Config         map[string]string
	}) {
		var list struct {
			Plugins []struct {
				Manifest struct{ Name string }
				Settings json.RawMessage
			}
		}
		json.Unmarshal(td.mustCall(t, td.Admin, "GET", "/api/v1/plugins", nil, 200), &list)
		for _, p := range list.Plugins {
			if p.Manifest.Name == name {
				json.Unmarshal(p.Settings, &st)
			}
		}
		return st
	}
	if st := settings("skills"); len(st.ApprovedScopes) != 1 || st.ApprovedScopes[0] != "customer_ref" {
		t.Errorf("skills settings after approving in the page = %+v", st)
	}

	cfg := fmt.Sprintf(`{"config": {"dir": %q}, "read_paths": [%q]}`, docs, docs)
	b.run("configure, enable and sync the knowledge plugin", 90*time.Second,
		chromedp.Click(chromedp.Search(`//tr[td[.="kb-dir 1.0.0"]]//summary`)),
		chromedp.SetValue(chromedp.CSS("#pl-config-kb-dir"), cfg),
		chromedp.Click(chromedp.Search(`//tr[td[.="kb-dir 1.0.0"]]//button[.="Save configuration"]`)),
		chromedp.WaitVisible(chromedp.Search(`//p[@id="pl-msg" and .="Configuration of kb-dir saved."]`)),
		chromedp.Click(chromedp.CSS(`button[data-toggle="kb-dir"]`)),
		chromedp.WaitVisible(chromedp.Search(`//tr[td[.="kb-dir 1.0.0"]]//span[contains(@class, "pill") and .="running"]`)),
		chromedp.Click(chromedp.CSS(`button[data-sync="kb-dir"]`)),
		chromedp.WaitVisible(chromedp.Search(`//p[@id="pl-msg" and .="kb-dir: knowledge synced."]`)))
	b.shot("plugins-synced")
	if st := settings("kb-dir"); !st.Enabled || st.Config["dir"] != docs {
		t.Errorf("kb-dir settings after the page = %+v", st)
	}
	var hits []struct {
		Passage struct {
			ArticleID string `json:"article_id"`
		}
	}
	json.Unmarshal(td.mustCall(t, td.Admin, "GET", "/api/v1/kb/search?q=overdraft+fee+refund", nil, 200), &hits)
	if len(hits) == 0 || !strings.HasPrefix(hits[0].Passage.ArticleID, "kb-dir:") {
		t.Errorf("search after the page's sync = %+v", hits)
	}
	b.run("restart, disable and uninstall", 90*time.Second,
		chromedp.Click(chromedp.CSS(`button[data-restart="kb-dir"]`)),
		chromedp.WaitVisible(chromedp.Search(`//p[@id="pl-msg" and .="kb-dir restarted."]`)),
		chromedp.Click(chromedp.CSS(`button[data-toggle="kb-dir"]`)),
		chromedp.WaitVisible(chromedp.Search(`//p[@id="pl-msg" and .="kb-dir disabled."]`)),
		chromedp.Click(chromedp.Search(`//tr[td[.="kb-dir 1.0.0"]]//button[.="Uninstall"]`)),
		chromedp.WaitVisible(chromedp.Search(`//tr[td[.="kb-dir 1.0.0"]]//span[.="Uninstall kb-dir?"]`)))
	b.accessible("the plugins page asking to confirm")
	b.run("confirm the uninstall", 30*time.Second,
		chromedp.Click(chromedp.Search(`//tr[td[.="kb-dir 1.0.0"]]//button[.="Confirm"]`)),
		chromedp.WaitVisible(chromedp.Search(`//p[@id="pl-msg" and .="kb-dir uninstalled."]`)))
	var list struct{ Plugins []json.RawMessage }
	json.Unmarshal(td.mustCall(t, td.Admin, "GET", "/api/v1/plugins", nil, 200), &list)
	if len(list.Plugins) != 1 {
		t.Errorf("%d plugins left after uninstalling one of two in the page", len(list.Plugins))
	}
	b.shot("plugins")
	b.check(nil)
}

// TestConsoleEditsUsersAndQueues: an administrator adds a queue, changes
// a user's name, role, queues and licence (switched), renames the queue, and deletes
// both after confirming; the API shows every change.
func TestConsoleEditsUsersAndQueues(t *testing.T) {
	td := startDaemon(t, nil)
	b := newBrowser(t)
	td.mustCall(t, td.Admin, "POST", "/api/v1/queues", queueRequest{ID: "cards"}, 201)
	td.tokenFor(t, "zoe", RoleAgent, "cards")
	var before struct{ Licensed bool }
	json.Unmarshal(td.mustCall(t, td.Admin, "GET", "/api/v1/users/zoe", nil, 200), &before)
	b.signIn(td.URL, td.Admin)
	b.run("add a queue", 30*time.Second,
		chromedp.Click(chromedp.CSS(`#nav a[href="#directory"]`)),
		chromedp.WaitVisible(chromedp.CSS("#nq-id")),
		chromedp.SendKeys(chromedp.CSS("#nq-id"), "loans"),
		chromedp.SendKeys(chromedp.CSS("#nq-name"), "Loans"),
		chromedp.Click(chromedp.Search(`//button[.="Add queue"]`)),
		chromedp.WaitVisible(chromedp.Search(`//p[@id="dir-status" and .="Queue loans added."]`)))
	b.run("edit a user", 30*time.Second,
		chromedp.Click(chromedp.CSS(`#view a[href="#directory/user/zoe"]`)),
		chromedp.WaitVisible(chromedp.CSS("#edit-user")))
	b.accessible("the user editor")
	b.run("save the user", 30*time.Second,
		chromedp.SetValue(chromedp.CSS("#eu-name"), "Zoe Quinn"),
		chromedp.SetValue(chromedp.CSS("#eu-role"), "supervisor"),
		chromedp.Click(chromedp.CSS(`input[data-queue="loans"]`)),
		chromedp.Click(chromedp.CSS("#eu-licensed")),
		chromedp.Click(chromedp.Search(`//form[@id="edit-user"]//button[.="Save"]`)),
		chromedp.WaitVisible(chromedp.Search(`//p[@id="dir-status" and .="User zoe saved."]`)))
	var u struct {
		DisplayName string   `json:"display_name"`
		Role        string   `json:"role"`
		Queues      []string `json:"queues"`
		Licensed    bool     `json:"licensed"`
	}
	json.Unmarshal(td.mustCall(t, td.Admin, "GET", "/api/v1/users/zoe", nil, 200), &u)
	if u.DisplayName != "Zoe Quinn" || u.Role != "supervisor" || strings.Join(u.Queues, ",") != "cards,loans" || u.Licensed == before.Licensed {
		t.Errorf("user after the console's edit = %+v", u)
	}
	b.run("rename the queue", 30*time.Second,
		chromedp.Click(chromedp.CSS(`#view a[href="#directory/queue/loans"]`)),
		chromedp.WaitVisible(chromedp.CSS("#edit-queue")),
		chromedp.SetValue(chromedp.CSS("#eq-name"), "Personal loans"),
		chromedp.SetValue(chromedp.CSS("#eq-description"), "Loans under 25,000"),
		chromedp.Click(chromedp.Search(`//form[@id="edit-queue"]//button[.="Save"]`)),
		chromedp.WaitVisible(chromedp.Search(`//p[@id="dir-status" and .="Queue loans saved."]`)))
	var q struct{ Name, Description string }
	json.Unmarshal(td.mustCall(t, td.Admin, "GET", "/api/v1/queues/loans", nil, 200), &q)
	if q.Name != "Personal loans" || q.Description != "Loans under 25,000" {
		t.Errorf("queue after the console's edit = %+v", q)
	}
	b.run("delete the user after confirming", 30*time.Second,
		chromedp.Click(chromedp.CSS(`#view a[href="#directory/user/zoe"]`)),
		chromedp.Click(chromedp.Search(`//button[.="Delete the user"]`)),
		chromedp.WaitVisible(chromedp.Search(`//span[.="Delete user zoe and revoke their tokens?"]`)))
	b.shot("confirm-delete")
	b.accessible("the user editor asking to confirm")
	b.run("confirm", 30*time.Second,
		chromedp.Click(chromedp.Search(`//button[.="Confirm"]`)),
		chromedp.WaitVisible(chromedp.Search(`//p[@id="dir-status" and .="zoe deleted."]`)),
		chromedp.Click(chromedp.CSS(`#view a[href="#directory/queue/loans"]`)),
		chromedp.Click(chromedp.Search(`//button[.="Delete the queue"]`)),
		chromedp.Click(chromedp.Search(`//button[.="Confirm"]`)),
		chromedp.WaitVisible(chromedp.Search(`//p[@id="dir-status" and .="loans deleted."]`)))
	td.mustCall(t, td.Admin, "GET", "/api/v1/users/zoe", nil, 404)
	td.mustCall(t, td.Admin, "GET", "/api/v1/queues/loans", nil, 404)
	b.shot("directory")
	b.check(nil)
}
