//go:build eval

package daemon

// Console evaluations (make eval EVAL_PKGS=./daemon EVAL_RUN=TestEvalConsole):
//
// TestEvalConsoleFirstLine: the time from signing in to the first live
// transcript line of a running engagement. The engagement is a chat whose
// customer wrote a line before the agent signs in and writes another
// every 2 s (a
// stand-in for a voice call: its lines reach the console through the same
// event stream; speech recognition's own delay is not part of the
// console's). The agent opens the console on the engagement's address (as
// a screen pop or bookmark would) and signs in; the page records, with
// performance.now(), the click on "Sign in", the moment the navigation
// appears (whoami answered: the peer figure, a single API round trip) and
// the moment the first transcript line is shown. Repeated in fresh tabs
// of one headless Chromium; median and worst reported.
//
// TestEvalConsoleFollowers: the daemon's CPU with 50 open consoles
// following live engagements against the same daemon without them, in
// the same run. Ten live chats get a customer line every second each
// (sentiment, knowledge, escalation and the other assist analyzers run as
// configured by default). A console following a live engagement holds its
// event stream (GET /api/v1/engagements/{id}/events); the 50 followers are
// curl processes holding exactly that request with a supervisor's token
// (outside this process, so their CPU is not counted), five per
// engagement. CPU is this process's (daemon and the in-process feeder,
// which does the same work in both phases), from getrusage, over
// alternating phases without and with followers (B F B F, 20 s each).

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/earshot/earshot/store"
)

// feedChats posts a customer line to each engagement every period until
// ctx ends.
func feedChats(ctx context.Context, t *testing.T, td *testDaemon, token string, ids []string, period time.Duration) *sync.WaitGroup {
	lines := []string{"Hello, my card was stolen yesterday.", "I need to block the card please.", "Can you send me a new card?",
		"This is taking a long time.", "What are the fees for a replacement?", "Thank you, that helps."}
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(period)
			defer tick.Stop()
			for n := i; ; n++ {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
				if code, body := td.call(t, token, "POST", "/api/v1/engagements/"+id+"/messages", messageRequest{Sender: "customer", Text: lines[n%len(lines)]}); code != 201 && ctx.Err() == nil {
					t.Errorf("feed %s: %d %s", id, code, body)
					return
				}
			}
		}()
	}
	return &wg
}

func TestEvalConsoleFirstLine(t *testing.T) {
	td := startDaemon(t, nil)
	td.mustCall(t, td.Admin, "POST", "/api/v1/queues", queueRequest{ID: "cards"}, 201)
	agent := td.tokenFor(t, "ana", RoleAgent, "cards")
	ingest := td.tokenFor(t, "web", RoleIngest, "cards")
	b := newBrowser(t)
	const runs = 10
	// Nav, Eng (the engagement's answer headers) and Line are times from
	// the click. (The event stream's entry appears in the page's resource
	// timing only once it ends.)
	type timing struct{ Nav, Line, Eng float64 }
	var got []timing
	for i := range runs {
		var e store.Engagement
		json.Unmarshal(td.mustCall(t, ingest, "POST", "/api/v1/engagements", engagementRequest{Queue: "cards", Agent: "ana", Channel: "chat"}, 201), &e)
		// The call is running: it has a line before the agent signs in,
		// and more come every 2 s.
		td.mustCall(t, ingest, "POST", "/api/v1/engagements/"+e.ID+"/messages", messageRequest{Sender: "customer", Text: "Hello, I am calling about my card."}, 201)
		ctx, stop := context.WithCancel(context.Background())
		wg := feedChats(ctx, t, td, ingest, []string{e.ID}, 2*time.Second)
		tab := b.tab()
		tab.run("open the sign-in page", 30*time.Second,
			chromedp.Navigate(td.URL+"/console/#engagements/"+e.ID),
			chromedp.WaitVisible(chromedp.CSS("#token")),
			chromedp.SendKeys(chromedp.CSS("#token"), agent),
			chromedp.Evaluate[chromedp.Void](`window.__t = {};
				document.querySelector("#login-form button").addEventListener("click", () => { window.__t.click = performance.now(); }, { capture: true });
				new MutationObserver((_, o) => {
					if (!window.__t.nav && !document.querySelector("#nav").hidden) window.__t.nav = performance.now();
					if (document.querySelector(".transcript .utt")) { window.__t.line = performance.now(); o.disconnect(); }
				}).observe(document.body, { childList: true, subtree: true, attributes: true });
				undefined`),
			chromedp.Click(chromedp.CSS(`#login-form button[type="submit"]`)),
			chromedp.WaitVisible(chromedp.CSS(".transcript .utt")))
		tm, err := chromedp.Run(tab.ctx, chromedp.Evaluate[timing](`(() => {
			const at = (suffix) => { const e = performance.getEntriesByType("resource").find((r) => r.name.endsWith(suffix)); return e ? e.responseStart - window.__t.click : -1; };
			return { Nav: window.__t.nav - window.__t.click, Line: window.__t.line - window.__t.click, Eng: at("/engagements/`+e.ID+`") };
		})()`))
		if err != nil {
			t.Fatal(err)
		}
		tab.check(nil)
		stop()
		wg.Wait()
		td.mustCall(t, ingest, "POST", "/api/v1/engagements/"+e.ID+"/end", nil, 202)
		t.Logf("run %d: navigation %.0f ms, engagement answered %.0f ms, first transcript line %.0f ms after the click", i+1, tm.Nav, tm.Eng, tm.Line)
		got = append(got, tm)
	}
	nav := make([]float64, runs)
	line := make([]float64, runs)
	for i, g := range got {
		nav[i], line[i] = g.Nav, g.Line
	}
	slices.Sort(nav)
	slices.Sort(line)
	t.Logf("sign-in to navigation (whoami): median %.0f ms, worst %.0f ms", nav[runs/2], nav[runs-1])
	t.Logf("sign-in to first live transcript line: median %.0f ms, worst %.0f ms (lines every 2 s)", line[runs/2], line[runs-1])
}

