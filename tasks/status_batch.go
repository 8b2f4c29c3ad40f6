package tasks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"

	"github.com/vagov/lighthouse526/config"
	"github.com/vagov/lighthouse526/lighthouse"
	"github.com/vagov/lighthouse526/polling"
)

// TypeStatusBatch polls Lighthouse once for a batch of request ids and applies
// the answer. The name is a contract: never rename it.
const TypeStatusBatch = "form526:document_upload_status_batch"

// StatusBatchPayload is one batch of Lighthouse request ids.
type StatusBatchPayload struct {
	// CycleID is the cycle (or ad hoc poll) the batch belongs to.
	CycleID    string   `json:"cycle_id"`
	RequestIDs []string `json:"request_ids"`
}

// Validate checks the batch: 1 to config.MaxPollBatchSize request ids (whoever enqueued it), each valid by
// lighthouse.ValidRequestID (the fan-out quarantines uploads whose id is not,
// so a batch never carries one Lighthouse would refuse the call for).
func (p *StatusBatchPayload) Validate() error {
	if p.CycleID == "" {
		return errors.New("cycle_id is required")
	}
	if len(p.RequestIDs) == 0 || len(p.RequestIDs) > config.MaxPollBatchSize {
		return fmt.Errorf("request_ids must hold 1 to %d ids, got %d", config.MaxPollBatchSize, len(p.RequestIDs))
	}
	for i, id := range p.RequestIDs {
		if !lighthouse.ValidRequestID(id) {
			return fmt.Errorf("request_ids[%d] is not a request id (a positive integer of int64)", i)
		}
	}
	return nil
}

// NewStatusBatchTask builds the seq-th batch task of an ad hoc poll (a
// cycle's batches are named by polling.Batch.TaskID).
func NewStatusBatchTask(queue, cycleID string, seq int, requestIDs []string) (*asynq.Task, error) {
	return newStatusBatchTask(queue, cycleID, polling.BatchTaskID(cycleID, seq), requestIDs)
}

func newStatusBatchTask(queue, cycleID, taskID string, requestIDs []string) (*asynq.Task, error) {
	p := StatusBatchPayload{CycleID: cycleID, RequestIDs: requestIDs}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return statusBatchKind.encode(queue, taskID, p)
}

// StatusBatchTimeout bounds one attempt of a batch task: an adaptive
// cycle's lease on the uploads it hands on is measured from it
// (polling.LeaseFor).
func StatusBatchTimeout() time.Duration { return statusBatchKind.Timeout }

// StatusBatchHandler runs batch tasks: a thin adapter from asynq to
// polling.BatchPoller, which reads, asks, decides and writes.
type StatusBatchHandler struct {
	Poller  *polling.BatchPoller
	Metrics *Metrics
	Logger  *slog.Logger
}

// ProcessTask implements asynq.Handler. A permanent refusal of the call is
// archived at once (asynq.SkipRetry); any other error is retried, a rate
// limit without using up a retry (runner.IsFailure).
func (h *StatusBatchHandler) ProcessTask(ctx context.Context, t *asynq.Task) error {
	var p StatusBatchPayload
	log := h.Logger
	if err := accept(ctx, t, &p, h.Metrics, log); err != nil {
		return err
	}
	retried, _ := asynq.GetRetryCount(ctx)
	maxRetry, ok := asynq.GetMaxRetry(ctx)
	lastAttempt := ok && retried >= maxRetry
	_, err := h.Poller.Poll(ctx, log, p.CycleID, p.RequestIDs, lastAttempt)
	var rl *lighthouse.RateLimitError
	if err == nil || ctx.Err() != nil || errors.As(err, &rl) || lighthouse.IsRetryable(err) {
		return err
	}
	return fmt.Errorf("%w: %w", err, asynq.SkipRetry)
}
