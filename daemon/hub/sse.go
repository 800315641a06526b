package hub

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/earshot/earshot/store"
)

// Heartbeat is how often an idle stream gets a comment line, which keeps
// it open through proxies.
const Heartbeat = 15 * time.Second

// ErrNoStreaming is returned by ServeEvents for a ResponseWriter that
// cannot flush; nothing was written then.
var ErrNoStreaming = errors.New("hub: response writer cannot stream")

// ErrBadEventID is returned by LastEventID for a resume position that is
// not a decimal event ID.
var ErrBadEventID = errors.New("hub: last event ID must be a decimal event ID")

// LastEventID returns the position a reader resumes after: the
// Last-Event-ID header, else the last_event_id query parameter (for
// clients that cannot set headers), else 0. field names where it came
// from, for error messages.
func LastEventID(r *http.Request) (after uint64, field string, err error) {
	v, field := r.Header.Get("Last-Event-ID"), "Last-Event-ID"
	if v == "" {
		v, field = r.URL.Query().Get("last_event_id"), "last_event_id"
	}
	if v == "" {
		return 0, "", nil
	}
	after, err = strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, field, ErrBadEventID
	}
	return after, field, nil
}

// ServeEvents writes the events of engagement e after ID after to w as
// server-sent events. A live or recently ended engagement streams from
// memory until it completes or the request ends, with a heartbeat while
// idle; for an engagement no longer in memory, the stored transcript is
// replayed as transcript.final events followed by engagement.ended. Events
// the Controls do not show are left out (their IDs stay unused). The
// caller has checked that the reader may see e, and audited the read.
func (h *Hub) ServeEvents(w http.ResponseWriter, r *http.Request, e store.Engagement, after uint64) error {
	fl, ok := w.(http.Flusher)
	if !ok {
		return ErrNoStreaming
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	write := func(ev Event) {
		if h.controls.ShowEvent(ev, &e) {
			fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", ev.ID, ev.Type, ev.Data)
		}
	}
	l, live := h.Get(e.ID)
	if !live {
		h.replayStored(w, r, e.ID, after, write)
		fl.Flush()
		return nil
	}
	hb := time.NewTicker(Heartbeat)
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
			return nil
		}
		select {
		case <-more:
		case <-hb.C:
			fmt.Fprint(w, ": ping\n\n")
			fl.Flush()
		case <-r.Context().Done():
			return nil
		}
	}
}

// replayStored writes the stored final segments of an ended engagement.
func (h *Hub) replayStored(w http.ResponseWriter, r *http.Request, id string, after uint64, write func(Event)) {
	segs, err := h.store.Segments(r.Context(), id)
	if err != nil {
		h.logger.Warn("stored transcript not replayed", "engagement", id, "err", err)
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
	if n >= after { // n+1 > after, without overflow
		raw, _ := json.Marshal(map[string]any{"reason": "stored", "segments": len(segs)})
		write(Event{ID: n + 1, Type: EventEnded, Data: raw})
	}
}
