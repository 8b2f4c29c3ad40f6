package models

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/vagov/lighthouse526/db/pgraw"
)

// PendingUpload is what polling a pending upload needs to know of it.
type PendingUpload struct {
	ID                  int64
	Form526SubmissionID int64
	FormAttachmentID    *int64
	// FormAttachmentGUID is nil when the upload has no attachment, its
	// attachment row is gone, or its guid is NULL.
	FormAttachmentGUID          *string
	UserUUID                    *string
	LighthouseDocumentRequestID string
	// DocumentType is "" when the column is NULL: the application's model
	// requires it, but the column allows NULL, and such a row must be
	// quarantined, not fail the read of its whole batch.
	DocumentType                  string
	LighthouseProcessingStartedAt *time.Time
	LastStatusResponse            JSON
	// UnknownPollCount is from the worker's own upload state (0 without one).
	UnknownPollCount int
	// CreatedAt, and what the adaptive schedule remembers of the last poll
	// (the worker's own upload state; nil before the first poll under that
	// schedule): the digest of the status found, and when it last moved.
	CreatedAt       time.Time
	StatusDigest    *int64
	StatusChangedAt *time.Time
}

// LoadPending returns the pending, not quarantined uploads with these
// Lighthouse request ids, in id order, with the attachment guid and user uuid
// the follow-ups need: one statement. Every nullable column may be NULL.
func LoadPending(ctx context.Context, db *gorm.DB, requestIDs []string) ([]PendingUpload, error) {
	if len(requestIDs) == 0 {
		return nil, nil
	}
	out, err := pgraw.Rows(ctx, db, len(requestIDs), `
SELECT u.id, u.form526_submission_id, u.form_attachment_id, fa.guid::text AS form_attachment_guid,
       s.user_uuid, u.lighthouse_document_request_id, u.document_type,
       u.lighthouse_processing_started_at, u.last_status_response, coalesce(ps.unknown_poll_count, 0),
       u.created_at, ps.status_digest, ps.status_changed_at
  FROM lighthouse526_document_uploads u
  LEFT JOIN form_attachments fa ON fa.id = u.form_attachment_id
  LEFT JOIN form526_submissions s ON s.id = u.form526_submission_id
  LEFT JOIN lighthouse526_upload_poll_states ps ON ps.upload_id = u.id
 WHERE u.lighthouse_document_request_id = ANY(CAST(@ids AS text[])) AND u.aasm_state = @pending
   AND ps.quarantined_at IS NULL
 ORDER BY u.id`, scanPendingUpload, map[string]any{"ids": pgraw.ArrayOf(requestIDs), "pending": StatePending})
	if err != nil {
		return nil, fmt.Errorf("models: load pending uploads: %w", err)
	}
	return out, nil
}

func scanPendingUpload(rows *sql.Rows, p *PendingUpload) error {
	var docType sql.NullString
	err := rows.Scan(&p.ID, &p.Form526SubmissionID, &p.FormAttachmentID, &p.FormAttachmentGUID,
		&p.UserUUID, &p.LighthouseDocumentRequestID, &docType,
		&p.LighthouseProcessingStartedAt, &p.LastStatusResponse, &p.UnknownPollCount,
		&p.CreatedAt, &p.StatusDigest, &p.StatusChangedAt)
	p.DocumentType = docType.String
	return err
}
