package tasks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/hibiken/asynq"

	"github.com/vagov/lighthouse526/polling"
)

// TypePolling is one polling cycle: it fans the due uploads out into status
// batch tasks. The name is a contract: never rename it.
const TypePolling = "form526:document_upload_polling"

// PollingPayload names the cycle and the tick it was scheduled for.
type PollingPayload struct {
	CycleID     string    `json:"cycle_id"`
	ScheduledAt time.Time `json:"scheduled_at"`
}

// Validate checks the payload.
func (p *PollingPayload) Validate() error {
	switch {
	case p.CycleID == "" || len(p.CycleID) > 200:
		return errors.New("cycle_id is required (at most 200 characters)")
	case p.ScheduledAt.IsZero():
		return errors.New("scheduled_at is required")
	}
	return nil
}

// PollingTaskID is the task id of a cycle.
func PollingTaskID(cycleID string) string {
	return TypePolling + ":" + cycleID
}

// NewPollingTask builds the cycle task of one cron tick.
func NewPollingTask(queue string, tick time.Time) (*asynq.Task, error) {
	return newPollingTask(queue, polling.CronCycleID(tick), tick)
}

func newPollingTask(queue, cycleID string, scheduledAt time.Time) (*asynq.Task, error) {
	p := PollingPayload{CycleID: cycleID, ScheduledAt: scheduledAt.UTC()}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return pollingKind.encode(queue, PollingTaskID(cycleID), p)
}

// PollingHandler runs cycle tasks: the fan-out enqueues one batch task per
// batch, each with a task id derived from the cycle and the batch number.
type PollingHandler struct {
	Cycle   *polling.Cycle
	Client  Enqueuer
	Queue   string
	Metrics *Metrics
	Logger  *slog.Logger
}

// ProcessTask implements asynq.Handler.
func (h *PollingHandler) ProcessTask(ctx context.Context, t *asynq.Task) error {
	var p PollingPayload
	log := h.Logger
	if err := accept(ctx, t, &p, h.Metrics, log); err != nil {
		return err
	}
	_, err := h.Cycle.Run(ctx, log, p.CycleID, p.ScheduledAt, EnqueueBatches(h.Client, h.Queue, p.CycleID))
	return err
}

// EnqueueBatches dispatches a cycle's batches as status batch tasks. A batch
// already enqueued (the cycle is being retried) is not enqueued again.
func EnqueueBatches(client Enqueuer, queue, cycleID string) polling.Dispatch {
	return func(ctx context.Context, b polling.Batch) error {
		task, err := newStatusBatchTask(queue, cycleID, b.TaskID(cycleID), b.RequestIDs)
		if err != nil {
			return err
		}
		_, err = Enqueue(ctx, client, task)
		return err
	}
}

func jsonMarshal(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode payload: %w", err)
	}
	return b, nil
}

// IsPollingType reports whether a task type is one of the polling tasks whose
// exhaustion is counted.
func IsPollingType(t string) bool {
	return t == TypePolling || t == TypeStatusBatch || strings.HasPrefix(t, "form526:document_upload_poll")
}

// NewAdHocPollingTask builds a cycle task outside the cron schedule (worker
// poll --wait): its id must not start with "cron:".
func NewAdHocPollingTask(queue, cycleID string, at time.Time) (*asynq.Task, error) {
	if strings.HasPrefix(cycleID, polling.CronCyclePrefix) {
		return nil, fmt.Errorf("an ad hoc cycle id must not start with %q", polling.CronCyclePrefix)
	}
	return newPollingTask(queue, cycleID, at)
}
