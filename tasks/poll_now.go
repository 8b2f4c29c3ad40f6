package tasks

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/hibiken/asynq"
	"gorm.io/gorm"

	"github.com/vagov/lighthouse526/lighthouse"
	"github.com/vagov/lighthouse526/models"
	"github.com/vagov/lighthouse526/polling"
)

// TypeDocumentUploadPollNow polls some uploads now, outside the schedule: a
// list of request ids, or every pending upload of one submission. It fans
// out through status batch tasks like a cycle. The name is a contract.
const TypeDocumentUploadPollNow = "form526:document_upload_poll_now"

// MaxPollNowRequestIDs bounds the request ids of one poll-now payload.
const MaxPollNowRequestIDs = 5000

// Poll-now task settings. The fan-out is a few enqueues; the dedup window
// folds the same poll asked several times within a minute into one task.
const (
	pollNowMaxRetry    = 5
	pollNowTimeout     = 2 * time.Minute
	pollNowRetention   = time.Hour
	pollNowDedupWindow = time.Minute
)

// PollNowPayload names what to poll: request_ids, or form526_submission_id
// (every pending upload of that submission); exactly one of them.
type PollNowPayload struct {
	RequestIDs          []string `json:"request_ids,omitempty"`
	Form526SubmissionID int64    `json:"form526_submission_id,omitempty"`
}

// Validate checks the payload; its problems come back as FieldErrors.
func (p *PollNowPayload) Validate() error {
	fe := FieldErrors{}
	switch {
	case len(p.RequestIDs) > 0 && p.Form526SubmissionID != 0:
		fe["form526_submission_id"] = "give request_ids or form526_submission_id, not both"
	case len(p.RequestIDs) == 0 && p.Form526SubmissionID == 0:
		fe["request_ids"] = "is required (or form526_submission_id)"
	case p.Form526SubmissionID < 0:
		fe["form526_submission_id"] = "must be a positive id"
	case len(p.RequestIDs) > MaxPollNowRequestIDs:
		fe["request_ids"] = fmt.Sprintf("must hold at most %d ids, got %d", MaxPollNowRequestIDs, len(p.RequestIDs))
	}
	for i, id := range p.RequestIDs {
		if !lighthouse.ValidRequestID(id) {
			fe["request_ids"] = fmt.Sprintf("request_ids[%d] is not a Lighthouse requestId (a decimal number)", i)
			break
		}
	}
	return fe.orNil()
}

