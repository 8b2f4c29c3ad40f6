package tasks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
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

// StatusFetcher is the part of the Lighthouse client a batch needs.
type StatusFetcher interface {
	GetUploadStatuses(ctx context.Context, requestIDs []string) (*lighthouse.StatusResponse, error)
}

// StatusBatchHandler runs batch tasks.
type StatusBatchHandler struct {
	Lighthouse StatusFetcher
	Updater    *polling.StatusUpdater
	Relay      *polling.Relay // optional: flushes follow-ups right after a failure
	Metrics    *polling.Metrics
	Logger     *slog.Logger
}

// ProcessTask implements asynq.Handler.
func (h *StatusBatchHandler) ProcessTask(ctx context.Context, t *asynq.Task) error {
	var p StatusBatchPayload
	if _, err := accept(ctx, t, &p, h.Metrics, h.Logger); err != nil {
		return err
	}
	retried, _ := asynq.GetRetryCount(ctx)
	maxRetry, ok := asynq.GetMaxRetry(ctx)
	lastAttempt := ok && retried >= maxRetry
	_, err := h.poll(ctx, p, lastAttempt)
	return err
}

// Poll polls one batch inline (worker poll --now), waiting out rate limits.
func (h *StatusBatchHandler) Poll(ctx context.Context, cycleID string, requestIDs []string) (polling.BatchSummary, error) {
	return h.poll(ctx, StatusBatchPayload{CycleID: cycleID, RequestIDs: requestIDs}, true)
}

// poll reads the batch's pending uploads, quarantines those that cannot be
// polled (with the write), asks Lighthouse about the others and writes what
// it said: the read, the call (or its parts) and one write. When waitOnLimit
// is set (inline runs, and a task's last attempt, where a rate-limit error
// would archive the task) it waits for the budget in-process instead of
// returning.
func (h *StatusBatchHandler) poll(ctx context.Context, p StatusBatchPayload, waitOnLimit bool) (polling.BatchSummary, error) {
	log := LoggerFrom(ctx, h.Logger)
	rows, err := h.Updater.Read(ctx, p.RequestIDs)
	if err != nil {
		return polling.BatchSummary{}, fmt.Errorf("read batch: %w", err)
	}
	ids := rows.RequestIDs()
	for {
		ans, err := h.fetch(ctx, log, p, ids)
		if err == nil {
			sum, err := h.Updater.Write(ctx, log, p.CycleID, rows, ans)
			if err != nil {
				return sum, fmt.Errorf("apply statuses: %w", err)
			}
			h.Updater.CycleFinished(ctx, log, p.CycleID)
			if sum.Notifications > 0 && h.Relay != nil {
				if _, err := h.Relay.Flush(ctx); err != nil {
					// The outbox keeps them; the relay's timer retries.
					log.WarnContext(ctx, "failure follow-ups stay in the outbox for now", "error", err.Error())
				}
			}
			return sum, nil
		}
		var rl *lighthouse.RateLimitError
		if errors.As(err, &rl) {
			if !waitOnLimit {
				return polling.BatchSummary{}, err
			}
			if werr := Sleep(ctx, rl.Wait); werr != nil {
				return polling.BatchSummary{}, fmt.Errorf("waiting for the rate limit: %w", werr)
			}
			continue
		}
		return polling.BatchSummary{}, h.pollingError(ctx, log, p, err)
	}
}

// pollingError counts and logs a failed status call once, and returns the
// error with its retry decision: retryable errors retry, permanent ones are
// archived at once.
func (h *StatusBatchHandler) pollingError(ctx context.Context, log *slog.Logger, p StatusBatchPayload, err error) error {
	var counted countedError
	if !errors.As(err, &counted) {
		h.countPollingError(ctx, log, p, err)
	}
	if ctx.Err() != nil {
		return fmt.Errorf("poll batch of %d: %w", len(p.RequestIDs), err)
	}
	if !lighthouse.IsRetryable(err) {
		return fmt.Errorf("poll batch of %d: %w: %w", len(p.RequestIDs), err, asynq.SkipRetry)
	}
	return fmt.Errorf("poll batch of %d: %w", len(p.RequestIDs), err)
}

// countPollingError counts and logs a failed status call once. Where the
// original counted a polling error (original-system.md, "The polling job":
// a non-200 answer its client did not raise on, i.e. a 4xx; "Metrics",
// polling_error) it is counted under polling_error and logged with the
// original's message, which monitors match on. Everything else (5xx,
// timeouts, transport and token failures, unreadable answers), on which the
// original raised and failed its run uncounted, is counted under the
// worker's own key and logged with its own message. Prometheus counts both
// by reason.
func (h *StatusBatchHandler) countPollingError(ctx context.Context, log *slog.Logger, p StatusBatchPayload, err error) {
	reason := lighthouse.Reason(err)
	h.Metrics.PollingErrors.WithLabelValues(reason).Inc()
	msg := polling.LogStatusEndpointError
	if originalPollingError(err) {
		h.Metrics.StatsD.PollingError()
	} else {
		h.Metrics.StatsD.StatusRequestFailed()
		msg = logStatusRequestFailed
	}
	attrs := []any{
		"reason", reason,
		"lighthouse_document_request_ids", p.RequestIDs,
		"timestamp", time.Now().UTC(),
		"error", err.Error(),
	}
	var apiErr *lighthouse.APIError
	if errors.As(err, &apiErr) {
		attrs = append(attrs, "response_status", apiErr.StatusCode, "response_body", apiErr.Error())
		if len(apiErr.Errors) > 0 {
			// VA support asks for these to trace a failed call.
			attrs = append(attrs, "instance", apiErr.Errors[0].Instance, "diagnostics", apiErr.Errors[0].Diagnostics)
		}
	}
	log.WarnContext(ctx, msg, attrs...)
}

// logStatusRequestFailed is logged for a failed status call the original
// would not have counted as a polling error (see countPollingError).
const logStatusRequestFailed = "Lighthouse status request failed (transport, timeout, 5xx or token); the batch is retried unless the error is permanent"

// originalPollingError reports whether the original job would have counted
// err as a polling error: Lighthouse answered, with a 4xx that is not a rate
// limit. (A rate limit never reaches here: it is waited out.)
func originalPollingError(err error) bool {
	var apiErr *lighthouse.APIError
	return errors.As(err, &apiErr) && apiErr.StatusCode >= 400 && apiErr.StatusCode < 500 &&
		apiErr.StatusCode != http.StatusTooManyRequests
}

// Sleep waits d, or until ctx ends (and returns its error): a task waiting
// out a rate limit, the scheduler waiting for its next tick.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
