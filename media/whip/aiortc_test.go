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
	"github.com/earshot/earshot/media/ingest/ingesttest"
)

// TestAiortcWHIP publishes a two-party conversation (the customer speaks
// at 0.5 s and 7.0 s, the agent at 3.0 s) as two tracks from aiortc (a
// second, independent WebRTC implementation), the parties given by mid:
// each party's decoded audio matches its own track, its segments lie
// within 150 ms of its utterances on the engagement's clock, and its
// transcript is within the measured word error rate (ingesttest.MaxWER).
func TestAiortcWHIP(t *testing.T) {
	t.Parallel()
	// Debian's python3-aiortc is for Debian's interpreter, not a pyenv one.
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import aiortc").Run(); err != nil {
		t.Fatalf("%s cannot import aiortc (Debian package python3-aiortc, in the Makefile's DEBS_TEST): %v", py, err)
	}
	e := testServer(t, nil)
	conv := ingesttest.BuildConversation(t, 16000)
	agentWAV := conv.WAV(t, 16000, ingest.PartyAgent)
	custWAV := conv.WAV(t, 16000, ingest.PartyCustomer)

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
	// The client plays both tracks as live audio on one clock: a track
	// whose sender starts late (aiortc starts them up to 100 ms apart)
	// begins with the audio of that moment, and packets sent before the
	// server's DTLS is up are lost. The engagement's clock starts at the
	// first packet that arrived, lost[p] into its party's track; the
	// server places the other party by its first packet's arrival.
	lost := map[ingest.Party]int64{}
	for _, party := range []ingest.Party{ingest.PartyAgent, ingest.PartyCustomer} {
		p := eng.Party(party)
		if p == nil || p.Format.Codec != codec.Opus {
			t.Fatalf("%s: party %+v, want opus", party, p)
		}
		src := conv.Track(party)
		pcm, rate := p.Audio()
		r, _ := ingesttest.BestMatch(src, 16000, pcm, rate)
		var lr float64
		lost[party], lr = ingesttest.Lag(src, 16000, pcm, rate)
		t.Logf("%s: %.1f s received (source %.1f s), envelope correlation %.3f; the first %d ms lost (correlation %.3f); pipeline stats %+v",
			party, float64(len(pcm))/float64(rate), float64(len(src))/16000, r, lost[party], lr, eng.PE.Stats()[string(party)])
		if r < 0.8 || lr < 0.8 {
			t.Errorf("%s audio does not match its track: correlation %.3f, start correlation %.3f, want >= 0.8", party, r, lr)
		}
	}
	finals := ingesttest.FromSegments(eng.Finals(t))
	conv.CheckTimes(t, ingesttest.ByTime(finals), min(lost[ingest.PartyAgent], lost[ingest.PartyCustomer]))
	conv.CheckWER(t, finals)
}
