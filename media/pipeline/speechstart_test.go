package pipeline_test

import (
	"context"
	"sync"
	"testing"

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
