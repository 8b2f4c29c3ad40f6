package polling

import (
	"context"
	"encoding/json"
	"strconv"

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

// EmailFlag decides, at each failure, whether its veteran is emailed, as
// the original asks
// Flipper.enabled?(:disability_compensation_email_veteran_on_polled_lighthouse_doc_failure)
// in its fail callback (../shared/reference/original-system.md, State
// machine): vagov/flipper.Flag reads that flag; EmailsAlways forces it.
type EmailFlag interface {
	Enabled(ctx context.Context) bool
}

// EmailsAlways is the decision forced on or off
// (FAILURE_NOTIFICATIONS_ENABLED=true|false, where there is no Flipper).
type EmailsAlways bool

// Enabled implements EmailFlag.
func (e EmailsAlways) Enabled(context.Context) bool { return bool(e) }

// notification is the follow-up owed when this upload fails, or nil: BDD
// Instructions get none, and none is sent when the flag says no (asked
// once per failure, as the original asks Flipper). A Veteran Upload without
// an attachment guid gets none either, since the email would name no
// document: skipped says why, to be logged and counted if it does fail.
func (u *StatusUpdater) notification(ctx context.Context, up *models.PendingUpload) (n *models.Notification, skipped string) {
	if u.Emails == nil || !u.Emails.Enabled(ctx) {
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

// FollowUpID is the de-duplication key of an upload's failure follow-up
// (its asynq task id, its Sidekiq push key): one upload, one notification,
// however often the relay runs.
func FollowUpID(uploadID int64) string {
	return "form526:upload_failure_notification:" + strconv.FormatInt(uploadID, 10)
}
