package store

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestCrashWriterHelper is the writer subprocess of TestCrashKeepsAcknowledged
// Segments; it does nothing unless started by it.
func TestCrashWriterHelper(t *testing.T) {
	dir := os.Getenv("EARSHOT_STORE_CRASH_DIR")
	if dir == "" {
		t.Skip("helper process for TestCrashKeepsAcknowledgedSegments")
	}
	s, err := Open(context.Background(), Options{Dir: dir})
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(2)
	}
	ctx := context.Background()
	var mu sync.Mutex
	out := bufio.NewWriter(os.Stdout)
	const writers = 8
	var wg sync.WaitGroup
	for w := range writers {
		e, err := s.CreateEngagement(ctx, Engagement{Queue: "q", Channel: "voice", Direction: "inbound", Start: time.Now()})
		if err != nil {
			fmt.Println("ERR", err)
			os.Exit(2)
		}
		wg.Go(func() {
			for i := uint32(0); ; i++ {
				if err := s.Append(ctx, seg(e, i, fmt.Sprintf("writer %d segment %d", w, i))); err != nil {
					mu.Lock()
					fmt.Fprintln(out, "ERR", err)
					out.Flush()
					mu.Unlock()
					return
				}
				// Acknowledged: report it, as the API would.
				mu.Lock()
				fmt.Fprintf(out, "ACK %s %d %d\n", e.ID, w, i)
				out.Flush()
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}

// TestCrashKeepsAcknowledgedSegments kills a writer with SIGKILL in the
// middle of a stream of appends, reopens the store, and checks that every
// segment the writer saw acknowledged is there and intact, and that both
// files pass bbolt's consistency check.
func TestCrashKeepsAcknowledgedSegments(t *testing.T) {
	if os.Getenv("EARSHOT_STORE_CRASH_DIR") != "" {
		t.Skip("inside the helper")
	}
	dir := t.TempDir()
	for round := range 3 {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashWriterHelper$", "-test.count=1")
		cmd.Env = append(os.Environ(), "EARSHOT_STORE_CRASH_DIR="+dir)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		acked := map[string]map[uint32]string{} // engagement -> seq -> text
		sc := bufio.NewScanner(stdout)
		n := 0
		killAt := 400 + 300*round
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) > 0 && f[0] == "ERR" {
				t.Fatalf("writer: %s", sc.Text())
			}
			if len(f) != 4 || f[0] != "ACK" {
				continue
			}
			seq, _ := strconv.ParseUint(f[3], 10, 32)
			if acked[f[1]] == nil {
				acked[f[1]] = map[uint32]string{}
			}
			acked[f[1]][uint32(seq)] = fmt.Sprintf("writer %s segment %d", f[2], seq)
			// Keep reading after the kill: acks already in the pipe were
			// given before it and count too.
			if n++; n == killAt {
				cmd.Process.Signal(syscall.SIGKILL)
			}
		}
		cmd.Wait()
		if n < killAt {
			t.Fatalf("round %d: writer stopped after %d acks, before the kill", round, n)
		}
		if err := CheckFiles(dir); err != nil {
			t.Fatalf("round %d: consistency check after SIGKILL: %v", round, err)
		}
		s, err := Open(context.Background(), Options{Dir: dir})
		if err != nil {
			t.Fatalf("round %d: reopen after SIGKILL: %v", round, err)
		}
		ctx := context.Background()
		for id, want := range acked {
			segs, err := s.Segments(ctx, id)
			if err != nil {
				t.Fatalf("round %d: Segments(%s): %v", round, id, err)
			}
			got := map[uint32]string{}
			for _, g := range segs {
				got[g.Seq] = g.Text
			}
			for seq, text := range want {
				if got[seq] != text {
					t.Fatalf("round %d: engagement %s segment %d = %q, want %q (acknowledged before the kill)", round, id, seq, got[seq], text)
				}
			}
		}
		s.Close()
		t.Logf("round %d: %d acknowledged segments over %d engagements survived SIGKILL", round, n, len(acked))
	}
}
