// Package models holds the GORM models of the upload-status tables and their
// state rules. It knows nothing of HTTP or of the queue.
package models

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
)

// States of an upload (the column is still called aasm_state, after the Ruby
// state machine library of the original system).
const (
	StatePending   = "pending"
	StateCompleted = "completed"
	StateFailed    = "failed"
)

// Document types, stored verbatim in document_type.
const (
	DocumentTypeBDDInstructions = "BDD Instructions"
	DocumentTypeForm0781        = "Form 0781"
	DocumentTypeForm0781a       = "Form 0781a"
	DocumentTypeVeteranUpload   = "Veteran Upload"
)

// DocumentTypes lists every valid document type.
var DocumentTypes = []string{
	DocumentTypeBDDInstructions, DocumentTypeForm0781, DocumentTypeForm0781a, DocumentTypeVeteranUpload,
}

// documentCodes maps the VA document codes Form 526 uploads with to their type.
// Any other code is a veteran's own evidence, which has a form attachment.
var documentCodes = map[string]string{
	"L023": DocumentTypeBDDInstructions,
	"L228": DocumentTypeForm0781,
	"L229": DocumentTypeForm0781a,
}

// DocumentTypeForCode returns the document type of a VA document code: L023,
// L228 and L229 have their own; any other code is a "Veteran Upload".
func DocumentTypeForCode(code string) string {
	if t, ok := documentCodes[strings.ToUpper(strings.TrimSpace(code))]; ok {
		return t
	}
	return DocumentTypeVeteranUpload
}

// MetricDocumentType is the metric-label form of a document type
// ("Form 0781a" → "form_0781a"), the same set the original's StatsD keys used.
func MetricDocumentType(documentType string) string {
	return strings.ReplaceAll(strings.ToLower(documentType), " ", "_")
}

// ValidDocumentType reports whether t is one of the four document types.
func ValidDocumentType(t string) bool {
	for _, d := range DocumentTypes {
		if t == d {
			return true
		}
	}
	return false
}

// Lighthouse526DocumentUpload is one supplemental document of a Form 526
// claim, uploaded to Lighthouse and followed until Lighthouse says it reached
// VBMS and BGS, or failed.
type Lighthouse526DocumentUpload struct {
	ID                            int64
	Form526SubmissionID           int64
	FormAttachmentID              *int64
	LighthouseDocumentRequestID   string
	AasmState                     string
	DocumentType                  string
	LighthouseProcessingStartedAt *time.Time
	LighthouseProcessingEndedAt   *time.Time
	StatusLastPolledAt            *time.Time
	ErrorMessage                  JSON
	LastStatusResponse            JSON
	CreatedAt                     time.Time
	UpdatedAt                     time.Time
}

// TableName keeps the original system's table.
func (Lighthouse526DocumentUpload) TableName() string { return "lighthouse526_document_uploads" }

// ValidationError lists every invalid field of a record.
type ValidationError struct {
	Fields map[string]string
}

func (e *ValidationError) Error() string {
	parts := make([]string, 0, len(e.Fields))
	for _, f := range []string{"form526_submission_id", "lighthouse_document_request_id", "document_type", "form_attachment_id"} {
		if msg, ok := e.Fields[f]; ok {
			parts = append(parts, f+" "+msg)
		}
	}
	return "invalid document upload: " + strings.Join(parts, "; ")
}

// Validate applies the model's rules: a submission and a request id are
// required, the type is one of the four, and a "Veteran Upload" needs its form
// attachment.
func (u *Lighthouse526DocumentUpload) Validate() error {
	fields := map[string]string{}
	if u.Form526SubmissionID <= 0 {
		fields["form526_submission_id"] = "is required"
	}
	if strings.TrimSpace(u.LighthouseDocumentRequestID) == "" {
		fields["lighthouse_document_request_id"] = "is required"
	}
	switch {
	case u.DocumentType == "":
		fields["document_type"] = "is required"
	case !ValidDocumentType(u.DocumentType):
		fields["document_type"] = fmt.Sprintf("must be one of %q", DocumentTypes)
	}
	if u.DocumentType == DocumentTypeVeteranUpload && (u.FormAttachmentID == nil || *u.FormAttachmentID <= 0) {
		fields["form_attachment_id"] = "is required for a Veteran Upload"
	}
	if len(fields) > 0 {
		return &ValidationError{Fields: fields}
	}
	return nil
}

// BeforeCreate starts every upload pending and refuses an invalid one.
func (u *Lighthouse526DocumentUpload) BeforeCreate(*gorm.DB) error {
	if u.AasmState == "" {
		u.AasmState = StatePending
	}
	if u.AasmState != StatePending {
		return fmt.Errorf("a new document upload starts %s, not %q", StatePending, u.AasmState)
	}
	return u.Validate()
}

// BeforeSave refuses an invalid record on every save.
func (u *Lighthouse526DocumentUpload) BeforeSave(*gorm.DB) error {
	return u.Validate()
}

// Form526Submission is the claim submission a document belongs to.
type Form526Submission struct {
	ID        int64
	UserUUID  *string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// TableName keeps the application's table.
func (Form526Submission) TableName() string { return "form526_submissions" }

// FormAttachment is a veteran's stored upload; its guid identifies it to the
// notification service. Only the columns the worker uses: the file's
// pointer (the application's encrypted file_data_ciphertext) is none.
type FormAttachment struct {
	ID        int64
	GUID      string `gorm:"column:guid"`
	Type      string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// TableName keeps the application's table.
func (FormAttachment) TableName() string { return "form_attachments" }

// ErrNotFound is returned when a record does not exist.
var ErrNotFound = errors.New("not found")
