package polling

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/vagov/lighthouse526/models"
)

// Cycle fans one polling run out into batches: it streams the due uploads in
// id order (keyset pagination, constant memory), or under the adaptive
// strategy claims them most overdue first, and hands each batch to
// dispatch, recording its progress in lighthouse526_polling_cycles so that a
// retried run resumes after the last dispatched batch instead of starting over.
type Cycle struct {
	DB        *gorm.DB
	Metrics   *Metrics
	Now       func() time.Time
	BatchSize int
	// An upload is due when never polled, or last polled before the cycle's
	// tick minus Window plus Grace (see README: scheduling).
	Window, Grace time.Duration
	// StaleAfter: a previous cycle that made no progress for this long is
	// taken as dead, not running.
	StaleAfter time.Duration
	// Adaptive, when set (POLL_STRATEGY=adaptive), makes scheduled and
	// manual cycles poll what the adaptive schedule says is due, within the
	// rate budget; Window and Grace are then unused. Nil: fixed.
	Adaptive *Adaptive
	// KeepCycles is how long cycle rows are kept; a cron cycle deletes those
	// scheduled longer ago (zero: none are deleted).
	KeepCycles time.Duration
}

// Batch is one batch of a cycle's fan-out.
type Batch struct {
	Seq           int   // its number in the cycle, from 0
	FirstUploadID int64 // the id of its first upload
	RequestIDs    []string
}

// TaskID names the batch's task after its number AND its first upload: a
// cycle retried after a lost enqueue reply asks for batch Seq again; if that
// batch already ran, the due uploads now start further on, the name differs,
// and the new batch is enqueued instead of being mistaken for the old one.
func (b Batch) TaskID(cycleID string) string {
	return BatchTaskID(cycleID, b.Seq) + ":" + strconv.FormatInt(b.FirstUploadID, 10)
}

// Dispatch hands a batch of a cycle on: enqueue it, or poll it inline.
type Dispatch func(ctx context.Context, b Batch) error

// CycleResult says what a run of the fan-out did.
type CycleResult struct {
	CycleID      string `json:"cycle_id"`
	DocumentsDue int    `json:"documents_due"`
	Batches      int    `json:"batches"`
	Skipped      bool   `json:"skipped,omitempty"`
	AlreadyDone  bool   `json:"already_done,omitempty"`
	// Quarantined is how many uploads this run of the fan-out quarantined
	// because no batch may carry their request id.
	Quarantined int `json:"quarantined,omitempty"`
	// Capped: an adaptive cycle handed on its share of the rate budget and
	// left the rest due for the next cycle.
	Capped bool `json:"capped,omitempty"`
}

// fanOutPageRows is how many due uploads one fan-out page reads: several
// batches when POLL_BATCH_SIZE is small, so that a cycle of 100-id batches
// costs one scan and one cursor write per page, not per batch.
const fanOutPageRows = 1000

// Run runs (or resumes) the fan-out of cycle id scheduled at scheduledAt,
// logging to log (the task's logger, or the command's). An error is logged
// at error level and counted (cycleFailed) before it is returned.
func (c *Cycle) Run(ctx context.Context, log *slog.Logger, id string, scheduledAt time.Time, dispatch Dispatch) (res CycleResult, err error) {
	log = log.With("cycle_id", id)
	defer func() { c.cycleFailed(ctx, log, err) }()
	res = CycleResult{CycleID: id}
	dueBefore := scheduledAt // adaptive: unused
	if c.Adaptive == nil {
		var err error
		if dueBefore, err = c.dueBefore(ctx, scheduledAt); err != nil {
			return res, err
		}
	}
	row, err := models.StartCycle(ctx, c.DB, id, scheduledAt, dueBefore, c.Now())
	if err != nil {
		return res, err
	}
	if row.FanOutDoneAt != nil {
		res.AlreadyDone, res.DocumentsDue, res.Batches = true, row.DocumentsDue, row.BatchesEnqueued
		SendCycleGauges(ctx, c.DB, c.Metrics, log, id, c.Now()) // a retry after a crash before the gauges
		return res, nil
	}
	fresh := row.BatchesEnqueued == 0
	if fresh {
		skip, err := c.reportPrevious(ctx, log, row)
		if err != nil {
			return res, err
		}
		if skip {
			res.Skipped = true
			return res, nil
		}
	}

	src := c.scan(row)
	if c.Adaptive != nil {
		src = c.claim(row)
	}
	if fresh {
		c.sendDueGauge(ctx, log, row, src)
	}
	if err := c.fanOut(ctx, log, row, &res, src, dispatch); err != nil {
		return res, err
	}
	if c.Adaptive != nil && strings.HasPrefix(id, CronCyclePrefix) {
		c.reportDeferred(ctx, log, res.Capped, src.oldest)
	}
	c.prune(ctx, log, id)
	c.Metrics.DocumentsDue.Set(float64(row.DocumentsDue))
	c.Metrics.LastCycleFanOutTimestamp.Set(float64(c.Now().Unix()))
	switch {
	case row.DocumentsDue == 0 && c.Adaptive != nil:
		// Under the adaptive schedule most cycles find nothing due yet: not
		// the original's warning that nothing is pending.
		log.DebugContext(ctx, "polling cycle found nothing due")
	case row.DocumentsDue == 0:
		log.WarnContext(ctx, LogNoDocumentsToPoll)
	default:
		log.InfoContext(ctx, "polling cycle fanned out", "documents_due", row.DocumentsDue, "batches", row.BatchesEnqueued)
	}
	return res, nil
}

