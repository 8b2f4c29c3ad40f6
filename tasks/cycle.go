package tasks

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"gorm.io/gorm"

	"github.com/vagov/lighthouse526/models"
)

// Cycle fans one polling run out into batches: it streams the due uploads in
// id order (keyset pagination, constant memory) and hands each batch to
// dispatch, recording its progress in lighthouse526_polling_cycles so that a
// retried run resumes after the last dispatched batch instead of starting over.
type Cycle struct {
	DB        *gorm.DB
	Metrics   *Metrics
	Logger    *slog.Logger
	Now       func() time.Time
	BatchSize int
	// An upload is due when never polled, or last polled before the cycle's
	// tick minus Window plus Grace (see README: scheduling).
	Window, Grace time.Duration
	// StaleAfter: a previous cycle that made no progress for this long is
	// taken as dead, not running.
	StaleAfter time.Duration
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
}

// cronCyclePrefix marks cycles started by the scheduler (ad hoc polls have
// their own prefix and never block or skip a scheduled cycle).
const cronCyclePrefix = "cron:"

// Run runs (or resumes) the fan-out of cycle id scheduled at scheduledAt.
func (c *Cycle) Run(ctx context.Context, id string, scheduledAt time.Time, dispatch Dispatch) (CycleResult, error) {
	log := LoggerFrom(ctx, c.Logger).With("cycle_id", id)
	res := CycleResult{CycleID: id}
	dueBefore := scheduledAt.Add(-c.Window).Add(c.Grace)
	row, err := models.StartCycle(ctx, c.DB, id, scheduledAt, dueBefore, c.Now())
	if err != nil {
		return res, err
	}
	if row.FanOutDoneAt != nil {
		res.AlreadyDone, res.DocumentsDue, res.Batches = true, row.DocumentsDue, row.BatchesEnqueued
		sendCycleGauges(ctx, c.DB, c.Metrics, log, id, c.Now()) // a retry after a crash before the gauges
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

	for {
		if err := ctx.Err(); err != nil {
			return res, fmt.Errorf("cycle %s interrupted after %d batches: %w", id, row.BatchesEnqueued, err)
		}
		due, err := models.NextDueBatch(ctx, c.DB, row.CursorUploadID, row.DueBefore, c.BatchSize)
		if err != nil {
			return res, err
		}
		if len(due) == 0 {
			break
		}
		batch := Batch{Seq: row.BatchesEnqueued, FirstUploadID: due[0].ID, RequestIDs: uniqueRequestIDs(due)}
		if err := dispatch(ctx, batch); err != nil {
			return res, fmt.Errorf("cycle %s: dispatch batch %d: %w", id, row.BatchesEnqueued, err)
		}
		if err := models.AdvanceCycle(ctx, c.DB, row, due[len(due)-1].ID, len(due), c.Now()); err != nil {
			return res, err
		}
		c.Metrics.BatchesEnqueued.Inc()
	}
	if err := models.FinishFanOut(ctx, c.DB, row, c.Now()); err != nil {
		return res, err
	}
	res.DocumentsDue, res.Batches = row.DocumentsDue, row.BatchesEnqueued
	c.Metrics.DocumentsDue.Set(float64(row.DocumentsDue))
	sendCycleGauges(ctx, c.DB, c.Metrics, log, id, c.Now()) // when every batch finished before the fan-out
	c.Metrics.LastCycleFanOutTimestamp.Set(float64(c.Now().Unix()))
	if row.DocumentsDue == 0 {
		log.WarnContext(ctx, logNoDocumentsToPoll)
	} else {
		log.InfoContext(ctx, "polling cycle fanned out", "documents_due", row.DocumentsDue, "batches", row.BatchesEnqueued)
	}
	return res, nil
}

// reportPrevious sets the previous cycle's gauges, and says whether this
// scheduled cycle must be skipped because another one (earlier, or a later
// one that started first) is still running: its batches cover the same
// uploads, and two cycles would poll them twice.
func (c *Cycle) reportPrevious(ctx context.Context, log *slog.Logger, row *models.PollingCycle) (bool, error) {
	if len(row.ID) < len(cronCyclePrefix) || row.ID[:len(cronCyclePrefix)] != cronCyclePrefix {
		return false, nil
	}
	prev, err := models.PreviousCycle(ctx, c.DB, cronCyclePrefix, row.ScheduledAt)
	if err != nil {
		return false, err
	}
	if prev != nil {
		c.Metrics.PreviousCycleCompleted.Set(float64(prev.CompletedCount))
		c.Metrics.PreviousCycleFailed.Set(float64(prev.FailedCount))
	}
	running, err := models.ClaimCycle(ctx, c.DB, row, cronCyclePrefix, c.Now(), c.StaleAfter)
	if err != nil || running == nil {
		return false, err
	}
	c.Metrics.CyclesSkipped.Inc()
	log.WarnContext(ctx, "skipping this polling cycle: another one still has batches in flight",
		"running_cycle_id", running.ID, "running_batches_enqueued", running.BatchesEnqueued, "running_batches_done", running.BatchesDone)
	return true, nil
}

// uniqueRequestIDs returns the batch's request ids, each once (two uploads
// may share a request id; one status answers both).
func uniqueRequestIDs(due []models.DueUpload) []string {
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
