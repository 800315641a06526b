//go:build eval

package daemon

// TestEvalConsoleTabs (make eval EVAL_PKGS=./daemon EVAL_RUN=TestEvalConsoleTabs):
// the daemon's CPU with 50 open console tabs of one headless Chromium
// following live engagements, against the same daemon without them, in
// the same run. As TestEvalConsoleFollowers, but each follower is the real
// console page: signed in through a one-time sign-in link that opens the
// engagement (#sign-in=<code>&open=engagements/<id>), drawing the live
// transcript and assist cards as events arrive. The tabs are created
// through the browser's DevTools connection without attaching to them,
// so no page's DevTools traffic reaches this process (whose CPU is
// measured: the daemon and the in-process feeder, which does the same
// work in both phases); Chromium's own CPU is not counted. Ten live chats
// get a customer line every second each; five supervisors hold ten tabs
// each. Every tab has its own browser context (as a console in its own
// browser would: a profile allows six connections to one host, and each
// console holds one for its event stream). Phases B F B F of 20 s each, from getrusage. After each measured
// phase the test attaches to every tab and checks that it shows live
// transcript lines.

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"

	"github.com/earshot/earshot/internal/testdep"
	"github.com/earshot/earshot/store"
)

func TestEvalConsoleTabs(t *testing.T) {
	bin := testdep.Program(t, "chromium", "chromium")
	td := startDaemon(t, nil)
	ingest, _, ids := liveChatsSetup(t, td)
	users := []string{"sup0", "sup1", "sup2", "sup3", "sup4"}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	feed := feedChats(ctx, t, td, ingest, ids, time.Second)
	defer feed.Wait()
	defer stop()

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(bin), chromedp.NoSandbox,
		chromedp.Flag("disable-gpu", true), chromedp.WindowSize(1280, 800), chromedp.UserDataDir(t.TempDir()))
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelA()
	bctx, cancelB := chromedp.NewContext(actx)
	defer cancelB()
	if _, err := chromedp.Targets(bctx); err != nil { // connects to the browser only
		t.Fatalf("start chromium: %v", err)
	}
	browser := chromedp.FromContext(bctx).Browser

	const tabs = 50
	var contexts []cdp.BrowserContextID
	const phase = 20 * time.Second
	open := func() []target.ID {
		var out []target.ID
		for i := range tabs {
			var l struct{ Code string }
			json.Unmarshal(td.mustCall(t, td.Admin, "POST", "/api/v1/sign-in-links", map[string]string{"user_id": users[i%len(users)]}, 201), &l)
			u := td.URL + "/console/#sign-in=" + l.Code + "&open=engagements/" + ids[i%len(ids)]
			// Each tab in its own browser context, as each console would be
			// in its own browser: one profile allows six connections to a
			// host, and each console holds one for its event stream.
			bc, err := cdp.Call(bctx, browser, target.CreateBrowserContext, target.CreateBrowserContextParams{})
			if err != nil {
				t.Fatalf("browser context %d: %v", i, err)
			}
			contexts = append(contexts, bc.BrowserContextID)
			res, err := cdp.Call(bctx, browser, target.CreateTarget, target.CreateTargetParams{URL: u, BrowserContextID: bc.BrowserContextID})
			if err != nil {
				t.Fatalf("open tab %d: %v", i, err)
			}
			out = append(out, res.TargetID)
		}
		return out
	}
	// streams counts the event streams the supervisors opened (each is
	// audited as a content read).
	streams := func() int {
		es, err := td.store.QueryAudit(t.Context(), store.AuditQuery{Action: "content.read"})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, e := range es {
			if e.Feature == "events" && strings.HasPrefix(e.Actor, "sup") {
				n++
			}
		}
		return n
	}
	measure := func() float64 {
		c0, w0 := cpuSeconds(), time.Now()
		time.Sleep(phase) // the phase's length: a measurement window, not synchronisation
		return (cpuSeconds() - c0) / time.Since(w0).Seconds()
	}
	// check attaches to each tab after the measured phase: it shows live
	// transcript lines and logged no error. Closing the attachment closes
	// the tab.
	check := func(ts []target.ID) {
		for i, id := range ts {
			tctx, cancel := chromedp.NewContext(bctx, chromedp.WithTargetID(id))
			c, cc := context.WithTimeout(tctx, 30*time.Second)
			n, err := chromedp.Run(c, chromedp.Evaluate[int](`document.querySelectorAll(".transcript .utt").length`))
			cc()
			cancel()
			if err != nil || n == 0 {
				t.Fatalf("tab %d shows %d transcript lines (%v)", i, n, err)
			}
		}
		for _, bc := range contexts {
			if _, err := cdp.Call(bctx, browser, target.DisposeBrowserContext, target.DisposeBrowserContextParams{BrowserContextID: bc}); err != nil {
				t.Fatalf("dispose a browser context: %v", err)
			}
		}
		contexts = nil
	}
	time.Sleep(5 * time.Second) // warm-up window before the first measurement
	var base, with []float64
	for round := range 2 {
		base = append(base, measure())
		before := streams()
		ts := open()
		for deadline := time.Now().Add(5 * time.Minute); streams()-before < tabs; time.Sleep(200 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%d of %d tabs opened their event stream", streams()-before, tabs)
			}
		}
		// Let the tabs finish loading (static files, first answers) before
		// measuring the steady state.
		time.Sleep(3 * time.Second) // a settling window, not synchronisation
		with = append(with, measure())
		check(ts)
		t.Logf("round %d: without tabs %.3f cores, with %d tabs %.3f cores", round+1, base[round], tabs, with[round])
	}
	b := (base[0] + base[1]) / 2
	w := (with[0] + with[1]) / 2
	t.Logf("daemon CPU (cores): without consoles %.3f, with %d Chromium console tabs %.3f: +%.1f %% of one core, +%.1f %% relative", b, tabs, w, 100*(w-b), 100*(w-b)/b)
}
