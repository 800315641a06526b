package daemon

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// widgetJS is the shadow root of the widget rendered into #earshot-chat
// (the daemon's page) or another target.
func widgetRoot(target string) string {
	return fmt.Sprintf(`document.getElementById(%q).shadowRoot`, target)
}

// widgetMessages returns the texts of the widget's messages, each
// prefixed with its sender ("bot: ...").
func widgetMessages(ctx context.Context, target string) ([]string, error) {
	return chromedp.Run(ctx, chromedp.Evaluate[[]string](fmt.Sprintf(`(() => {
		const r = %s; if (!r) return [];
		return Array.from(r.querySelectorAll('.msg')).map(m => m.className.replace('msg ', '') + ': ' + m.firstChild.textContent +
			Array.from(m.querySelectorAll('.cite')).map(c => ' [' + c.textContent + ']').join(''));
	})()`, widgetRoot(target))))
}

// waitWidget polls until a message contains want, and returns the messages.
func waitWidget(t *testing.T, ctx context.Context, target, want string) []string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		msgs, err := widgetMessages(ctx, target)
		if err == nil {
			for _, m := range msgs {
				if strings.Contains(m, want) {
					return msgs
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the widget never showed %q; it shows %q (%v)", want, msgs, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// typeMessage types text into the widget's input and presses Enter: real
// key events from the browser.
func typeMessage(t *testing.T, ctx context.Context, target, text string) {
	t.Helper()
	input := widgetRoot(target) + `.querySelector('input')`
	if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.JSPath(input), text+"\r")); err != nil {
		t.Fatalf("type %q: %v", text, err)
	}
}

func clickChoice(t *testing.T, ctx context.Context, target, choice string) {
	t.Helper()
	btn := fmt.Sprintf(`Array.from(%s.querySelectorAll('.choices button')).find(b => b.textContent === %q)`, widgetRoot(target), choice)
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.JSPath(btn))); err != nil {
		t.Fatalf("click %q: %v", choice, err)
	}
}

func widgetAttr(ctx context.Context, target, name string) string {
	v, _ := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf(`document.getElementById(%q) ? document.getElementById(%q).getAttribute(%q) || '' : ''`, target, target, name)))
	return v
}

func waitAttr(t *testing.T, ctx context.Context, target, name, want string) {
	t.Helper()
	deadline := time.Now().Add(40 * time.Second)
	for widgetAttr(ctx, target, name) != want {
		if time.Now().After(deadline) {
			t.Fatalf("%s of the widget = %q, want %q", name, widgetAttr(ctx, target, name), want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestBotWidgetChromium chats with the card-services bot through the web
// widget in headless Chromium: a lost card blocked by the plugin (typing,
// then the Yes button), a fees answer with its source, a hand-over where
// the agent's message reaches the page; then the widget embedded on
// another site is refused until that site's origin is allowed.
func TestBotWidgetChromium(t *testing.T) {
	env := startBotEnv(t, nil)
	td := env.td
	ctx := newBrowser(t).ctx
	page := td.URL + "/chat/card-services"
	const target = "earshot-chat"

	if err := chromedp.Do(ctx, chromedp.Navigate(page)); err != nil {
		t.Fatal(err)
	}
	waitWidget(t, ctx, target, "card services assistant")
	conv := widgetAttr(ctx, target, "data-conversation")
	typeMessage(t, ctx, target, "I lost my card")
	waitWidget(t, ctx, target, "What are the last four digits")
	typeMessage(t, ctx, target, "4321")
	waitWidget(t, ctx, target, "Shall I block the card ending 4321?")
	clickChoice(t, ctx, target, "Yes")
	msgs := waitWidget(t, ctx, target, "Done: the card ending 4321 is blocked")
	waitAttr(t, ctx, target, "data-state", "ended")
	want := []string{"bot: Hi, I'm the card services assistant", "customer: I lost my card", "bot: What are the last four digits",
		"customer: 4321", "bot: Shall I block the card ending 4321?", "customer: Yes", "bot: Done: the card ending 4321 is blocked"}
	if len(msgs) != len(want) {
		t.Fatalf("widget shows %q", msgs)
	}
	for i := range want {
		if !strings.HasPrefix(msgs[i], want[i]) {
			t.Errorf("message %d = %q, want prefix %q", i, msgs[i], want[i])
		}
	}
	if calls := env.recorded(t); len(calls) != 1 || calls[0]["engagement"].(map[string]any)["EngagementID"] != conv {
		t.Errorf("plugin calls = %+v, want block_card for conversation %s", calls, conv)
	}

	// A new conversation: a fees question answered with its source.
	if err := chromedp.Do(ctx, chromedp.Navigate(page)); err != nil {
		t.Fatal(err)
	}
	waitWidget(t, ctx, target, "card services assistant")
	typeMessage(t, ctx, target, "Is there a fee for cash withdrawals abroad?")
	waitWidget(t, ctx, target, "[Source: Card fees]")

	// Talk to a person: the agent takes it and writes back.
	typeMessage(t, ctx, target, "can I talk to a real person")
	waitWidget(t, ctx, target, "number 1 in the queue")
	id := widgetAttr(ctx, target, "data-conversation")
	td.mustCall(t, env.agent, "POST", "/api/v1/handovers/"+id+"/accept", nil, 200)
	waitWidget(t, ctx, target, "joined the chat")
	td.mustCall(t, env.agent, "POST", "/api/v1/engagements/"+id+"/messages", messageRequest{Sender: "agent", Text: "Hi, Ana here. How can I help?"}, 201)
	waitWidget(t, ctx, target, "agent: Hi, Ana here.")

	// The widget embedded on another site: refused until its origin is
	// allowed.
	b, _ := td.store.Bot("card-services")
	site := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, `<!doctype html><title>Bank</title><h1>Our bank</h1><div id="help"></div>`+
			`<script src="%s/chat/card-services/widget.js" data-key="%s" data-target="help"></script>`, td.URL, b.WidgetKey)
	}))
	defer site.Close()
	refused := testutil.ToFloat64(td.bots.m.refused.WithLabelValues("origin"))
	if err := chromedp.Do(ctx, chromedp.Navigate(site.URL)); err != nil {
		t.Fatal(err)
	}
	waitAttr(t, ctx, "help", "data-state", "refused")
	if msgs, _ := widgetMessages(ctx, "help"); len(msgs) != 0 {
		t.Errorf("a refused widget shows %q", msgs)
	}
	if got := testutil.ToFloat64(td.bots.m.refused.WithLabelValues("origin")); got <= refused {
		t.Errorf("origin refusals %v, want more than %v", got, refused)
	}
	raw, _ := os.ReadFile("../inference/bot/testdata/card-services.yaml")
	allowed := strings.Replace(string(raw), `allowed_origins: ["https://www.bank.example"]`, `allowed_origins: ["https://www.bank.example", "`+site.URL+`"]`, 1)
	if code, body := td.callRaw(t, td.Admin, "POST", "/api/v1/bots/import?publish=true", "application/yaml", allowed); code != 200 {
		t.Fatalf("republish = %d %s", code, body)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(site.URL)); err != nil {
		t.Fatal(err)
	}
	waitWidget(t, ctx, "help", "card services assistant")
	typeMessage(t, ctx, "help", "what is my balance")
	waitWidget(t, ctx, "help", "What are the last four digits")
}