// RunList fans the uploads a caller read (a poll-now task's) out as cycle
// id, asked at at: the same batches, progress records and resume as Run,
// without the due scan and the rules of scheduled cycles (no skip, no
// cycle gauges). Uploads whose request id no batch may carry are
// quarantined first. A retry resumes after the uploads already handed on.
func (c *Cycle) RunList(ctx context.Context, log *slog.Logger, id string, at time.Time, uploads []models.DueUpload, dispatch Dispatch) (CycleResult, error) {
	log = log.With("cycle_id", id)
	res := CycleResult{CycleID: id}
	good, bad := ScreenDue(uploads)
	if len(bad) > 0 {
		if err := Quarantine(ctx, c.DB, c.Metrics, log, bad, c.Now()); err != nil {
			return res, err
		}
		res.Quarantined = len(bad)
	}
	row, err := models.StartCycle(ctx, c.DB, id, at, at, c.Now())
	if err != nil {
		return res, err
	}
	if row.FanOutDoneAt != nil {
		res.AlreadyDone, res.DocumentsDue, res.Batches = true, row.DocumentsDue, row.BatchesEnqueued
		return res, nil
	}
	list := func(_ context.Context, afterID int64, limit int) ([]models.DueUpload, error) {
		i, _ := slices.BinarySearchFunc(good, afterID+1, func(u models.DueUpload, id int64) int { return cmp.Compare(u.ID, id) })
		return good[i:min(i+limit, len(good))], nil
	}
	err = c.fanOut(ctx, log, row, &res, &source{next: list}, dispatch)
	return res, err
}

// page reads the next page of a fan-out: up to limit uploads with an id
// above afterID, in id order, or (a claim) the next limit due uploads.
type page func(ctx context.Context, afterID int64, limit int) ([]models.DueUpload, error)

// source is where a fan-out reads its uploads.
type source struct {
	next page
	// claims: reading a page takes its uploads (models.ClaimDue), so no page
	// is read twice: after quarantining some of a page, the rest of it is
	// handed on, not read again.
	claims bool
	// maxBatches, when positive, is how many batches the cycle may hand on
	// in all, retries included: its share of the rate budget.
	maxBatches int
	// oldest is when the most overdue upload the source claimed fell due.
	oldest time.Time
}

// scan is the fixed strategy's source: a keyset scan of the uploads not
// polled since the cycle's due-before time.
func (c *Cycle) scan(row *models.PollingCycle) *source {
	return &source{next: func(ctx context.Context, afterID int64, limit int) ([]models.DueUpload, error) {
		return models.NextDueBatch(ctx, c.DB, afterID, row.DueBefore, c.Now(), limit)
	}}
}

// claim is the adaptive strategy's source: claims of the uploads due now,
// most overdue first, each leased for Adaptive.Lease; a cron cycle's are
// capped at its share of the budget (a manual run polls everything due).
func (c *Cycle) claim(row *models.PollingCycle) *source {
	src := &source{claims: true}
	if strings.HasPrefix(row.ID, CronCyclePrefix) {
		src.maxBatches = CallsPerCycle(c.Adaptive.BudgetPerMinute, c.Adaptive.Period(row.ScheduledAt))
	}
	src.next = func(ctx context.Context, _ int64, limit int) ([]models.DueUpload, error) {
		now := c.Now()
		claimed, err := models.ClaimDue(ctx, c.DB, now, now.Add(c.Adaptive.Lease), c.Adaptive.FirstPoll(), limit)
		if err != nil || len(claimed) == 0 {
			return nil, err
		}
		if src.oldest.IsZero() {
			src.oldest = claimed[0].DueAt
		}
		due := make([]models.DueUpload, len(claimed))
		for i := range claimed {
			due[i] = claimed[i].DueUpload
		}
		return due, nil
	}
	return src
}

