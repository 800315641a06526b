package daemon

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/earshot/earshot/media/wav"
)

// TestDomainLMThroughAPI: with domain language models on, a queue's model
// is built in the background when its knowledge base changes (a new
// version for each change), and the queue's calls are recognised with it
// (real PocketSphinx on real speech through an upload): an article that
// holds the words spoken brings the transcript close to them.
func TestDomainLMThroughAPI(t *testing.T) {
	path, said := speechFile(t, "0890")
	td := startDaemon(t, func(c *Config) {
		c.Media.DomainLM.Enabled = true
		c.Media.DomainLM.Build.Interval = time.Hour // only changes trigger builds here
	})
	td.mustCall(t, td.Admin, "POST", "/api/v1/queues", queueRequest{ID: "austen"}, 201)
	builds := func() string { return metricValue(t, td, `earshot_lm_builds_total{outcome="ok"}`) }
	waitBuilds := func(want string) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for builds() != want {
			if time.Now().After(deadline) {
				t.Fatalf("earshot_lm_builds_total{ok} = %q, want %s", builds(), want)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	td.mustCall(t, td.Admin, "PUT", "/api/v1/kb/articles/selfish", map[string]any{"title": "Chapter one",
		"body": strings.Join(said, " ") + ". He was rather selfish and cold hearted.", "queue": "austen"}, 200)
	waitBuilds("1")
	td.mustCall(t, td.Admin, "PUT", "/api/v1/kb/articles/other", map[string]any{"title": "Cards",
		"body": "Your card is on its way.", "queue": "austen"}, 200)
	waitBuilds("2")

	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := wav.Parse(b); err != nil {
		t.Fatal(err)
	}
	ingest := td.tokenFor(t, "pbx", RoleIngest, "austen")
	var res struct{ Engagement struct{ ID string } }
	json.Unmarshal(td.mustCall(t, ingest, "POST", "/api/v1/uploads?queue=austen&parties=customer", string(b), 201), &res)
	heard, _ := transcriptText(t, td, td.Admin, res.Engagement.ID)
	w := wordErrorRate(said, heard)
	t.Logf("heard %q: WER %.1f%%", heard, w)
	// Without the model this recording is heard at about 45 % WER
	// (TestManager in media/stt/lm logs both).
	if w > 25 {
		t.Errorf("with the queue's domain model: heard %q, WER %.1f%%, want at most 25%%", heard, w)
	}
}
