package polling

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/vagov/lighthouse526/lighthouse"
)

// StatusFetcher is the part of the Lighthouse client a batch needs.
type StatusFetcher interface {
	GetUploadStatuses(ctx context.Context, requestIDs []string) (*lighthouse.StatusResponse, error)
}

// BatchPoller polls one batch of request ids, top to bottom: it reads the
// batch's pending uploads (setting aside those that cannot be polled), asks
// Lighthouse about the others with the batch policy (ask.go: halves on
// 413/504, isolation of the ids refused with 400), decides what each answer
// means and writes it all in one statement (StatusUpdater.Write).
type BatchPoller struct {
	Lighthouse StatusFetcher
	Updater    *StatusUpdater
	Relay      *Relay // optional: flushes follow-ups right after a failure
}

// Poll polls the batch of requestIDs for cycle cycleID. When waitOnLimit is
// set (inline runs, and a task's last attempt, where a rate-limit error
// would archive the task) it waits for the budget in-process instead of
// returning the *lighthouse.RateLimitError. A failed call is counted and
// logged here, once; the error returned says whether it may be retried
// (lighthouse.IsRetryable).
func (p *BatchPoller) Poll(ctx context.Context, log *slog.Logger, cycleID string, requestIDs []string, waitOnLimit bool) (BatchSummary, error) {
	rows, err := p.Updater.Read(ctx, requestIDs)
	if err != nil {
		return BatchSummary{}, fmt.Errorf("read batch: %w", err)
	}
	ans, err := p.fetchWaiting(ctx, log, rows.RequestIDs(), waitOnLimit)
	if err != nil {
		return BatchSummary{}, p.pollingError(ctx, log, requestIDs, err)
	}
	sum, err := p.Updater.Write(ctx, log, cycleID, rows, ans)
	if err != nil {
		return sum, fmt.Errorf("apply statuses: %w", err)
	}
	p.Updater.CycleFinished(ctx, log, cycleID)
	p.flushFollowUps(ctx, log, sum)
	return sum, nil
}

// fetchWaiting is fetch, waiting out rate limits when waitOnLimit is set.
func (p *BatchPoller) fetchWaiting(ctx context.Context, log *slog.Logger, ids []string, waitOnLimit bool) (Answer, error) {
	for {
		ans, err := p.fetch(ctx, log, ids)
		var rl *lighthouse.RateLimitError
		if err == nil || !waitOnLimit || !errors.As(err, &rl) {
			return ans, err
		}
		if werr := Sleep(ctx, rl.Wait); werr != nil {
			// Not a failed call: nothing to count.
			return Answer{}, countedError{fmt.Errorf("waiting for the rate limit: %w", werr)}
		}
	}
}

// flushFollowUps hands the batch's failure follow-ups on at once, when it
// wrote any; the outbox keeps them when this fails.
func (p *BatchPoller) flushFollowUps(ctx context.Context, log *slog.Logger, sum BatchSummary) {
	if sum.Notifications == 0 || p.Relay == nil {
		return
	}
	if _, err := p.Relay.Flush(ctx); err != nil {
		// The outbox keeps them; the relay's timer retries.
		log.WarnContext(ctx, "failure follow-ups stay in the outbox for now", "error", err.Error())
	}
}

// pollingError counts and logs a failed status call once (a rate limit is
// not one), and returns it wrapped with the batch's size.
func (p *BatchPoller) pollingError(ctx context.Context, log *slog.Logger, requestIDs []string, err error) error {
	var counted countedError
	var rl *lighthouse.RateLimitError
	if !errors.As(err, &counted) && !errors.As(err, &rl) {
		p.countPollingError(ctx, log, requestIDs, err)
	}
	return fmt.Errorf("poll batch of %d: %w", len(requestIDs), err)
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
func (p *BatchPoller) countPollingError(ctx context.Context, log *slog.Logger, requestIDs []string, err error) {
	reason := lighthouse.Reason(err)
	p.Updater.Metrics.PollingErrors.WithLabelValues(reason).Inc()
	msg := LogStatusEndpointError
	if originalPollingError(err) {
		p.Updater.Metrics.StatsD.PollingError()
	} else {
		p.Updater.Metrics.StatsD.StatusRequestFailed()
		msg = logStatusRequestFailed
	}
	attrs := []any{
		"reason", reason,
		"lighthouse_document_request_ids", requestIDs,
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

// Sleep waits d, or until ctx ends (and returns its error): a batch waiting
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
