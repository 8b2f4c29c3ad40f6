package tasks

import (
	"context"
	"errors"

	"github.com/hibiken/asynq"
)

// Enqueuer is the part of asynq.Client that enqueuing needs.
type Enqueuer interface {
	EnqueueContext(ctx context.Context, task *asynq.Task, opts ...asynq.Option) (*asynq.TaskInfo, error)
}

// Enqueue enqueues task. A task whose id the queue already holds is not an
// error: every task id here is derived from what the task does, so the
// holder is the same task, enqueued by an earlier delivery, a retried
// fan-out or another replica; duplicate says so.
func Enqueue(ctx context.Context, client Enqueuer, task *asynq.Task) (duplicate bool, err error) {
	_, err = client.EnqueueContext(ctx, task)
	if errors.Is(err, asynq.ErrTaskIDConflict) {
		return true, nil
	}
	return false, err
}
