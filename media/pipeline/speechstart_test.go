package pipeline_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/earshot/earshot/media/audio"
	"github.com/earshot/earshot/media/codec"
	"github.com/earshot/earshot/media/pipeline"
)

// TestSpeechStart: OnSpeechStart is called once per speech region, with
// the party, before the region's first segment (a voice bot stops its
// prompt on it).
func TestSpeechStart(t *testing.T) {
	p := newPipeline(t, pipeline.DefaultConfig(), nil)
	pcm16 := load16k(t, file0880)
	down, _ := audio.NewResampler(16000, 8000)
	speech := down.Flush(down.Process(nil, pcm16))
	silence := make([]int16, 8000)
	var all []int16
	for range 2 {
		all = append(append(all, silence...), speech...)
	}
	all = append(all, silence...)
	var mu sync.Mutex
	var starts []string
	segsAtStart := -1
	var seen int
	e, err := p.Open(context.Background(), pipeline.OpenOptions{ID: "s1", Source: "sip", Blocking: true, OnSpeechStart: func(party string) {
		mu.Lock()
		starts = append(starts, party)
		if segsAtStart < 0 {
			segsAtStart = seen
		}
		mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	pt, err := e.AddParty(pipeline.PartyOptions{Name: "customer", Format: codec.Format{Codec: codec.PCMU}})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range e.Segments() {
			mu.Lock()
			seen++
			mu.Unlock()
		}
	}()
	if err := pt.Write(codec.EncodeMulaw(nil, all)); err != nil {
		t.Fatal(err)
	}
	e.Close()
	<-done
	mu.Lock()
	defer mu.Unlock()
	if len(starts) < 2 || starts[0] != "customer" {
		t.Errorf("speech starts %v, want at least one per utterance (2) for customer", starts)
	}
	if segsAtStart != 0 {
		t.Errorf("the first speech start came after %d segments, want before any", segsAtStart)
	}
}

// TestHeard: Heard follows the party's audio through the detector: it
// is past every segment's end when the segment arrives, and at the end it
// is the whole audio's length after the origin; a party that does not
// exist has none.
func TestHeard(t *testing.T) {
	p := newPipeline(t, pipeline.DefaultConfig(), nil)
	pcm16 := load16k(t, file0880)
	down, _ := audio.NewResampler(16000, 8000)
	speech := down.Flush(down.Process(nil, pcm16))
	all := append(append(make([]int16, 8000), speech...), make([]int16, 8000)...)
	e, err := p.Open(context.Background(), pipeline.OpenOptions{ID: "h1", Source: "sip", Blocking: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := e.Heard("customer"); ok {
		t.Error("Heard before the party exists")
	}
	pt, err := e.AddParty(pipeline.PartyOptions{Name: "customer", Format: codec.Format{Codec: codec.PCMU}})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var segs, behind int
	go func() {
		defer close(done)
		for s := range e.Segments() {
			h, ok := e.Heard("customer")
			segs++
			if !ok || h.Before(e.Origin().Add(time.Duration(s.EndMs)*time.Millisecond)) {
				behind++
			}
		}
	}()
	if err := pt.Write(codec.EncodeMulaw(nil, all)); err != nil {
		t.Fatal(err)
	}
	e.Close()
	<-done
	if segs == 0 || behind > 0 {
		t.Errorf("%d of %d segments arrived before Heard passed their end", behind, segs)
	}
	h, ok := e.Heard("customer")
	want := time.Duration(len(all)) * time.Second / 8000
	if got := h.Sub(e.Origin()); !ok || got < want-40*time.Millisecond || got > want+40*time.Millisecond {
		t.Errorf("Heard at the end = %s after the origin (%v), want the audio's %s", got, ok, want)
	}
	if _, ok := e.Heard("agent"); ok {
		t.Error("Heard for a party that does not exist")
	}
}
