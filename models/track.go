package models

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/gorm"
)

// trackLockClass is the first key of the two-key advisory lock TrackUpload
// takes, so that its locks never collide with another application's one-key
// or two-key locks on a shared database.
const trackLockClass = 526

// ErrUnknownReference is wrapped by a *ReferenceError: the upload names a
// submission or an attachment that does not exist.
var ErrUnknownReference = errors.New("unknown reference")

// ReferenceError says which field names a row that does not exist.
type ReferenceError struct {
	Field string // form526_submission_id or form_attachment_id; "" if only the foreign key said so
	ID    int64
}

func (e *ReferenceError) Error() string {
	if e.Field == "" {
		return "a referenced submission or attachment does not exist"
	}
	return fmt.Sprintf("%s %d does not exist", e.Field, e.ID)
}

// Unwrap makes a ReferenceError an ErrUnknownReference.
func (e *ReferenceError) Unwrap() error { return ErrUnknownReference }

// TrackUpload registers an upload another service made, once per Lighthouse
// request id: in one transaction it takes an advisory lock on the request id
// (two concurrent tracks of the same id queue behind each other), returns the
// existing upload if the id is already tracked, and otherwise checks the
// submission and attachment exist and inserts the upload, pending.
//
// It returns the upload and whether this call created it. An invalid upload
// returns the model's *ValidationError; a missing submission or attachment a
// *ReferenceError. Neither changes anything.
func TrackUpload(ctx context.Context, db *gorm.DB, u Lighthouse526DocumentUpload, now time.Time) (*Lighthouse526DocumentUpload, bool, error) {
	if err := u.Validate(); err != nil {
		return nil, false, err
	}
	var (
		out     Lighthouse526DocumentUpload
		created bool
	)
	err := db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Exec("SELECT pg_advisory_xact_lock(?, hashtext(?))", trackLockClass, u.LighthouseDocumentRequestID).Error; err != nil {
			return err
		}
		err := tx.Where("lighthouse_document_request_id = ?", u.LighthouseDocumentRequestID).Order("id").Take(&out).Error
		if err == nil {
			return nil
		}
		if !errors.Is(err, gorm.ErrRecordNotFound) {
			return err
		}
		if err := referenceExists(tx, "form526_submissions", "form526_submission_id", u.Form526SubmissionID); err != nil {
			return err
		}
		if u.FormAttachmentID != nil {
			if err := referenceExists(tx, "form_attachments", "form_attachment_id", *u.FormAttachmentID); err != nil {
				return err
			}
		}
		out = u
		out.ID = 0
		out.AasmState = StatePending
		out.CreatedAt, out.UpdatedAt = now.UTC(), now.UTC()
		if err := tx.Create(&out).Error; err != nil {
			return err
		}
		created = true
		return nil
	})
	var pgErr *pgconn.PgError
	switch {
	case err == nil:
		return &out, created, nil
	case errors.As(err, &pgErr) && pgErr.Code == "23503":
		// The row went away between the check and the insert.
		return nil, false, &ReferenceError{}
	case errors.Is(err, ErrUnknownReference), IsValidation(err):
		return nil, false, err
	}
	return nil, false, fmt.Errorf("models: track upload: %w", err)
}

// referenceExists reports with a *ReferenceError that table has no row id.
// The id is compared as a bigint: VA.gov's submissions and attachments have
// integer keys (`id: :serial`), and an id past integer's range must read as
// one that does not exist, not fail to be sent as an integer.
func referenceExists(tx *gorm.DB, table, field string, id int64) error {
	var exists bool
	if err := tx.Raw("SELECT EXISTS (SELECT 1 FROM "+table+" WHERE id = CAST(? AS bigint))", id).Scan(&exists).Error; err != nil {
		return err
	}
	if !exists {
		return &ReferenceError{Field: field, ID: id}
	}
	return nil
}

// IsValidation reports whether err is a model validation error.
func IsValidation(err error) bool {
	var ve *ValidationError
	return errors.As(err, &ve)
}
