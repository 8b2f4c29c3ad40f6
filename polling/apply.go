package polling

import (
	"cmp"
	"context"
	"log/slog"
	"slices"
	"time"

	"github.com/vagov/lighthouse526/lighthouse"
	"github.com/vagov/lighthouse526/models"
)

// applying is one answer being applied to its batch. It holds the batch in
// slices indexed like the pending uploads rather than in maps of copies of
// them: what a batch holds live sets a worker's peak heap.
type applying struct {
	u           *StatusUpdater
	ctx         context.Context
	log         *slog.Logger
	now         time.Time
	uploads     []models.PendingUpload // pollable, in id order
	quarantines []models.Quarantine
	asked       []string
	refused     int
	resp        *lighthouse.StatusResponse
	// first[id] is the first upload (in id order) with that request id, and
	// next[i] the one after upload i with the same request id, or -1.
	first map[string]int
	next  []int
	// seen is what the answer said of each request id so far.
	seen      map[string]uint8
	results   []models.PollResult
	decisions []decision
	decided   []bool
	sum       BatchSummary
}

func (u *StatusUpdater) newApplying(ctx context.Context, log *slog.Logger, rows *BatchRows, ans Answer) *applying {
	a := &applying{u: u, ctx: ctx, log: log, now: u.Now().UTC(), asked: ans.Asked, refused: len(ans.Refused), resp: ans.Resp}
	a.uploads, a.quarantines = rows.withoutRefused(ans.Refused, ans.RefusedDetail)
	if a.resp == nil {
		a.resp = &lighthouse.StatusResponse{}
	}
	a.first = make(map[string]int, len(a.uploads))
	a.next = make([]int, len(a.uploads))
	for i := len(a.uploads) - 1; i >= 0; i-- {
		a.next[i] = -1
		if j, ok := a.first[a.uploads[i].LighthouseDocumentRequestID]; ok {
			a.next[i] = j
		}
		a.first[a.uploads[i].LighthouseDocumentRequestID] = i
	}
	a.seen = make(map[string]uint8, len(ans.Asked))
	for _, id := range ans.Asked {
		a.seen[id] = asked
	}
	for _, id := range ans.Refused {
		a.seen[id] = answered // by its refusal: its uploads are quarantined
	}
	a.results = make([]models.PollResult, len(a.uploads))
	a.decisions = make([]decision, len(a.uploads))
	a.decided = make([]bool, len(a.uploads))
	return a
}

// warnIfNoStatuses logs what the original logged for a 200 without
// statuses (a 404 that knew none of the ids went to its error path instead).
func (a *applying) warnIfNoStatuses() {
	resp := a.resp
	if len(a.asked) > a.refused && len(resp.Statuses) == 0 && len(resp.Invalid) == 0 && len(resp.NotFoundErrors) == 0 {
		a.log.WarnContext(a.ctx, LogNoStatuses,
			"request_ids_not_found_count", len(resp.NotFound),
			"has_request_ids_not_found", len(resp.NotFound) > 0,
			"lighthouse_document_request_ids", a.asked)
	}
}

// decideStatuses turns each status into the write of every upload of its
// request id; a status for an id not asked, or a second one, is skipped.
func (a *applying) decideStatuses() {
	for i := range a.resp.Statuses {
		s := &a.resp.Statuses[i]
		switch a.seen[s.RequestID] {
		case notAsked:
			a.malformed("unasked_id", s.RequestID, "ignored a status for a request id that was not asked for")
			continue
		case answered:
			a.malformed("duplicate_entry", s.RequestID, "ignored a duplicated status entry; the first one was applied")
			continue
		}
		a.seen[s.RequestID] = answered
		if j, ok := a.first[s.RequestID]; ok {
			for ; j >= 0; j = a.next[j] {
				a.decisions[j], a.results[j] = a.u.decide(a.ctx, a.log, &a.sum, &a.uploads[j], s, a.now)
				a.decided[j] = true
			}
		}
	}
}

// skipInvalidEntries accounts for entries that could not be read or
// stored: they change nothing; their uploads are stamped as polled (by
// stampUnanswered) and asked about again next cycle, while the rest of the
// batch goes on.
func (a *applying) skipInvalidEntries() {
	for _, bad := range a.resp.Invalid {
		a.malformed("invalid_entry", bad.RequestID,
			"ignored a status entry that cannot be read or stored; the upload stays pending", "error", bad.Err.Error())
		if bad.RequestID != "" && a.seen[bad.RequestID] == asked {
			a.seen[bad.RequestID] = answered
		}
	}
}

// markUnknown keeps the uploads of ids Lighthouse did not know pending,
// counted as unknown, and logs them once as the original did.
func (a *applying) markUnknown() {
	var unknown []string
	for _, id := range a.resp.NotFound {
		if a.seen[id] != asked {
			continue
		}
		a.seen[id] = answered
		unknown = append(unknown, id)
		if j, ok := a.first[id]; ok {
			for ; j >= 0; j = a.next[j] {
				a.results[j] = models.PollResult{ID: a.uploads[j].ID, NewState: models.StatePending, Unknown: true}
				a.decided[j] = true
				a.sum.Unknown++
			}
		}
	}
	if len(unknown) > 0 {
		m := a.u.Metrics
		m.UnknownRequestIDs.Add(float64(len(unknown)))
		m.PollingErrors.WithLabelValues("not_found").Inc()
		m.StatsD.PollingError()
		a.log.WarnContext(a.ctx, LogStatusEndpointError, unknownIDsAttrs(a.resp, unknown, a.now)...)
	}
}

// stampUnanswered stamps the uploads Lighthouse said nothing about as
// polled, so that an answer missing ids cannot make them be polled in a
// loop.
func (a *applying) stampUnanswered() {
	for j := range a.uploads {
		if a.decided[j] {
			continue
		}
		up := &a.uploads[j]
		if a.seen[up.LighthouseDocumentRequestID] != answered {
			a.malformed("missing_from_answer", up.LighthouseDocumentRequestID, "Lighthouse's answer had no status for a request id that was asked for")
			a.seen[up.LighthouseDocumentRequestID] = answered
		}
		a.results[j] = models.PollResult{ID: up.ID, NewState: models.StatePending}
	}
}

func (a *applying) malformed(kind, requestID, msg string, attrs ...any) {
	a.u.malformed(a.ctx, a.log, &a.sum, kind, requestID, msg, attrs...)
}

// write is the batch's one statement (models.WriteBatch), or what it would
// write under DryRun. Results are written in id order, so concurrent writers
// lock rows in one order: LoadPending returns them so, and the write gets a
// sorted copy if not.
func (u *StatusUpdater) write(ctx context.Context, cycleID string, a *applying) (models.BatchWritten, error) {
	byID := func(x, y models.PollResult) int { return cmp.Compare(x.ID, y.ID) }
	results := a.results
	if !slices.IsSortedFunc(results, byID) {
		results = slices.Clone(a.results)
		slices.SortFunc(results, byID)
	}
	batch := models.BatchWrite{CycleID: cycleID, Source: a.resp.Body, Results: results, Quarantines: a.quarantines}
	if u.DryRun {
		return models.WouldWrite(batch), nil
	}
	return models.WriteBatch(ctx, u.DB, batch, a.now)
}
