package tasks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/hibiken/asynq"
	"gorm.io/gorm"

	"github.com/vagov/lighthouse526/models"
)

// Failure follow-up task types, consumed by the service that emails veterans.
// These names are a contract: never rename them.
const (
	TypeDocumentUploadFailureEmail = "form526:document_upload_failure_email"
	TypeForm0781UploadFailureEmail = "form526:form0781_upload_failure_email"
)

// DocumentUploadFailureEmailPayload tells the veteran one of their own
// uploads ("Veteran Upload") did not reach their claim file.
type DocumentUploadFailureEmailPayload struct {
	Form526SubmissionID int64  `json:"form526_submission_id"`
	FormAttachmentGUID  string `json:"form_attachment_guid"`
}

// Form0781UploadFailureEmailPayload tells the veteran their Form 0781 or
// 0781a did not reach their claim file.
type Form0781UploadFailureEmailPayload struct {
	Form526SubmissionID int64 `json:"form526_submission_id"`
}

// notificationRetention keeps a sent follow-up's task id in Redis long enough
// that a relay retried after a crash finds the duplicate and skips it.
const notificationRetention = 7 * 24 * time.Hour

// Why a failed Veteran Upload's follow-up was not written: the labels of
// form526_document_upload_notifications_skipped_total.
const (
	skipNoFormAttachment = "no_form_attachment" // form_attachment_id is NULL
	skipNoAttachmentGUID = "no_attachment_guid" // its attachment row is gone, or its guid is NULL or empty
)

var notificationSkipReasons = []string{skipNoFormAttachment, skipNoAttachmentGUID}

// logNotificationSkipped is logged for a failed Veteran Upload that gets no
// follow-up.
const logNotificationSkipped = "no failure follow-up for a failed Veteran Upload: it has no form attachment guid to name in the email; the upload is failed all the same"

// notification is the follow-up owed when this upload fails, or nil: BDD
// Instructions get none, and none is sent while the feature flag is off. A
// Veteran Upload without an attachment guid gets none either, since the
// email would name no document: skipped says why, to be logged and counted
// if it does fail.
func (u *StatusUpdater) notification(up *models.PendingUpload) (n *models.Notification, skipped string) {
	if !u.NotificationsEnabled {
		return nil, ""
	}
	var (
		taskType string
		payload  any
	)
	switch up.DocumentType {
	case models.DocumentTypeVeteranUpload:
		switch {
		case up.FormAttachmentID == nil:
			return nil, skipNoFormAttachment
		case up.FormAttachmentGUID == nil || *up.FormAttachmentGUID == "":
			return nil, skipNoAttachmentGUID
		}
		taskType = TypeDocumentUploadFailureEmail
		payload = DocumentUploadFailureEmailPayload{Form526SubmissionID: up.Form526SubmissionID, FormAttachmentGUID: *up.FormAttachmentGUID}
	case models.DocumentTypeForm0781, models.DocumentTypeForm0781a:
		taskType = TypeForm0781UploadFailureEmail
		payload = Form0781UploadFailureEmailPayload{Form526SubmissionID: up.Form526SubmissionID}
	default:
		return nil, ""
	}
	b, _ := json.Marshal(payload)
	return &models.Notification{TaskType: taskType, Payload: models.JSON(b)}, ""
}

// NotificationTaskID is the task id of an upload's failure follow-up: one
// upload, one notification, however often the relay runs.
func NotificationTaskID(uploadID int64) string {
	return "form526:upload_failure_notification:" + strconv.FormatInt(uploadID, 10)
}

// NewNotificationTask builds the follow-up task of an outbox entry.
func NewNotificationTask(e models.OutboxEntry, queue string) *asynq.Task {
	return asynq.NewTask(e.TaskType, e.Payload,
		asynq.TaskID(NotificationTaskID(e.UploadID)),
		asynq.Queue(queue),
		asynq.MaxRetry(16),
		asynq.Retention(notificationRetention),
	)
}

// NotificationTarget hands one outbox entry's follow-up to the system that
// emails the veteran. Send must be idempotent per entry: the relay sends an
// entry again when it could not record the first send (a crash, Postgres
// down); the target then delivers nothing and answers duplicate.
type NotificationTarget interface {
	Send(ctx context.Context, e models.OutboxEntry) (duplicate bool, err error)
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
	_, err := t.Client.EnqueueContext(ctx, NewNotificationTask(e, t.Queue))
	if errors.Is(err, asynq.ErrTaskIDConflict) {
		// Enqueued before a crash kept us from marking it: already done.
		return true, nil
	}
	return false, err
}

// Relay moves follow-ups from the Postgres outbox to their target. It runs
// after every batch that failed an upload, and on a timer, so a notification
// written while Redis was down is sent once Redis is back.
type Relay struct {
	DB      *gorm.DB
	Target  NotificationTarget
	Metrics *Metrics
	Logger  *slog.Logger
	Now     func() time.Time
}

// relayBatch bounds one relay transaction.
const relayBatch = 200

// Flush relays every unsent entry it can, and returns how many it sent.
func (r *Relay) Flush(ctx context.Context) (int, error) {
	total := 0
	for {
		sent, failed, err := models.RelayOutbox(ctx, r.DB, relayBatch, r.Now(), r.send)
		total += sent
		if err != nil {
			return total, err
		}
		if failed > 0 {
			return total, fmt.Errorf("relay: %d follow-ups could not be enqueued; they stay in the outbox", failed)
		}
		if sent < relayBatch {
			return total, nil
		}
	}
}

func (r *Relay) send(ctx context.Context, e models.OutboxEntry) error {
	duplicate, err := r.Target.Send(ctx, e)
	switch {
	case err != nil:
		r.Metrics.NotificationErrors.Inc()
		return err
	case !duplicate:
		r.Metrics.NotificationsEnqueued.WithLabelValues(e.TaskType).Inc()
	}
	return nil
}

// Run flushes the outbox every interval until ctx ends, and keeps the unsent
// gauge current.
func (r *Relay) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := r.Flush(ctx); err != nil && ctx.Err() == nil {
			r.Logger.WarnContext(ctx, "failure follow-up relay did not finish; retrying on the next tick", "error", err.Error())
		}
		if n, err := models.UnsentOutboxCount(ctx, r.DB); err == nil {
			r.Metrics.OutboxUnsent.Set(float64(n))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