// fanOut is the one fan-out of every cycle: it reads the cycle's uploads page
// by page after its cursor, quarantines those no batch may carry, hands the
// rest on in batches, records its progress and marks the fan-out done.
func (c *Cycle) fanOut(ctx context.Context, log *slog.Logger, row *models.PollingCycle, res *CycleResult, src *source, dispatch Dispatch) error {
	quarantined := map[int64]bool{}
	size := max(c.BatchSize, 1)
	pageRows := max(fanOutPageRows/size, 1) * size
	for {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("cycle %s interrupted after %d batches: %w", row.ID, row.BatchesEnqueued, err)
		}
		limit := pageRows
		if src.maxBatches > 0 {
			left := src.maxBatches - row.BatchesEnqueued
			if left <= 0 {
				res.Capped = true
				break
			}
			limit = min(limit, left*size)
		}
		due, err := src.next(ctx, row.CursorUploadID, limit)
		if err != nil {
			return err
		}
		if len(due) == 0 {
			break
		}
		if good, n, err := c.quarantineInvalid(ctx, log, due, quarantined); err != nil {
			return err
		} else if n > 0 {
			res.Quarantined += n
			if !src.claims {
				// The scan leaves them out now: read the page again, full.
				continue
			}
			due = good
		}
		if err := c.dispatchPage(ctx, row, due, size, dispatch); err != nil {
			return err
		}
	}
	if err := models.FinishFanOut(ctx, c.DB, row, c.Now()); err != nil {
		return err
	}
	res.DocumentsDue, res.Batches = row.DocumentsDue, row.BatchesEnqueued
	SendCycleGauges(ctx, c.DB, c.Metrics, log, row.ID, c.Now()) // when every batch finished before the fan-out
	return nil
}

// quarantineInvalid quarantines the due uploads whose request id no batch
// may carry (lighthouse.ValidRequestID; Lighthouse would refuse the whole
// call), and returns the others and how many it quarantined: one more
// statement, only for a page holding such an upload. done holds the uploads
// this run quarantined, so that one still due after its quarantine (which
// the scan should have left out) stops the fan-out instead of looping on it.
func (c *Cycle) quarantineInvalid(ctx context.Context, log *slog.Logger, due []models.DueUpload, done map[int64]bool) ([]models.DueUpload, int, error) {
	good, bad := ScreenDue(due)
	if len(bad) == 0 {
		return due, 0, nil
	}
	for _, q := range bad {
		if done[q.UploadID] {
			return nil, 0, fmt.Errorf("cycle: upload %d is still due after its quarantine", q.UploadID)
		}
		done[q.UploadID] = true
	}
	return good, len(bad), Quarantine(ctx, c.DB, c.Metrics, log, bad, c.Now())
}

// dueBefore is the polled-at time before which a pending upload is due in
// the cycle scheduled at scheduledAt: its tick minus the window plus the
// grace, or, when later, the end of the last cron cycle scheduled by then.
// The second term keeps "every pending upload once per cycle" true when a
// cycle's batches ran longer than the grace (a fan-out of 30,000 uploads in
// batches of 100 at 60 calls a minute takes five minutes): whatever that
// cycle polled is due again in the next one.
func (c *Cycle) dueBefore(ctx context.Context, scheduledAt time.Time) (time.Time, error) {
	due := scheduledAt.Add(-c.Window).Add(c.Grace)
	prev, err := models.PreviousCycle(ctx, c.DB, CronCyclePrefix, due.Add(time.Microsecond))
	if err != nil {
		return due, err
	}
	// A batch's write stamps its uploads and its cycle's updated_at with the
	// same time, so the cycle's last write bounds what it polled.
	if prev != nil && !prev.UpdatedAt.Before(due) {
		due = prev.UpdatedAt.Add(time.Microsecond)
	}
	return due, nil
}

