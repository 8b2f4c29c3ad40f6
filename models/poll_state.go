package models

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// UploadPollState is the worker's own state of one upload, kept in its own
// table because the application owns lighthouse526_document_uploads. An
// upload without a row has no state. The state is its quarantine, how many
// polls in a row found it unknown to Lighthouse, and its adaptive schedule.
type UploadPollState struct {
	UploadID int64 `gorm:"primaryKey;autoIncrement:false"`
	// QuarantinedAt is set while the upload is left out of every poll.
	QuarantinedAt    *time.Time
	QuarantineReason *string
	QuarantineDetail *string
	// UnknownPollCount is how many consecutive polls found the upload unknown
	// to Lighthouse (the batch write keeps it).
	UnknownPollCount int
	// The adaptive schedule (POLL_STRATEGY=adaptive; nil under fixed): when
	// the upload is due next (or a cycle's lease on it ends), the digest of
	// the status last found, and when that status last moved.
	NextPollAt      *time.Time
	StatusDigest    *int64
	StatusChangedAt *time.Time
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

// TableName is this worker's own table.
func (UploadPollState) TableName() string { return "lighthouse526_upload_poll_states" }

// Why an upload is quarantined: the stored reasons, and the label values of
// form526_document_upload_quarantined_total. Never add one lightly: it is a
// metric label, and alerts and the runbook name each.
const (
	// QuarantineInvalidRequestID: the request id is not a positive integer of
	// int64 (lighthouse.ValidRequestID), so Lighthouse would refuse every call
	// holding it.
	QuarantineInvalidRequestID = "invalid_request_id"
	// QuarantineRefusedByLighthouse: Lighthouse refused the calls holding
	// this request id with 400 and answered the ones around it.
	QuarantineRefusedByLighthouse = "refused_by_lighthouse"
	// QuarantineMissingDocumentType: document_type is NULL or empty, so no
	// outcome can be counted or followed up.
	QuarantineMissingDocumentType = "missing_document_type"
	// QuarantineInvalidDocumentType: document_type is none of the four.
	QuarantineInvalidDocumentType = "invalid_document_type"
)

// QuarantineReasons lists every reason.
var QuarantineReasons = []string{
	QuarantineInvalidRequestID, QuarantineRefusedByLighthouse,
	QuarantineMissingDocumentType, QuarantineInvalidDocumentType,
}

// Quarantine is an upload to leave out of polling, and why. Detail says
// what was wrong with the row for the operator who fixes it; it never holds
// a veteran's identifier.
type Quarantine struct {
	UploadID int64  `json:"upload_id"`
	Reason   string `json:"reason"`
	Detail   string `json:"detail"`
}

// QuarantineUploads quarantines uploads that are still pending and not yet
// quarantined, in one statement (the batch write's, with nothing else to
// write), and returns those it quarantined now: a caller logs and counts
// each once, however many workers found the same row.
func QuarantineUploads(ctx context.Context, db *gorm.DB, qs []Quarantine, now time.Time) ([]Quarantine, error) {
	if len(qs) == 0 {
		return nil, nil
	}
	w, err := WriteBatch(ctx, db, BatchWrite{Quarantines: qs}, now)
	return w.Quarantined, err
}

// UnknownPollCount is how many consecutive polls found an upload unknown to
// Lighthouse: 0 when it has no state.
func UnknownPollCount(ctx context.Context, db *gorm.DB, uploadID int64) (int, error) {
	var n int
	err := db.WithContext(ctx).Raw(`SELECT coalesce(max(unknown_poll_count), 0) FROM lighthouse526_upload_poll_states WHERE upload_id = ?`,
		uploadID).Scan(&n).Error
	if err != nil {
		return 0, fmt.Errorf("models: unknown poll count of upload %d: %w", uploadID, err)
	}
	return n, nil
}

// ErrNotQuarantined is returned by ReleaseUpload for an upload that is not
// quarantined.
var ErrNotQuarantined = errors.New("not quarantined")

// ReleaseUpload ends an upload's quarantine, so that the next cycle polls it
// (or quarantines it again, if its row is still wrong), and returns the
// state it had. One conditional statement: of two operators releasing the
// same upload, one gets ErrNotQuarantined.
func ReleaseUpload(ctx context.Context, db *gorm.DB, uploadID int64, now time.Time) (*UploadPollState, error) {
	var released []UploadPollState
	err := db.WithContext(ctx).Raw(`
UPDATE lighthouse526_upload_poll_states s SET
       quarantined_at = NULL, quarantine_reason = NULL, quarantine_detail = NULL, updated_at = ?
  FROM lighthouse526_upload_poll_states prev
 WHERE s.upload_id = ? AND prev.upload_id = s.upload_id AND s.quarantined_at IS NOT NULL
RETURNING prev.*`, now.UTC(), uploadID).Scan(&released).Error
	if err != nil {
		return nil, fmt.Errorf("models: release upload %d: %w", uploadID, err)
	}
	if len(released) == 0 {
		return nil, fmt.Errorf("models: release upload %d: %w", uploadID, ErrNotQuarantined)
	}
	return &released[0], nil
}

// PendingUploadByID reads the request id and document type of an upload
// that is pending (quarantined or not), as a batch's read sees them, or nil
// when it is not pending: what `worker uploads release` checks a released
// row against.
func PendingUploadByID(ctx context.Context, db *gorm.DB, id int64) (*PendingUpload, error) {
	var rows []struct {
		LighthouseDocumentRequestID string
		DocumentType                *string
	}
	err := db.WithContext(ctx).Raw(`SELECT lighthouse_document_request_id, document_type
  FROM lighthouse526_document_uploads WHERE id = ? AND aasm_state = ?`, id, StatePending).Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("models: pending upload %d: %w", id, err)
	}
	if len(rows) == 0 {
		return nil, nil
	}
	up := &PendingUpload{ID: id, LighthouseDocumentRequestID: rows[0].LighthouseDocumentRequestID}
	if rows[0].DocumentType != nil {
		up.DocumentType = *rows[0].DocumentType
	}
	return up, nil
}
