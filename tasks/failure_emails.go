package tasks

import (
	"context"

	"github.com/hibiken/asynq"

	"github.com/vagov/lighthouse526/models"
	"github.com/vagov/lighthouse526/polling"
)

// Failure follow-up task types (NOTIFICATION_TARGET=asynq), consumed by the
// service that emails veterans. polling decides which one a failed upload
// gets; the names are a contract: never rename them.
const (
	TypeDocumentUploadFailureEmail = polling.TypeDocumentUploadFailureEmail
	TypeForm0781UploadFailureEmail = polling.TypeForm0781UploadFailureEmail
)

// NotificationTaskID is the task id of an upload's failure follow-up
// (polling.FollowUpID).
func NotificationTaskID(uploadID int64) string { return polling.FollowUpID(uploadID) }

// NewNotificationTask builds the follow-up task of an outbox entry.
func NewNotificationTask(e models.OutboxEntry, queue string) *asynq.Task {
	k := failureEmailKind
	k.Type = e.TaskType
	return k.task(queue, NotificationTaskID(e.UploadID), e.Payload)
}

// AsynqTarget enqueues follow-ups as this worker's own tasks
// (NOTIFICATION_TARGET=asynq), for a Go consumer; the task id derived from
// the upload makes a second enqueue a no-op.
type AsynqTarget struct {
	Client *asynq.Client
	Queue  string
}

// Send enqueues the entry's task.
func (t *AsynqTarget) Send(ctx context.Context, e models.OutboxEntry) (bool, error) {
	// A duplicate was enqueued before a crash kept the relay from marking
	// it sent: already done.
	return Enqueue(ctx, t.Client, NewNotificationTask(e, t.Queue))
}
