package models

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// DueUpload is a pending upload due for polling.
type DueUpload struct {
	ID                          int64
	LighthouseDocumentRequestID string
}

// NextDueBatch returns up to limit pending uploads with id > afterID that were
// never polled or last polled before dueBefore, in id order: one page of a
// keyset scan over the partial index index_lighthouse526_document_uploads_due,
// so a cycle streams any number of due uploads in constant memory.
func NextDueBatch(ctx context.Context, db *gorm.DB, afterID int64, dueBefore time.Time, limit int) ([]DueUpload, error) {
	out, err := rawRows(ctx, db, limit, `
SELECT id, lighthouse_document_request_id
  FROM lighthouse526_document_uploads
 WHERE aasm_state = ? AND id > ?
   AND (status_last_polled_at IS NULL OR status_last_polled_at < ?)
 ORDER BY id
 LIMIT ?`, func(rows *sql.Rows, u *DueUpload) error {
		return rows.Scan(&u.ID, &u.LighthouseDocumentRequestID)
	}, StatePending, afterID, dueBefore.UTC(), limit)
	if err != nil {
		return nil, fmt.Errorf("models: select due uploads: %w", err)
	}
	return out, nil
}

// PendingRequestIDsOfSubmission returns the request ids of one submission's
// pending uploads (for an ad hoc poll), at most limit.
func PendingRequestIDsOfSubmission(ctx context.Context, db *gorm.DB, submissionID int64, limit int) ([]string, error) {
	var out []string
	err := db.WithContext(ctx).Table(Lighthouse526DocumentUpload{}.TableName()).
		Where("form526_submission_id = ? AND aasm_state = ?", submissionID, StatePending).
		Order("id").Limit(limit).
		Pluck("lighthouse_document_request_id", &out).Error
	if err != nil {
		return nil, fmt.Errorf("models: pending uploads of a submission: %w", err)
	}
	return out, nil
}
