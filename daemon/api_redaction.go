package daemon

import (
	"errors"
	"net/http"

	"github.com/earshot/earshot/store"
)

// unredactedReaders may read the sealed unredacted copies.
var unredactedReaders = []Role{RoleCompliance}

func (d *Daemon) redactionRoutes() []route {
	return []route{
		{"GET", "/api/v1/engagements/{id}/unredacted", unredactedReaders,
			"The transcript with the sealed unredacted originals of the segments redaction changed (compliance role; audited)", d.engagementUnredacted},
	}
}

// engagementUnredacted returns an engagement's transcript with the sealed
// unredacted original in place of every segment redaction changed, and
// the sequence numbers of those segments. The read is audited before
// anything is returned.
func (d *Daemon) engagementUnredacted(w http.ResponseWriter, r *http.Request, p *Principal) {
	e, ok := d.lookupEngagement(w, r, p)
	if !ok {
		return
	}
	originals, err := d.store.Originals(r.Context(), e.ID, contentRead(r, p, e.ID, "unredacted"))
	switch {
	case errors.Is(err, store.ErrOriginalExpired):
		writeProblem(w, r, http.StatusGone, "unredacted-expired", "the engagement's unredacted copy has expired")
		return
	case errors.Is(err, store.ErrNotFound):
		writeProblem(w, r, http.StatusNotFound, "no-unredacted-copy", "the engagement has no unredacted copy")
		return
	case err != nil:
		d.storeError(w, r, err)
		return
	}
	segs, err := d.store.Segments(r.Context(), e.ID)
	if err != nil {
		d.storeError(w, r, err)
		return
	}
	bySeq := make(map[uint32]store.Segment, len(originals))
	for _, o := range originals {
		bySeq[o.Seq] = o
	}
	replaced := []uint32{}
	for i, g := range segs {
		if o, ok := bySeq[g.Seq]; ok {
			segs[i].Text, segs[i].Words, segs[i].Translations = o.Text, o.Words, nil
			replaced = append(replaced, g.Seq)
		}
	}
	writeJSON(w, 200, map[string]any{"engagement": e.ID, "segments": segs, "unredacted_seqs": replaced})
}
