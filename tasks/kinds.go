package tasks

import (
	"time"

	"github.com/hibiken/asynq"
)

// kind describes one task type: what its options are, so that every NewXTask
// builds them from here and the five options of a type cannot drift apart.
// Every task goes to the queue its caller names (QUEUE_NAME) and carries a
// task id derived from what it does (the type's XTaskID), so that the queue
// refuses a second copy (Enqueue).
type kind struct {
	Type     string
	MaxRetry int
	// Timeout bounds one attempt; zero is asynq's default (30 minutes).
	Timeout time.Duration
	// Retention keeps a finished task, and so its id, taken this long.
	Retention time.Duration
}

// The task types. Retries follow RetryDelay.
var (
	// A cycle fans out a million uploads in ten thousand batches; a retried
	// cycle resumes where it stopped. Retention keeps a tick's id taken for
	// a day, so replicas and restarts cannot enqueue the same tick twice.
	pollingKind = kind{Type: TypePolling, MaxRetry: 5, Timeout: 30 * time.Minute, Retention: 24 * time.Hour}
	// A batch's retries end about 15 minutes after its first attempt; one
	// attempt is a Lighthouse call with its token refresh and a
	// two-statement write.
	statusBatchKind = kind{Type: TypeStatusBatch, MaxRetry: 6, Timeout: 2 * time.Minute, Retention: 2 * time.Hour}
	// A poll-now is a few enqueues; its id folds the same poll asked within
	// a minute into one task.
	pollNowKind = kind{Type: TypeDocumentUploadPollNow, MaxRetry: 5, Timeout: 2 * time.Minute, Retention: time.Hour}
	// A track is one short transaction; its retries cover a database outage
	// of about half an hour, and retention tells a caller repeating the same
	// track for a day that it is a duplicate.
	trackKind = kind{Type: TypeDocumentUploadTrack, MaxRetry: 8, Timeout: 30 * time.Second, Retention: 24 * time.Hour}
	// A follow-up's id stays taken for a week, so a relay retried after a
	// crash finds the duplicate and skips it. Its type is the outbox
	// entry's (one of the two failure emails).
	failureEmailKind = kind{MaxRetry: 16, Retention: 7 * 24 * time.Hour}
)

// task builds a task of this kind for queue, with id and an encoded payload.
func (k kind) task(queue, id string, payload []byte) *asynq.Task {
	opts := []asynq.Option{asynq.Queue(queue), asynq.TaskID(id), asynq.MaxRetry(k.MaxRetry), asynq.Retention(k.Retention)}
	if k.Timeout > 0 {
		opts = append(opts, asynq.Timeout(k.Timeout))
	}
	return asynq.NewTask(k.Type, payload, opts...)
}

// encode builds a task of this kind whose payload is p, encoded as JSON.
func (k kind) encode(queue, id string, p any) (*asynq.Task, error) {
	b, err := jsonMarshal(p)
	if err != nil {
		return nil, err
	}
	return k.task(queue, id, b), nil
}