func cpuSeconds() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

// liveChatsSetup makes queue cards with agent ana, an ingest token, five
// supervisors sup0..sup4 (their tokens), an article, and ten chats.
func liveChatsSetup(t *testing.T, td *testDaemon) (ingest string, sups, ids []string) {
	t.Helper()
	td.mustCall(t, td.Admin, "POST", "/api/v1/queues", queueRequest{ID: "cards"}, 201)
	td.tokenFor(t, "ana", RoleAgent, "cards")
	ingest = td.tokenFor(t, "web", RoleIngest, "cards")
	for i := range 5 {
		sups = append(sups, td.tokenFor(t, fmt.Sprintf("sup%d", i), RoleSupervisor, "cards"))
	}
	td.mustCall(t, td.Admin, "PUT", "/api/v1/kb/articles/block-card", map[string]any{"title": "Blocking a stolen card",
		"body": "When a customer reports a stolen card, block the card at once and order a replacement card.", "queue": "cards"}, 200)
	for range 10 {
		var e store.Engagement
		json.Unmarshal(td.mustCall(t, ingest, "POST", "/api/v1/engagements", engagementRequest{Queue: "cards", Agent: "ana", Channel: "chat"}, 201), &e)
		ids = append(ids, e.ID)
	}
	return ingest, sups, ids
}

func TestEvalConsoleFollowers(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Fatal("curl is needed (Debian package curl)")
	}
	td := startDaemon(t, nil)
	ingest, sups, ids := liveChatsSetup(t, td)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	feed := feedChats(ctx, t, td, ingest, ids, time.Second)
	defer feed.Wait()
	defer stop()

	const followers = 50
	const phase = 20 * time.Second
	dir := t.TempDir()
	follow := func(round int) []*exec.Cmd {
		var cmds []*exec.Cmd
		for i := range followers {
			out := filepath.Join(dir, fmt.Sprintf("r%d-f%d.sse", round, i))
			cmd := exec.Command(curl, "-sN", "-o", out, "-H", "Authorization: Bearer "+sups[i%len(sups)], td.URL+"/api/v1/engagements/"+ids[i%len(ids)]+"/events")
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			cmds = append(cmds, cmd)
		}
		return cmds
	}
	measure := func() float64 {
		c0, w0 := cpuSeconds(), time.Now()
		time.Sleep(phase) // the phase's length: a measurement window, not synchronisation
		return (cpuSeconds() - c0) / time.Since(w0).Seconds()
	}
	time.Sleep(5 * time.Second) // warm-up window before the first measurement
	var base, with []float64
	for round := range 2 {
		base = append(base, measure())
		cmds := follow(round)
		// The followers are connected once each has received an event.
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			n := 0
			for i := range followers {
				raw, _ := os.ReadFile(filepath.Join(dir, fmt.Sprintf("r%d-f%d.sse", round, i)))
				if strings.Contains(string(raw), "event: ") {
					n++
				}
			}
			if n == followers {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d of %d followers connected", n, followers)
			}
		}
		with = append(with, measure())
		for _, c := range cmds {
			c.Process.Kill()
			c.Wait()
		}
		// Every follower received live transcript lines.
		for i := range followers {
			raw, _ := os.ReadFile(filepath.Join(dir, fmt.Sprintf("r%d-f%d.sse", round, i)))
			if !strings.Contains(string(raw), "event: transcript.final") {
				t.Fatalf("follower %d of round %d received no transcript line (%d bytes)", i, round, len(raw))
			}
		}
		t.Logf("round %d: without followers %.3f cores, with %d followers %.3f cores", round+1, base[round], followers, with[round])
	}
	b := (base[0] + base[1]) / 2
	w := (with[0] + with[1]) / 2
	t.Logf("daemon CPU (cores): without consoles %.3f, with %d consoles %.3f: +%.1f %% of one core, +%.1f %% relative", b, followers, w, 100*(w-b), 100*(w-b)/b)
}