// dispatchPage hands one page of due uploads on, batch by batch, and
// records each batch in the cycle as soon as it is handed on, so a retry
// resumes after the last one recorded: a process that dies between handing
// a batch on and recording it hands the same batch on again, under the same
// task id, which the queue refuses. (Recording a whole page at once would
// leave every batch of the page unrecorded, and a retry would split what is
// still due differently, putting uploads in two batches.) The record does
// not wait for the WAL flush (models.AdvanceCycle), which is what made one
// record per batch slow.
func (c *Cycle) dispatchPage(ctx context.Context, row *models.PollingCycle, due []models.DueUpload, size int, dispatch Dispatch) error {
	for _, part := range Split(due, size) {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("cycle %s interrupted after %d batches: %w", row.ID, row.BatchesEnqueued, err)
		}
		batch := Batch{Seq: row.BatchesEnqueued, FirstUploadID: part[0].ID, RequestIDs: UniqueRequestIDs(part)}
		if err := dispatch(ctx, batch); err != nil {
			return fmt.Errorf("cycle %s: dispatch batch %d: %w", row.ID, batch.Seq, err)
		}
		if err := models.AdvanceCycle(ctx, c.DB, row, part[len(part)-1].ID, 1, len(part), c.Now()); err != nil {
			return err
		}
		c.Metrics.BatchesEnqueued.Inc()
	}
	return nil
}

// reportPrevious sets the previous cycle's gauges, and says whether this
// scheduled cycle must be skipped because another one (earlier, or a later
// one that started first) is still running: under the fixed strategy its
// batches cover the same uploads, and two cycles would poll them twice.
// Under the adaptive strategy no cycle is skipped: each claims what it
// polls, leased, so overlapping cycles never hand on the same upload.
func (c *Cycle) reportPrevious(ctx context.Context, log *slog.Logger, row *models.PollingCycle) (bool, error) {
	if !strings.HasPrefix(row.ID, CronCyclePrefix) {
		return false, nil
	}
	prev, err := models.PreviousCycle(ctx, c.DB, CronCyclePrefix, row.ScheduledAt)
	if err != nil {
		return false, err
	}
	if prev != nil {
		c.Metrics.PreviousCycleCompleted.Set(float64(prev.CompletedCount))
		c.Metrics.PreviousCycleFailed.Set(float64(prev.FailedCount))
	}
	if c.Adaptive != nil {
		return false, nil
	}
	running, err := models.ClaimCycle(ctx, c.DB, row, CronCyclePrefix, c.Now(), c.StaleAfter)
	if err != nil || running == nil {
		return false, err
	}
	c.Metrics.CyclesSkipped.Inc()
	log.WarnContext(ctx, "skipping this polling cycle: another one still has batches in flight",
		"running_cycle_id", running.ID, "running_batches_enqueued", running.BatchesEnqueued, "running_batches_done", running.BatchesDone)
	return true, nil
}

// prune deletes the cycle rows older than KeepCycles, from a cron cycle
// (a cycle a minute under the adaptive strategy is 1440 rows a day). A
// failure costs nothing but the rows: the next cycle prunes them.
func (c *Cycle) prune(ctx context.Context, log *slog.Logger, id string) {
	if c.KeepCycles <= 0 || !strings.HasPrefix(id, CronCyclePrefix) {
		return
	}
	if _, err := models.PruneCycles(ctx, c.DB, c.Now().Add(-c.KeepCycles)); err != nil {
		log.WarnContext(ctx, "could not delete old polling cycle rows", "error", err.Error())
	}
}

// UniqueRequestIDs returns the batch's request ids, each once (two uploads
// may share a request id; one status answers both).
func UniqueRequestIDs(due []models.DueUpload) []string {
	seen := make(map[string]bool, len(due))
	ids := make([]string, 0, len(due))
	for _, d := range due {
		if !seen[d.LighthouseDocumentRequestID] {
			seen[d.LighthouseDocumentRequestID] = true
			ids = append(ids, d.LighthouseDocumentRequestID)
		}
	}
	return ids
}

// logCycleFailed is logged, at error level, for every run of a cycle that
// fails: its task is retried, but never in silence (issue 23: an adaptive
// cycle failing on every run logged nothing at any level).
const logCycleFailed = "a polling cycle failed; its task is retried"

// cycleFailed logs and counts a failed run of a cycle; a run cut short by
// its context (shutdown, the task's deadline) is not a failure of its own.
func (c *Cycle) cycleFailed(ctx context.Context, log *slog.Logger, err error) {
	if err == nil || ctx.Err() != nil {
		return
	}
	c.Metrics.CycleErrors.Inc()
	log.ErrorContext(ctx, logCycleFailed, "error", err.Error())
}
