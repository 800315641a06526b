package daemon

import (
	"context"
	"encoding/json"
	"time"

	"github.com/earshot/earshot/inference/qm"
	"github.com/earshot/earshot/store"
)

// EventHold is published when the source signals that a party's stream
// of a call went on hold or resumed (SIP re-INVITE, or PUT
// /engagements/{id}/hold); data: party (absent when the whole call was
// put on hold through the API), held, at_ms (the call's media time).
const EventHold = "hold"

// maxHoldCalls bounds the calls whose hold state is kept in memory; a
// call's state goes when its post analysis runs.
const maxHoldCalls = 10000

// holdState is the hold state of one live call: the call is on hold
// while at least one party's stream is. Times are on the engagement's
// media clock, whose zero is the arrival of its first media packet.
type holdState struct {
	origin time.Time
	held   map[string]bool
	since  int64 // media time when the current hold began
	done   []qm.Interval
}

// hold records that party's stream of the live engagement id went on hold
// (held) or resumed, and returns the media time at which it did: the time
// since origin, the arrival of the engagement's first media packet (zero
// before it: the hold begins at 0).
func (q *quality) hold(id string, origin time.Time, party string, held bool) int64 {
	now := q.clock()
	known := !origin.IsZero()
	if !known {
		origin = now
	}
	q.holdMu.Lock()
	defer q.holdMu.Unlock()
	st := q.holds[id]
	if st == nil {
		if len(q.holds) >= maxHoldCalls {
			q.prom.failures.WithLabelValues("hold").Inc()
			return max(0, now.Sub(origin).Milliseconds())
		}
		if q.holds == nil {
			q.holds = map[string]*holdState{}
		}
		st = &holdState{origin: origin, held: map[string]bool{}}
		q.holds[id] = st
	} else if known {
		st.origin = origin // media arrived after a hold signalled before it
	}
	at := max(0, now.Sub(st.origin).Milliseconds())
	was := len(st.held) > 0
	if held {
		st.held[party] = true
	} else {
		delete(st.held, party)
	}
	switch now := len(st.held) > 0; {
	case now && !was:
		st.since = at
	case !now && was && at > st.since:
		st.done = append(st.done, qm.Interval{StartMS: st.since, EndMS: at})
	}
	return at
}

// holdsOf returns the hold stretches of a live call; a hold still running
// ends at the media time endMS, or, when end is not zero, at end. With
// forget, the call's state goes. ok is false when no source signalled
// hold for the call.
func (q *quality) holdsOf(id string, endMS int64, end time.Time, forget bool) (hold []qm.Interval, ok bool) {
	q.holdMu.Lock()
	defer q.holdMu.Unlock()
	st := q.holds[id]
	if st == nil {
		return nil, false
	}
	if !end.IsZero() {
		endMS = end.Sub(st.origin).Milliseconds()
	}
	hold = append(hold, st.done...)
	if len(st.held) > 0 && endMS > st.since {
		hold = append(hold, qm.Interval{StartMS: st.since, EndMS: endMS})
	}
	if forget {
		delete(q.holds, id)
	}
	return hold, true
}

// endedHolds returns the hold stretches of an engagement that ended at
// end: those the source signalled while it was live (kept until its post
// analysis), else those stored with its speaker metrics (an evaluation run
// again later).
func (q *quality) endedHolds(ctx context.Context, e *store.Engagement, end time.Time) []qm.Interval {
	if hold, ok := q.holdsOf(e.ID, 0, end, false); ok {
		return hold
	}
	r, err := q.d.store.Result(ctx, e.ID, resultSpeakerMetrics)
	if err != nil {
		return nil
	}
	var m struct {
		Holds []qm.Interval `json:"holds"`
	}
	json.Unmarshal(r.Payload, &m)
	return m.Holds
}

// mediaOrigin is the zero of a live call's media clock: the arrival of
// its first media packet when the pipeline feeds it (zero before that),
// else its start (segments posted through the API are timed from it).
func (q *quality) mediaOrigin(e store.Engagement) time.Time {
	if o, ok := q.origins.Load(e.ID); ok {
		return o.(func() time.Time)()
	}
	return e.Start
}

// clock is the quality analyzer's time.
func (q *quality) clock() time.Time {
	if q.now != nil {
		return q.now()
	}
	return time.Now()
}
