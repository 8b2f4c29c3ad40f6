package tasks

import (
	"context"
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

// pollNowDedupWindow folds the same poll asked several times within a
// minute into one task (PollNowTaskID).
const pollNowDedupWindow = time.Minute

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
	digest, err := payloadDigest(p.Deduplicated())
	if err != nil {
		return "", err
	}
	bucket := at.UTC().Truncate(pollNowDedupWindow).Unix()
	return TypeDocumentUploadPollNow + ":" + digest + ":" + strconv.FormatInt(bucket, 10), nil
}

// NewPollNowTask builds a poll-now task for queue, asked at time at. It
// refuses an invalid payload with FieldErrors.
func NewPollNowTask(queue string, p PollNowPayload, at time.Time) (*asynq.Task, error) {
	p = p.Deduplicated()
	return pollNowKind.build(queue, &p, func() (string, error) { return PollNowTaskID(p, at) })
}

// PollNowHandler runs poll-now tasks: it reads the pending uploads asked for
// (Lighthouse's budget is not spent on ids nobody tracks or already settled)
// and fans them out as status batch tasks of cycle "adhoc:<task id>" through
// the cycles' fan-out (polling.Cycle.RunList), recorded in
// lighthouse526_polling_cycles like any cycle.
type PollNowHandler struct {
	DB      *gorm.DB
	Cycle   *polling.Cycle
	Client  Enqueuer
	Queue   string
	Metrics *Metrics
	Logger  *slog.Logger
	Now     func() time.Time
}

// ProcessTask implements asynq.Handler.
func (h *PollNowHandler) ProcessTask(ctx context.Context, t *asynq.Task) error {
	var p PollNowPayload
	log := h.Logger
	if err := accept(ctx, t, &p, h.Metrics, log); err != nil {
		return err
	}
	ups, err := h.pending(ctx, p)
	if err != nil {
		return err
	}
	if len(ups) == 0 {
		log.InfoContext(ctx, "poll now: nothing pending to poll", "request_ids_asked", len(p.RequestIDs), "form526_submission_id", p.Form526SubmissionID)
		return nil
	}
	taskID, _ := asynq.GetTaskID(ctx)
	cycleID := polling.AdHocCycleID(taskID)
	res, err := h.Cycle.RunList(ctx, log, cycleID, h.Now().UTC(), ups, EnqueueBatches(h.Client, h.Queue, cycleID))
	if err != nil {
		return fmt.Errorf("poll now %s: %w", cycleID, err)
	}
	log.InfoContext(ctx, "poll now fanned out", "cycle_id", cycleID, "documents_due", res.DocumentsDue, "batches", res.Batches,
		"request_ids_asked", len(p.RequestIDs), "form526_submission_id", p.Form526SubmissionID)
	return nil
}

// pending reads the pending, not quarantined uploads the payload names.
func (h *PollNowHandler) pending(ctx context.Context, p PollNowPayload) ([]models.DueUpload, error) {
	if len(p.RequestIDs) > 0 {
		return models.PendingUploadsOfRequestIDs(ctx, h.DB, p.RequestIDs, MaxPollNowRequestIDs)
	}
	return models.PendingUploadsOfSubmission(ctx, h.DB, p.Form526SubmissionID, MaxPollNowRequestIDs)
}
