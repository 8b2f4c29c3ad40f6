package tasks

import (
	"crypto/sha256"
	"encoding/hex"
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
	// A batch's timeout covers a call that runs out its LIGHTHOUSE_TIMEOUT
	// (65 s by default, the original's) and is asked again in two halves,
	// with the token refresh and the two-statement write. Seven attempts of
	// at most 65 s each and the backoff between them (RetryDelay: 20 s
	// doubling to 5 min, 15 min in all) end within about 23 minutes, before
	// the next hourly cycle.
	statusBatchKind = kind{Type: TypeStatusBatch, MaxRetry: 6, Timeout: 4 * time.Minute, Retention: 2 * time.Hour}
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

// build validates p (refusing it with its error), names it with id and
// builds its task.
func (k kind) build(queue string, p validator, id func() (string, error)) (*asynq.Task, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	taskID, err := id()
	if err != nil {
		return nil, err
	}
	return k.encode(queue, taskID, p)
}

// payloadDigest is the first 8 bytes of the SHA-256 of p's JSON, in hex:
// the part of a task id that says what the payload asks.
func payloadDigest(p any) (string, error) {
	b, err := jsonMarshal(p)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8]), nil
}
