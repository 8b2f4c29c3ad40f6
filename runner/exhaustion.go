package runner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"gorm.io/gorm"

	"github.com/vagov/lighthouse526/lighthouse"
	"github.com/vagov/lighthouse526/models"
	"github.com/vagov/lighthouse526/polling"
	"github.com/vagov/lighthouse526/tasks"
)

// Exhaustion counts and logs polling tasks that will never run again: those
// that used their last retry, those archived without retry, and those asynq's
// recoverer archived after their worker died (which bypass the server's error
// handler; see WatchArchived). Each task is counted once, across every
// replica, through a marker key in Redis.
type Exhaustion struct {
	Redis     redis.UniversalClient
	KeyPrefix string
	DB        *gorm.DB
	// Metrics count the exhausted tasks; Polling gets the StatsD key and
	// the cycle gauges of an exhausted batch's cycle.
	Metrics *Metrics
	Polling *polling.Metrics
	Logger  *slog.Logger
	Now     func() time.Time
}

// exhaustedMarkerTTL outlives asynq's archive (which keeps tasks 90 days at
// most) for the tasks a watcher could still list.
const exhaustedMarkerTTL = 91 * 24 * time.Hour

// HandleError is the server's asynq.Config.ErrorHandler. asynq calls it for
// every error, before deciding to retry or archive; it acts only on the
// attempts that end in the archive.
func (e *Exhaustion) HandleError(ctx context.Context, t *asynq.Task, err error) {
	if !tasks.IsPollingType(t.Type()) || errors.Is(err, asynq.RevokeTask) {
		return
	}
	retried, _ := asynq.GetRetryCount(ctx)
	maxRetry, _ := asynq.GetMaxRetry(ctx)
	if retried < maxRetry && !errors.Is(err, asynq.SkipRetry) {
		return
	}
	id, _ := asynq.GetTaskID(ctx)
	e.record(ctx, id, t.Type(), t.Payload(), errorClass(err), err.Error())
}

// record counts one exhausted task the first time any replica sees it.
func (e *Exhaustion) record(ctx context.Context, id, taskType string, payload []byte, class, msg string) {
	first, err := e.Redis.SetNX(ctx, e.KeyPrefix+"exhausted:"+id, "1", exhaustedMarkerTTL).Result()
	if err != nil {
		// Count it rather than lose it: a double count beats a silent loss.
		first = true
	}
	if !first {
		return
	}
	e.Metrics.PollExhausted.WithLabelValues(taskType).Inc()
	e.Polling.StatsD.Exhausted()
	e.Logger.WarnContext(ctx, polling.LogRetriesExhausted,
		"job_id", id,
		"task_type", taskType,
		"error_class", class,
		"error_message", msg,
		"timestamp", e.Now().UTC())
	if taskType != tasks.TypeStatusBatch {
		return
	}
	// The batch will never apply: count it done so its cycle is not taken as
	// running forever (which would skip the next cycles).
	var p tasks.StatusBatchPayload
	if json.Unmarshal(payload, &p) == nil && p.CycleID != "" {
		if err := models.MarkBatchDone(ctx, e.DB, p.CycleID, e.Now()); err != nil {
			e.Logger.WarnContext(ctx, "could not mark an exhausted batch done", "cycle_id", p.CycleID, "error", err.Error())
		} else {
			polling.SendCycleGauges(ctx, e.DB, e.Polling, e.Logger, p.CycleID, e.Now())
		}
	}
}

// WatchArchived finds the polling tasks asynq's recoverer archived after their
// worker died mid-task (their last error is asynq.ErrLeaseExpired) and
// records them, every interval until ctx ends.
func (e *Exhaustion) WatchArchived(ctx context.Context, insp *asynq.Inspector, queue string, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := e.sweepArchived(ctx, insp, queue); err != nil && ctx.Err() == nil {
			e.Logger.WarnContext(ctx, "could not list archived tasks", "queue", queue, "error", err.Error())
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// sweepPages bounds one sweep; asynq keeps at most 10,000 archived tasks.
const sweepPages = 100

func (e *Exhaustion) sweepArchived(ctx context.Context, insp *asynq.Inspector, queue string) error {
	for page := 1; page <= sweepPages; page++ {
		infos, err := insp.ListArchivedTasks(queue, asynq.PageSize(100), asynq.Page(page))
		if errors.Is(err, asynq.ErrQueueNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		for _, info := range infos {
			if tasks.IsPollingType(info.Type) && info.LastErr == asynq.ErrLeaseExpired.Error() {
				e.record(ctx, info.ID, info.Type, info.Payload, "asynq.ErrLeaseExpired", info.LastErr)
			}
		}
		if len(infos) < 100 {
			return nil
		}
	}
	return nil
}

// errorClass names an error's kind for the exhaustion log, from a small set.
func errorClass(err error) string {
	var (
		apiErr   *lighthouse.APIError
		tokenErr *lighthouse.TokenError
		rlErr    *lighthouse.RateLimitError
		payload  *tasks.PayloadError
	)
	switch {
	case errors.As(err, &payload):
		return "tasks.PayloadError"
	case errors.As(err, &rlErr):
		return "lighthouse.RateLimitError"
	case errors.As(err, &apiErr):
		return "lighthouse.APIError"
	case errors.As(err, &tokenErr):
		return "lighthouse.TokenError"
	case errors.Is(err, lighthouse.ErrMalformedResponse):
		return "lighthouse.ErrMalformedResponse"
	case errors.Is(err, context.DeadlineExceeded):
		return "context.DeadlineExceeded"
	case errors.Is(err, asynq.ErrLeaseExpired):
		return "asynq.ErrLeaseExpired"
	}
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return fmt.Sprintf("%T", err)
		}
		err = next
	}
}
