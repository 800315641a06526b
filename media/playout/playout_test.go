package playout

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/earshot/earshot/media/voice"
)

// sent records what Run sent.
type sent struct {
	mu      sync.Mutex
	frames  [][]int16
	resumed []bool
	at      []time.Time
	marks   int
}

func (s *sent) frame(pcm []int16, resumed bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.frames = append(s.frames, append([]int16(nil), pcm...))
	s.resumed = append(s.resumed, resumed)
	s.at = append(s.at, time.Now())
	return nil
}

func (s *sent) mark(ch chan struct{}) error {
	s.mu.Lock()
	s.marks++
	s.mu.Unlock()
	close(ch)
	return nil
}

func (s *sent) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.frames)
}

func start(t *testing.T, depth int) (*Queue, *sent) {
	q, s := New(160, depth), &sent{}
	done := make(chan error, 1)
	go func() { done <- q.Run(s.frame, s.mark) }()
	t.Cleanup(func() {
		q.Stop()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return q, s
}

// TestPlayMark: part frames are carried to the next Play, Mark pads the
// last one and closes after every frame before it was sent, frames are
// paced (never faster than real time), and the first frame of each
// talkspurt is marked resumed.
func TestPlayMark(t *testing.T) {
	q, s := start(t, 10)
	ctx := context.Background()
	pcm := make([]int16, 160*5+80)
	for i := range pcm {
		pcm[i] = int16(i)
	}
	if err := q.Play(ctx, pcm[:100]); err != nil {
		t.Fatal(err)
	}
	if err := q.Play(ctx, pcm[100:]); err != nil {
		t.Fatal(err)
	}
	<-q.Mark()
	if n := s.count(); n != 6 {
		t.Fatalf("%d frames sent before the mark closed, want 6", n)
	}
	s.mu.Lock()
	for i, f := range s.frames {
		for j, v := range f {
			want := int16(0)
			if k := i*160 + j; k < len(pcm) {
				want = pcm[k]
			}
			if v != want {
				t.Fatalf("frame %d sample %d = %d, want %d", i, j, v, want)
			}
		}
	}
	if span := s.at[5].Sub(s.at[0]); span < 5*Tick-maxLate {
		t.Errorf("6 frames sent over %v, want at least %v", span, 5*Tick-maxLate)
	}
	if !s.resumed[0] || s.resumed[1] {
		t.Errorf("resumed = %v, want the first frame only", s.resumed)
	}
	s.mu.Unlock()
	// A pause: the next frame starts a new talkspurt.
	pause := time.Now()
	for time.Since(pause) < 5*Tick {
		time.Sleep(Tick)
	}
	q.Play(ctx, make([]int16, 160))
	<-q.Mark()
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.resumed[6] {
		t.Error("the frame after a pause is not marked resumed")
	}
}

// TestClear: Clear drops what is queued (its marks close), a Play blocked
// on the full queue returns and its frames are never sent, and Stop makes
// Play fail with voice.ErrHungUp.
func TestClear(t *testing.T) {
	q, s := start(t, 4)
	ctx := context.Background()
	blocked := make(chan error, 1)
	go func() { blocked <- q.Play(ctx, make([]int16, 160*100)) }() // 2 s, queue of 4
	for s.count() < 3 {
		time.Sleep(5 * time.Millisecond)
	}
	q.Clear()
	if err := <-blocked; err != nil {
		t.Fatal(err)
	}
	n := s.count()
	<-q.Mark() // after whatever the blocked Play still queued: all stale
	if got := s.count(); got > n+1 {
		t.Errorf("%d frames sent after Clear, want at most the one in flight", got-n)
	}
	q.Stop()
	if err := q.Play(ctx, make([]int16, 160)); !errors.Is(err, voice.ErrHungUp) {
		t.Errorf("Play after Stop = %v, want ErrHungUp", err)
	}
	select {
	case <-q.Mark():
	case <-time.After(time.Second):
		t.Error("Mark after Stop did not close")
	}
}
