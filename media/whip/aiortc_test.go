package whip

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/earshot/earshot/inference"
)

// TestAiortcWHIP publishes two speech files as two tracks from aiortc (a
// second, independent WebRTC implementation) and checks that each party's
// decoded audio matches its own file, with the parties given by mid.
func TestAiortcWHIP(t *testing.T) {
	// Debian's python3-aiortc is for Debian's interpreter, not a pyenv one.
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import aiortc").Run(); err != nil {
		t.Fatalf("%s cannot import aiortc (Debian package python3-aiortc, in the Makefile's DEBS_TEST): %v", py, err)
	}
	e := testServer(t, nil)
	agentWAV, agent := speech(t, "good morning thank you for calling the bank", 16000)
	custWAV, cust := speech(t, "i lost my card yesterday evening at the station", 16000)

	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	// mid 0 carries the agent, mid 1 the customer: the reverse of the
	// positional default, so the explicit mapping is what is tested.
	url := e.hs.URL + "/whip?engagement=e2&party.0=agent&party.1=customer"
	out, err := exec.CommandContext(ctx, py, "testdata/whip_client.py", url, testToken, agentWAV, custWAV).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "done 200") {
		t.Fatalf("whip_client.py: %v\n%s", err, out)
	}
	var sink *recSink
	select {
	case sink = <-e.col.opened:
	default:
		t.Fatal("no session opened")
	}
	select {
	case <-sink.closed:
	case <-time.After(10 * time.Second):
		t.Fatal("sink not closed after DELETE")
	}
	if diff := strings.Join([]string{string(sink.meta.Parties[0]), string(sink.meta.Parties[1])}, ","); diff != "agent,customer" {
		t.Errorf("Meta.Parties = %s, want agent,customer", diff)
	}
	for _, tc := range []struct {
		party inference.Party
		src   []int16
	}{
		{inference.PartyAgent, agent},
		{inference.PartyCustomer, cust},
	} {
		pcm, codec, rate := sink.party(tc.party)
		if codec != CodecOpus || rate != 16000 {
			t.Fatalf("%s: codec %s at %d Hz, want opus at 16000", tc.party, codec, rate)
		}
		r, _ := bestMatch(tc.src, 16000, pcm, rate)
		t.Logf("%s: %.1f s received (source %.1f s), envelope correlation %.3f", tc.party,
			float64(len(pcm))/16000, float64(len(tc.src))/16000, r)
		if r < 0.8 {
			t.Errorf("%s audio does not match its speech: correlation %.3f, want >= 0.8", tc.party, r)
		}
	}
}
