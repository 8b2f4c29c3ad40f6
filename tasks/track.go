package tasks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"
	"gorm.io/gorm"

	"github.com/vagov/lighthouse526/lighthouse"
	"github.com/vagov/lighthouse526/models"
)

// TypeDocumentUploadTrack registers an upload another service made, so that
// it is polled like the worker's own. The name is a contract: never rename it.
const TypeDocumentUploadTrack = "form526:document_upload_track"

// TrackPayload is an upload to track. Give document_type, or the VA
// document_code it was uploaded with (L023, L228, L229 have their own type;
// any other code is a "Veteran Upload", which needs form_attachment_id).
type TrackPayload struct {
	Form526SubmissionID         int64  `json:"form526_submission_id"`
	FormAttachmentID            *int64 `json:"form_attachment_id,omitempty"`
	LighthouseDocumentRequestID string `json:"lighthouse_document_request_id"`
	DocumentType                string `json:"document_type,omitempty"`
	DocumentCode                string `json:"document_code,omitempty"`
}

// Validate applies the payload's rules and the model's: every problem is
// returned at once as FieldErrors.
func (p *TrackPayload) Validate() error {
	fe := FieldErrors{}
	switch {
	case p.DocumentType != "" && p.DocumentCode != "":
		fe["document_code"] = "give document_type or document_code, not both"
	case p.DocumentType == "" && p.DocumentCode == "":
		fe["document_type"] = "is required (or document_code)"
	case p.DocumentCode != "" && !validDocumentCode(p.DocumentCode):
		fe["document_code"] = "must be a VA document code such as L023"
	}
	if p.LighthouseDocumentRequestID != "" && !lighthouse.ValidRequestID(p.LighthouseDocumentRequestID) {
		fe["lighthouse_document_request_id"] = "must be the decimal requestId Lighthouse returned"
	}
	if p.FormAttachmentID != nil && *p.FormAttachmentID <= 0 {
		fe["form_attachment_id"] = "must be a positive id"
	}
	u := p.Upload()
	var ve *models.ValidationError
	if err := u.Validate(); errors.As(err, &ve) {
		for f, msg := range ve.Fields {
			if _, ok := fe[f]; !ok && !(f == "document_type" && fe["document_code"] != "") {
				fe[f] = msg
			}
		}
	}
	return fe.orNil()
}

// DocumentTypeResolved is the document type the upload is stored with.
func (p *TrackPayload) DocumentTypeResolved() string {
	if p.DocumentType != "" {
		return p.DocumentType
	}
	if p.DocumentCode == "" {
		return ""
	}
	return models.DocumentTypeForCode(p.DocumentCode)
}

// Upload is the record the payload asks for.
func (p *TrackPayload) Upload() models.Lighthouse526DocumentUpload {
	return models.Lighthouse526DocumentUpload{
		Form526SubmissionID:         p.Form526SubmissionID,
		FormAttachmentID:            p.FormAttachmentID,
		LighthouseDocumentRequestID: p.LighthouseDocumentRequestID,
		DocumentType:                p.DocumentTypeResolved(),
	}
}

func validDocumentCode(code string) bool {
	if len(code) < 2 || len(code) > 10 {
		return false
	}
	for _, c := range code {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// TrackTaskID is the task id of a track: the request id and a digest of the
// whole payload. The same track sent twice gets the same id, and the queue
// keeps one; a corrected track of the same request id is a new task (which
// then finds the request id already tracked and creates nothing).
func TrackTaskID(p TrackPayload) (string, error) {
	digest, err := payloadDigest(p)
	if err != nil {
		return "", err
	}
	return TypeDocumentUploadTrack + ":" + p.LighthouseDocumentRequestID + ":" + digest, nil
}

// NewTrackTask builds a track task for queue. It refuses an invalid payload
// with FieldErrors.
func NewTrackTask(queue string, p TrackPayload) (*asynq.Task, error) {
	return trackKind.build(queue, &p, func() (string, error) { return TrackTaskID(p) })
}

// TrackHandler runs track tasks. It is idempotent on the request id: a track
// of a request id already tracked creates nothing.
type TrackHandler struct {
	DB      *gorm.DB
	Metrics *Metrics
	Logger  *slog.Logger
	Now     func() time.Time
}

// ProcessTask implements asynq.Handler.
func (h *TrackHandler) ProcessTask(ctx context.Context, t *asynq.Task) error {
	var p TrackPayload
	log := h.Logger
	if err := accept(ctx, t, &p, h.Metrics, log); err != nil {
		return err
	}
	up, created, err := models.TrackUpload(ctx, h.DB, p.Upload(), h.Now())
	switch {
	case errors.Is(err, models.ErrUnknownReference):
		return reject(ctx, h.Metrics, log, &PayloadError{TaskType: t.Type(), Reason: "unknown_reference", Detail: err.Error()})
	case models.IsValidation(err):
		return reject(ctx, h.Metrics, log, &PayloadError{TaskType: t.Type(), Reason: "invalid", Detail: err.Error()})
	case err != nil:
		return fmt.Errorf("track upload: %w", err)
	}
	attrs := []any{
		"upload_id", up.ID,
		"lighthouse_document_request_id", up.LighthouseDocumentRequestID,
		"form526_submission_id", up.Form526SubmissionID,
		"document_type", up.DocumentType,
	}
	switch {
	case created:
		log.InfoContext(ctx, "tracking a document upload", attrs...)
	case up.Form526SubmissionID != p.Form526SubmissionID || up.DocumentType != p.DocumentTypeResolved():
		log.WarnContext(ctx, "request id already tracked with other attributes; nothing changed", attrs...)
	default:
		log.InfoContext(ctx, "document upload already tracked; nothing changed", attrs...)
	}
	return nil
}
