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
// replica, through a marker key in Redis (Prometheus,
// form526_document_upload_poll_exhausted_total{task_type}).
//
// The original's exhausted counter and "retries exhausted" line go once per
// CYCLE whose retries ran out (original-system.md, "Metrics": "once per
// hourly run whose 7 retries are exhausted"; "The polling job": "When
// retries are exhausted: an exhausted counter and a warning log"), however
// many of its batches did, through a second marker per cycle. A task
// archived without retry (asynq.SkipRetry: a permanent 4xx, a bad payload)
// is not a cycle whose retries ran out: the original's client did not raise
// on a 4xx, counted a polling error and went on, so its run was never
// exhausted by one. Such a task gets the worker's own line instead.
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

// The worker's own lines about a polling task that will never run again,
// where the original's "retries exhausted" line is not written.
const (
	// logTaskExhaustedAgain: another task of a cycle already counted.
	logTaskExhaustedAgain = "a polling task ran out of retries in a cycle already counted as exhausted"
	// logTaskFailedPermanently: archived without retry.
	logTaskFailedPermanently = "a polling task failed permanently and was archived without retry"
)

// HandleError is the server's asynq.Config.ErrorHandler. asynq calls it for
// every error, before deciding to retry or archive; it acts only on the
// attempts that end in the archive.
func (e *Exhaustion) HandleError(ctx context.Context, t *asynq.Task, err error) {
	if !tasks.IsPollingType(t.Type()) || errors.Is(err, asynq.RevokeTask) {
		return
	}
	retried, _ := asynq.GetRetryCount(ctx)
	maxRetry, _ := asynq.GetMaxRetry(ctx)
	permanent := errors.Is(err, asynq.SkipRetry)
	if retried < maxRetry && !permanent {
		return
	}
	id, _ := asynq.GetTaskID(ctx)
	e.record(ctx, archived{id: id, taskType: t.Type(), payload: t.Payload(), class: errorClass(err), msg: err.Error(), permanent: permanent})
}

// archived is a polling task that will never run again.
type archived struct {
	id, taskType string
	payload      []byte
	class, msg   string
	// permanent: archived without retry, not out of retries.
	permanent bool
}

// record counts one archived task the first time any replica sees it.
func (e *Exhaustion) record(ctx context.Context, a archived) {
	if !e.first(ctx, "exhausted:"+a.id) {
		return
	}
	e.Metrics.PollExhausted.WithLabelValues(a.taskType).Inc()
	var p struct {
		CycleID string `json:"cycle_id"`
	}
	_ = json.Unmarshal(a.payload, &p) // a payload that cannot be read has no cycle
	attrs := []any{
		"job_id", a.id,
		"task_type", a.taskType,
		"cycle_id", p.CycleID,
		"error_class", a.class,
		"error_message", a.msg,
		"timestamp", e.Now().UTC(),
	}
	cycle := p.CycleID
	if cycle == "" {
		cycle = "task:" + a.id // a task of no cycle is a run of its own
	}
	switch {
	case a.permanent:
		e.Logger.WarnContext(ctx, logTaskFailedPermanently, attrs...)
	case e.first(ctx, "exhausted-cycle:"+cycle):
		e.Polling.StatsD.Exhausted()
		e.Logger.WarnContext(ctx, polling.LogRetriesExhausted, attrs...)
	default:
		e.Logger.WarnContext(ctx, logTaskExhaustedAgain, attrs...)
	}
	if a.taskType != tasks.TypeStatusBatch || p.CycleID == "" {
		return
	}
	// The batch will never apply: count it done so its cycle is not taken as
	// running forever (which would skip the next cycles).
	if err := models.MarkBatchDone(ctx, e.DB, p.CycleID, e.Now()); err != nil {
		e.Logger.WarnContext(ctx, "could not mark an exhausted batch done", "cycle_id", p.CycleID, "error", err.Error())
	} else {
		polling.SendCycleGauges(ctx, e.DB, e.Polling, e.Logger, p.CycleID, e.Now())
	}
}

// first sets marker (under KeyPrefix) and reports whether no replica had
// set it before. When Redis cannot say, it reports true: a double count
// beats a silent loss.
func (e *Exhaustion) first(ctx context.Context, marker string) bool {
	ok, err := e.Redis.SetNX(ctx, e.KeyPrefix+marker, "1", exhaustedMarkerTTL).Result()
	return err != nil || ok
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
				e.record(ctx, archived{id: info.ID, taskType: info.Type, payload: info.Payload, class: "asynq.ErrLeaseExpired", msg: info.LastErr})
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
