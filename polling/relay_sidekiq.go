package polling

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/vagov/lighthouse526/models"
	"github.com/vagov/lighthouse526/vagov/sidekiq"
)

// SidekiqTarget pushes follow-ups as VA.gov's own email jobs onto its Sidekiq
// (NOTIFICATION_TARGET=sidekiq), which the original enqueued with
// perform_async. The push's de-duplication key is the upload's: one failed
// upload, one job, however often the relay sends it.
type SidekiqTarget struct {
	Client *sidekiq.Client
}

// Send pushes the entry's job.
func (t *SidekiqTarget) Send(ctx context.Context, e models.OutboxEntry) (bool, error) {
	job, err := SidekiqJob(e)
	if err != nil {
		return false, err
	}
	p, err := t.Client.Push(ctx, FollowUpID(e.UploadID), job)
	if err != nil {
		return false, err
	}
	return p.Duplicate, nil
}

// SidekiqJob is the Sidekiq job of an outbox entry: the failure email the
// original enqueued for that document type, with its arguments. An entry that
// names no such job, or lacks what the job needs, is an error (it stays in
// the outbox with its reason in last_error) rather than a job that would fail
// in VA.gov's API sixteen times.
func SidekiqJob(e models.OutboxEntry) (sidekiq.Job, error) {
	switch e.TaskType {
	case TypeDocumentUploadFailureEmail:
		var p DocumentUploadFailureEmailPayload
		if err := json.Unmarshal(e.Payload, &p); err != nil {
			return sidekiq.Job{}, badFollowUp(e, err.Error())
		}
		if p.Form526SubmissionID <= 0 || p.FormAttachmentGUID == "" {
			return sidekiq.Job{}, badFollowUp(e, "needs a positive form526_submission_id and a form_attachment_guid")
		}
		return sidekiq.Form526DocumentUploadFailureEmail(p.Form526SubmissionID, p.FormAttachmentGUID), nil
	case TypeForm0781UploadFailureEmail:
		var p Form0781UploadFailureEmailPayload
		if err := json.Unmarshal(e.Payload, &p); err != nil {
			return sidekiq.Job{}, badFollowUp(e, err.Error())
		}
		if p.Form526SubmissionID <= 0 {
			return sidekiq.Job{}, badFollowUp(e, "needs a positive form526_submission_id")
		}
		return sidekiq.Form0781DocumentUploadFailureEmail(p.Form526SubmissionID), nil
	default:
		return sidekiq.Job{}, badFollowUp(e, "no Sidekiq job for this task type")
	}
}

func badFollowUp(e models.OutboxEntry, reason string) error {
	return fmt.Errorf("follow-up of upload %d (%s): %s", e.UploadID, e.TaskType, reason)
}
