package daemon

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/earshot/earshot/inference/bot"
	"github.com/earshot/earshot/store"
)

// A bot with very many training phrases takes minutes to publish (the
// intent model and its held-out folds are trained). POST
// /bots/{id}/publish?background=true answers 202 with a publish job at
// once; GET /bots/{id}/publishes/{job} tells how it went. Jobs run one at
// a time (publishes are serialised anyway), at most maxPublishJobs wait,
// and the last keptPublishJobs finished ones are kept in memory (a
// restart forgets them; the published versions are in the store).
const (
	maxPublishJobs  = 8
	keptPublishJobs = 100
)

// publishJob is one background publish.
type publishJob struct {
	ID       int64          `json:"job"`
	Bot      string         `json:"bot"`
	State    string         `json:"state"` // queued, running, published, refused, failed
	Queued   time.Time      `json:"queued"`
	Finished *time.Time     `json:"finished,omitempty"`
	Result   *publishResult `json:"result,omitempty"`
	Detail   string         `json:"detail,omitempty"`
	Problems bot.Problems   `json:"problems,omitempty"`
}

// publishJobs holds the background publishes.
type publishJobs struct {
	mu   sync.Mutex
	next int64                 // +checklocks:mu
	jobs map[int64]*publishJob // +checklocks:mu
	// done are the finished jobs, oldest first.
	done []int64 // +checklocks:mu
	// pending counts the jobs queued or running.
	pending int // +checklocks:mu
}

// snapshot returns a copy of job id of bot, if known.
func (pj *publishJobs) snapshot(botID string, id int64) (publishJob, bool) {
	pj.mu.Lock()
	defer pj.mu.Unlock()
	j, ok := pj.jobs[id]
	if !ok || j.Bot != botID {
		return publishJob{}, false
	}
	return *j, true
}

// set changes a job under the lock.
func (pj *publishJobs) set(j *publishJob, f func(*publishJob)) {
	pj.mu.Lock()
	defer pj.mu.Unlock()
	f(j)
}

// finish marks a job finished and forgets the oldest finished ones.
func (pj *publishJobs) finish(j *publishJob, f func(*publishJob)) {
	pj.mu.Lock()
	defer pj.mu.Unlock()
	f(j)
	now := time.Now().UTC()
	j.Finished = &now
	pj.pending--
	pj.done = append(pj.done, j.ID)
	for len(pj.done) > keptPublishJobs {
		delete(pj.jobs, pj.done[0])
		pj.done = pj.done[1:]
	}
}

// publishInBackground queues a publish of def and answers 202 with its job.
func (d *Daemon) publishInBackground(w http.ResponseWriter, r *http.Request, p *Principal, def bot.Definition) {
	pj := &d.bots.publishes
	pj.mu.Lock()
	if pj.pending >= maxPublishJobs {
		pj.mu.Unlock()
		w.Header().Set("Retry-After", "60")
		writeProblem(w, r, http.StatusServiceUnavailable, "busy", fmt.Sprintf("%d publishes are already waiting; retry later", maxPublishJobs))
		return
	}
	if pj.jobs == nil {
		pj.jobs = map[int64]*publishJob{}
	}
	pj.next++
	j := &publishJob{ID: pj.next, Bot: def.ID, State: "queued", Queued: time.Now().UTC()}
	pj.jobs[j.ID] = j
	pj.pending++
	snap := *j
	pj.mu.Unlock()
	audit := d.auditBot(r, p, "bot.publish", def.ID)
	user := p.User.ID
	ctx := d.hub.Context() // outlives the request; ends with the daemon
	d.bots.wg.Add(1)
	go func() {
		defer d.bots.wg.Done()
		d.runPublish(ctx, j, def, user, audit)
	}()
	w.Header().Set("Location", "/api/v1/bots/"+def.ID+"/publishes/"+strconv.FormatInt(j.ID, 10))
	writeJSON(w, http.StatusAccepted, snap)
}

func (d *Daemon) runPublish(ctx context.Context, j *publishJob, def bot.Definition, user string, audit store.AuditEntry) {
	pj := &d.bots.publishes
	pj.set(j, func(j *publishJob) { j.State = "running" })
	res, perr := d.publishDefinition(ctx, def, user, audit)
	pj.finish(j, func(j *publishJob) {
		switch {
		case perr == nil:
			j.State, j.Result = "published", res
		case perr.problems != nil:
			j.State, j.Detail, j.Problems = "refused", perr.Error(), perr.problems
		default:
			j.State, j.Detail = "failed", "the publish could not be stored"
			d.logger.Error("background publish failed", "bot", def.ID, "job", j.ID, "err", perr.err)
		}
	})
}

// getPublishJob answers a background publish's state.
func (d *Daemon) getPublishJob(w http.ResponseWriter, r *http.Request, p *Principal) {
	id, err := strconv.ParseInt(r.PathValue("job"), 10, 64)
	if err != nil || id <= 0 {
		d.badRequest(w, r, 400, "job must be a positive integer", "job")
		return
	}
	j, ok := d.bots.publishes.snapshot(r.PathValue("id"), id)
	if !ok {
		writeProblem(w, r, http.StatusNotFound, "not-found", "no such publish job (jobs are kept in memory until a restart)")
		return
	}
	writeJSON(w, 200, j)
}