// Deduplicated returns the payload with each request id once, in the order
// first given: an id asked twice in one poll is polled once, and the payload
// gets the same task id as the one without the repetition.
func (p PollNowPayload) Deduplicated() PollNowPayload {
	if len(p.RequestIDs) < 2 {
		return p
	}
	seen := make(map[string]bool, len(p.RequestIDs))
	ids := make([]string, 0, len(p.RequestIDs))
	for _, id := range p.RequestIDs {
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	p.RequestIDs = ids
	return p
}

// PollNowTaskID is the task id of a poll asked at time at: the same poll
// asked again within the same minute gets the same id, and the queue keeps one.
func PollNowTaskID(p PollNowPayload, at time.Time) (string, error) {
	p = p.Deduplicated()
	b, err := jsonMarshal(p)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	bucket := at.UTC().Truncate(pollNowDedupWindow).Unix()
	return TypeDocumentUploadPollNow + ":" + hex.EncodeToString(sum[:8]) + ":" + strconv.FormatInt(bucket, 10), nil
}

// NewPollNowTask builds a poll-now task for queue, asked at time at. It
// refuses an invalid payload with FieldErrors.
func NewPollNowTask(queue string, p PollNowPayload, at time.Time) (*asynq.Task, error) {
	p = p.Deduplicated()
	if err := p.Validate(); err != nil {
		return nil, err
	}
	b, err := jsonMarshal(p)
	if err != nil {
		return nil, err
	}
	id, err := PollNowTaskID(p, at)
	if err != nil {
		return nil, err
	}
	return asynq.NewTask(TypeDocumentUploadPollNow, b,
		asynq.Queue(queue),
		asynq.TaskID(id),
		asynq.MaxRetry(pollNowMaxRetry),
		asynq.Timeout(pollNowTimeout),
		asynq.Retention(pollNowRetention),
	), nil
}

// PollNowHandler runs poll-now tasks: it keeps the ids of pending uploads
// (Lighthouse's budget is not spent on ids nobody tracks or already settled),
// and enqueues them as status batch tasks of cycle "adhoc:<task id>", which
// is recorded in lighthouse526_polling_cycles like any cycle.
type PollNowHandler struct {
	DB        *gorm.DB
	Client    Enqueuer
	Queue     string
	BatchSize int
	Metrics   *polling.Metrics
	Logger    *slog.Logger
	Now       func() time.Time
}

// ProcessTask implements asynq.Handler.
func (h *PollNowHandler) ProcessTask(ctx context.Context, t *asynq.Task) error {
	log := LoggerFrom(ctx, h.Logger)
	var p PollNowPayload
	if pe := decodePayload(t, &p); pe != nil {
		return reject(ctx, h.Metrics, log, pe)
	}
	ids, err := h.pendingIDs(ctx, p)
	if err != nil {
		return err
	}
	if len(ids) == 0 {
		log.InfoContext(ctx, "poll now: nothing pending to poll", "request_ids_asked", len(p.RequestIDs), "form526_submission_id", p.Form526SubmissionID)
		return nil
	}
	taskID, _ := asynq.GetTaskID(ctx)
	retried, _ := asynq.GetRetryCount(ctx)
	cycleID := polling.AdHocCycleID(taskID)
	now := h.Now().UTC()
	row, err := models.StartCycle(ctx, h.DB, cycleID, now, now, now)
	if err != nil {
		return err
	}
	// Each attempt numbers its batches apart from the previous attempts':
	// the pending ids may have changed since, and a reused batch id would be
	// refused by the queue, leaving some ids unpolled. A batch polled twice
	// is harmless; one never polled waits for the next cycle.
	base := retried * MaxPollNowRequestIDs
	size := max(h.BatchSize, 1)
	for i, start := 0, 0; start < len(ids); i, start = i+1, start+size {
		chunk := ids[start:min(start+size, len(ids))]
		task, err := NewStatusBatchTask(h.Queue, cycleID, base+i, chunk)
		if err != nil {
			return err
		}
		_, err = h.Client.EnqueueContext(ctx, task)
		switch {
		case errors.Is(err, asynq.ErrTaskIDConflict):
			continue // enqueued by an earlier delivery of this attempt
		case err != nil:
			return fmt.Errorf("poll now %s: enqueue batch %d: %w", cycleID, base+i, err)
		}
		h.Metrics.BatchesEnqueued.Inc()
		if err := models.AdvanceCycle(ctx, h.DB, row, 0, 1, len(chunk), h.Now()); err != nil {
			return err
		}
	}
	if err := models.FinishFanOut(ctx, h.DB, row, h.Now()); err != nil {
		return err
	}
	log.InfoContext(ctx, "poll now fanned out", "cycle_id", cycleID, "documents_due", len(ids), "batches", row.BatchesEnqueued,
		"request_ids_asked", len(p.RequestIDs), "form526_submission_id", p.Form526SubmissionID)
	return nil
}

// pendingIDs resolves the payload to the request ids of pending uploads.
func (h *PollNowHandler) pendingIDs(ctx context.Context, p PollNowPayload) ([]string, error) {
	if len(p.RequestIDs) > 0 {
		return models.TrackedRequestIDs(ctx, h.DB, p.RequestIDs)
	}
	ups, err := models.PendingUploadsOfSubmission(ctx, h.DB, p.Form526SubmissionID, MaxPollNowRequestIDs)
	if err != nil {
		return nil, err
	}
	// An upload whose request id no batch may carry is quarantined here, as
	// the cycle's fan-out does, and the rest of the submission is polled.
	good, bad := polling.ScreenDue(ups)
	if len(bad) > 0 {
		if err := polling.Quarantine(ctx, h.DB, h.Metrics, LoggerFrom(ctx, h.Logger), bad, h.Now()); err != nil {
			return nil, err
		}
	}
	return polling.UniqueRequestIDs(good), nil
}
