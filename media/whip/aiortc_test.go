package whip

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/earshot/earshot/media/codec"
	"github.com/earshot/earshot/media/ingest"
)

// TestAiortcWHIP publishes two speech files as two tracks from aiortc (a
// second, independent WebRTC implementation) and checks that each party's
// decoded audio matches its own file, with the parties given by mid.
func TestAiortcWHIP(t *testing.T) {
	t.Parallel()
	// Debian's python3-aiortc is for Debian's interpreter, not a pyenv one.
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import aiortc").Run(); err != nil {
		t.Fatalf("%s cannot import aiortc (Debian package python3-aiortc, in the Makefile's DEBS_TEST): %v", py, err)
	}
	e := testServer(t, nil)
	agentWAV, agent, agentSaid := speech(t, "0920", 16000)
	custWAV, cust, custSaid := speech(t, "0890", 16000)

	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	// mid 0 carries the agent, mid 1 the customer: the reverse of the
	// positional default, so the explicit mapping is what is tested.
	url := e.hs.URL + "/whip?engagement=e2&party.0=agent&party.1=customer"
	out, err := exec.CommandContext(ctx, py, "testdata/whip_client.py", url, testToken, agentWAV, custWAV).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "done 200") {
		t.Fatalf("whip_client.py: %v\n%s", err, out)
	}
	var eng *recEngagement
	select {
	case eng = <-e.col.opened:
	default:
		t.Fatal("no session opened")
	}
	select {
	case <-eng.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("engagement not closed after DELETE")
	}
	if got := fmt.Sprint(eng.meta.Parties); got != "[agent customer]" {
		t.Errorf("Meta.Parties = %s, want [agent customer]", got)
	}
	for _, tc := range []struct {
		party ingest.Party
		said  string
		src   []int16
	}{
		{ingest.PartyAgent, agentSaid, agent},
		{ingest.PartyCustomer, custSaid, cust},
	} {
		p := eng.Party(tc.party)
		if p == nil || p.Format.Codec != codec.Opus {
			t.Fatalf("%s: party %+v, want opus", tc.party, p)
		}
		pcm, rate := p.Audio()
		r, _ := bestMatch(tc.src, 16000, pcm, rate)
		text := eng.Transcript(t, tc.party)
		found, total := wordsFound(tc.said, text)
		t.Logf("%s: transcript %q; pipeline stats %+v", tc.party, text, eng.PE.Stats()[string(tc.party)])
		t.Logf("%s: %.1f s received (source %.1f s), envelope correlation %.3f; %d/%d words recognised", tc.party,
			float64(len(pcm))/float64(rate), float64(len(tc.src))/16000, r, found, total)
		if r < 0.8 {
			t.Errorf("%s audio does not match its speech: correlation %.3f, want >= 0.8", tc.party, r)
		}
		if found < total/3 {
			t.Errorf("%s transcript has %d of the %d words said, want >= %d", tc.party, found, total, total/3)
		}
	}
}
