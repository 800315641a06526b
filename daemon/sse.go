package daemon

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// sseHeartbeat keeps idle streams open through proxies.
const sseHeartbeat = 15 * time.Second

// engagementEvents streams an engagement's events as server-sent events.
// A client resumes with Last-Event-ID (or ?last_event_id=). For an
// engagement no longer in memory, the stored transcript is replayed as
// transcript.final events followed by engagement.ended.
func (d *Daemon) engagementEvents(w http.ResponseWriter, r *http.Request, p *Principal) {
	e, ok := d.lookupEngagement(w, r, p)
	if !ok {
		return
	}
	var after uint64
	if v := r.Header.Get("Last-Event-ID"); v != "" {
		after, _ = strconv.ParseUint(v, 10, 64)
	} else if v := r.URL.Query().Get("last_event_id"); v != "" {
		after, _ = strconv.ParseUint(v, 10, 64)
	}
	fl, ok := w.(http.Flusher)
	if !ok {
		writeProblem(w, r, http.StatusInternalServerError, "internal", "streaming unsupported")
		return
	}
	if err := d.store.AppendAudit(r.Context(), contentRead(r, p, e.ID, "events")); err != nil {
		d.storeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(200)
	write := func(ev Event) {
		fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", ev.ID, ev.Type, ev.Data)
	}
	l, live := d.hub.Get(e.ID)
	if !live {
		d.replayStored(w, r, e.ID, after, write)
		fl.Flush()
		return
	}
	hb := time.NewTicker(sseHeartbeat)
	defer hb.Stop()
	for {
		evs, more, complete, gap := l.Since(after)
		if gap {
			fmt.Fprintf(w, ": events before %d were dropped from the buffer\n\n", evs[0].ID)
		}
		for _, ev := range evs {
			write(ev)
			after = ev.ID
		}
		fl.Flush()
		if complete {
			return
		}
		select {
		case <-more:
		case <-hb.C:
			fmt.Fprint(w, ": ping\n\n")
			fl.Flush()
		case <-r.Context().Done():
			return
		case <-d.stopping:
			return
		}
	}
}

// replayStored writes the stored final segments of an ended engagement.
func (d *Daemon) replayStored(w http.ResponseWriter, r *http.Request, id string, after uint64, write func(Event)) {
	segs, err := d.store.Segments(r.Context(), id)
	if err != nil {
		fmt.Fprintf(w, "event: error\ndata: {\"detail\":\"stored transcript unavailable\"}\n\n")
		return
	}
	var n uint64
	for _, s := range segs {
		n++
		if n <= after {
			continue
		}
		raw, _ := json.Marshal(s)
		write(Event{ID: n, Type: EventTranscriptFinal, Data: raw})
	}
	if n+1 > after {
		raw, _ := json.Marshal(map[string]any{"reason": "stored", "segments": len(segs)})
		write(Event{ID: n + 1, Type: EventEnded, Data: raw})
	}
}
