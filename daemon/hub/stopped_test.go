package hub

import (
	"context"
	"testing"
	"time"

	"github.com/earshot/earshot/inference"
	"github.com/earshot/earshot/store"
)

// slowPost is a post analyzer that waits until it is released.
type slowPost struct{ release chan struct{} }

func (s slowPost) OnEnd(context.Context, *store.Engagement, []inference.Utterance, func(string, any)) {
	<-s.release
}

// TestStoppedBeforeDone: Stopped closes as soon as the hub ends an
// engagement (here on its media timeout), while the post analyzers still
// run, and input is refused from then on; Done closes after them.
func TestStoppedBeforeDone(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MediaTimeout = 10 * time.Millisecond
	h := newTestHub(t, cfg, hideTypes{})
	post := slowPost{release: make(chan struct{})}
	h.AddPost(post)
	e := chat("billing")
	e.Channel = "voice"
	l, err := h.Start(context.Background(), e, "sip")
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-l.Stopped():
		t.Fatal("stopped before it ended")
	default:
	}
	h.tick(time.Now().Add(time.Second)) // the media timeout has passed
	select {
	case <-l.Stopped():
	case <-time.After(10 * time.Second):
		t.Fatal("Stopped not closed after the media timeout ended the engagement")
	}
	if l.Submit(store.Segment{Speaker: "customer", Text: "late", Final: true}) {
		t.Error("input accepted after Stopped")
	}
	select {
	case <-l.Done():
		t.Fatal("Done closed while a post analyzer runs")
	default:
	}
	close(post.release)
	select {
	case <-l.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("Done not closed after the post analyzers")
	}
}
