package models

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/vagov/lighthouse526/db/pgraw"
)

// DueUpload is a pending upload due for polling.
type DueUpload struct {
	ID                          int64
	LighthouseDocumentRequestID string
}

// FutureSkew is how far ahead of the worker's clock a stored time
// (created_at, status_last_polled_at) may be and still be believed: the
// clocks of the worker's replicas and VA.gov's differ by seconds, not an
// hour. A later one (a clock set wrong, a hand-made row) would keep its
// upload from ever falling due, so the due scans treat it as due now, the
// poll's write stamps the real time, and `worker uploads stuck` lists it.
const FutureSkew = time.Hour

// NextDueBatch returns up to limit pending, not quarantined uploads with id >
// afterID that were never polled, last polled before dueBefore, or last
// polled more than FutureSkew after now (a time to distrust, see
// FutureSkew), in id order: one page of a keyset scan over the partial
// index index_lighthouse526_document_uploads_due, so a cycle streams any
// number of due uploads in constant memory. A quarantined upload is looked
// up in the small partial index of quarantines, so it is not read again
// every cycle.
func NextDueBatch(ctx context.Context, db *gorm.DB, afterID int64, dueBefore, now time.Time, limit int) ([]DueUpload, error) {
	out, err := pgraw.Rows(ctx, db, limit, `
SELECT u.id, u.lighthouse_document_request_id
  FROM lighthouse526_document_uploads u
 WHERE u.aasm_state = ? AND u.id > ?
   AND (u.status_last_polled_at IS NULL OR u.status_last_polled_at < ? OR u.status_last_polled_at > ?)
   AND NOT EXISTS (SELECT 1 FROM lighthouse526_upload_poll_states ps
                    WHERE ps.upload_id = u.id AND ps.quarantined_at IS NOT NULL)
 ORDER BY u.id
 LIMIT ?`, scanDueUpload, StatePending, afterID, dueBefore.UTC(), now.UTC().Add(FutureSkew), limit)
	if err != nil {
		return nil, fmt.Errorf("models: select due uploads: %w", err)
	}
	return out, nil
}

// CountDueBefore is how many uploads NextDueBatch would return in all for
// dueBefore at now: the due count a fixed cycle sends when it starts
// (pending_documents_polled), read from the same partial index.
func CountDueBefore(ctx context.Context, db *gorm.DB, dueBefore, now time.Time) (int, error) {
	var n int
	err := db.WithContext(ctx).Raw(`
SELECT count(*)
  FROM lighthouse526_document_uploads u
 WHERE u.aasm_state = ?
   AND (u.status_last_polled_at IS NULL OR u.status_last_polled_at < ? OR u.status_last_polled_at > ?)
   AND NOT EXISTS (SELECT 1 FROM lighthouse526_upload_poll_states ps
                    WHERE ps.upload_id = u.id AND ps.quarantined_at IS NOT NULL)`,
		StatePending, dueBefore.UTC(), now.UTC().Add(FutureSkew)).Scan(&n).Error
	if err != nil {
		return 0, fmt.Errorf("models: count due uploads: %w", err)
	}
	return n, nil
}

func scanDueUpload(rows *sql.Rows, u *DueUpload) error {
	return rows.Scan(&u.ID, &u.LighthouseDocumentRequestID)
}

// PendingUploadsOfSubmission returns one submission's pending, not
// quarantined uploads (for an ad hoc poll) in id order, at most limit.
func PendingUploadsOfSubmission(ctx context.Context, db *gorm.DB, submissionID int64, limit int) ([]DueUpload, error) {
	return pendingUploadsWhere(ctx, db, "u.form526_submission_id = ?", submissionID, limit, "of a submission")
}

// PendingUploadsOfRequestIDs returns the pending, not quarantined uploads
// that carry one of ids (for an ad hoc poll) in id order, at most limit: an
// ad hoc poll spends no Lighthouse call on ids nobody tracks, already
// settled, or quarantined.
func PendingUploadsOfRequestIDs(ctx context.Context, db *gorm.DB, ids []string, limit int) ([]DueUpload, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	return pendingUploadsWhere(ctx, db, "u.lighthouse_document_request_id = ANY(CAST(? AS text[]))", pgraw.ArrayOf(ids), limit, "of request ids")
}

// pendingUploadsWhere reads the pending, not quarantined uploads matching
// cond (one placeholder, arg) in id order, at most limit.
func pendingUploadsWhere(ctx context.Context, db *gorm.DB, cond string, arg any, limit int, what string) ([]DueUpload, error) {
	out, err := pgraw.Rows(ctx, db, limit, `
SELECT u.id, u.lighthouse_document_request_id
  FROM lighthouse526_document_uploads u
 WHERE `+cond+` AND u.aasm_state = ?
   AND NOT EXISTS (SELECT 1 FROM lighthouse526_upload_poll_states ps
                    WHERE ps.upload_id = u.id AND ps.quarantined_at IS NOT NULL)
 ORDER BY u.id
 LIMIT ?`, scanDueUpload, arg, StatePending, limit)
	if err != nil {
		return nil, fmt.Errorf("models: pending uploads %s: %w", what, err)
	}
	return out, nil
}
