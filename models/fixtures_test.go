package models_test

import (
	"context"

	"fmt"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/vagov/lighthouse526/models"
)

// now is the specs' clock: a poll at minute 15, as the cron runs them.
var now = time.Date(2026, 3, 2, 10, 15, 0, 0, time.UTC)

var sequence atomic.Int64

func next() int64 { return sequence.Add(1) }

func ptr[T any](v T) *T { return &v }

func createSubmission() *models.Form526Submission {
	GinkgoHelper()
	s := &models.Form526Submission{UserUUID: ptr(fmt.Sprintf("user-uuid-%d", next()))}
	Expect(gdb.Create(s).Error).To(Succeed())
	return s
}

func createAttachment() *models.FormAttachment {
	GinkgoHelper()
	n := next()
	a := &models.FormAttachment{
		GUID: fmt.Sprintf("%08x-0000-4000-8000-%012x", n, n),
		Type: "SupportingEvidenceAttachment",
	}
	Expect(gdb.Create(a).Error).To(Succeed())
	return a
}

// newUpload is a valid, unsaved pending "Form 0781" upload of a new
// submission, changed by the given options.
func newUpload(opts ...func(*models.Lighthouse526DocumentUpload)) *models.Lighthouse526DocumentUpload {
	GinkgoHelper()
	u := &models.Lighthouse526DocumentUpload{
		Form526SubmissionID:         createSubmission().ID,
		LighthouseDocumentRequestID: fmt.Sprint(1000 + next()),
		DocumentType:                models.DocumentTypeForm0781,
	}
	for _, o := range opts {
		o(u)
	}
	return u
}

// createUpload saves newUpload(opts...).
func createUpload(opts ...func(*models.Lighthouse526DocumentUpload)) *models.Lighthouse526DocumentUpload {
	GinkgoHelper()
	u := newUpload(opts...)
	Expect(gdb.Create(u).Error).To(Succeed())
	return u
}

func withType(t string) func(*models.Lighthouse526DocumentUpload) {
	return func(u *models.Lighthouse526DocumentUpload) { u.DocumentType = t }
}

func withAttachment() func(*models.Lighthouse526DocumentUpload) {
	return func(u *models.Lighthouse526DocumentUpload) { u.FormAttachmentID = &createAttachment().ID }
}

func withPolledAt(t time.Time) func(*models.Lighthouse526DocumentUpload) {
	return func(u *models.Lighthouse526DocumentUpload) { u.StatusLastPolledAt = &t }
}

// setState moves a saved upload to state behind the model's back.
func setState(id int64, state string) {
	GinkgoHelper()
	Expect(gdb.Exec(`UPDATE lighthouse526_document_uploads SET aasm_state = ? WHERE id = ?`, state, id).Error).To(Succeed())
}

// reload reads an upload back.
func reload(id int64) *models.Lighthouse526DocumentUpload {
	GinkgoHelper()
	var u models.Lighthouse526DocumentUpload
	Expect(gdb.Take(&u, id).Error).To(Succeed())
	return &u
}

// unknownPolls reads an upload's unknown-poll count back.
func unknownPolls(id int64) int {
	GinkgoHelper()
	n, err := models.UnknownPollCount(context.Background(), gdb, id)
	Expect(err).NotTo(HaveOccurred())
	return n
}

// rowText is the whole stored row as text: equal before and after means
// nothing in it changed.
func rowText(id int64) string {
	GinkgoHelper()
	var s string
	Expect(gdb.Raw(`SELECT to_jsonb(u)::text FROM lighthouse526_document_uploads u WHERE id = ?`, id).Scan(&s).Error).To(Succeed())
	Expect(s).NotTo(BeEmpty(), "upload %d", id)
	return s
}

// statusJSON is a Lighthouse status object of one document.
func statusJSON(requestID, status string, start, end *time.Time, errorObject string) models.JSON {
	ms := func(t *time.Time) string {
		if t == nil {
			return "null"
		}
		return fmt.Sprint(t.UnixMilli())
	}
	if errorObject == "" {
		errorObject = "null"
	}
	return models.JSON(fmt.Sprintf(`{"requestId": %s, "status": %q, "time": {"startTime": %s, "endTime": %s},
		"steps": [{"name": "CLAIMS_EVIDENCE", "nextStepName": "BENEFITS_GATEWAY_SERVICE", "description": "VBMS", "status": %q}],
		"error": %s}`, requestID, status, ms(start), ms(end), status, errorObject))
}

const claimsEvidenceError = `{"detail": "Upload rejected by upstream system. Processing failed and upload must be resubmitted", "step": "CLAIMS_EVIDENCE"}`

func withRequestID(id string) func(*models.Lighthouse526DocumentUpload) {
	return func(u *models.Lighthouse526DocumentUpload) { u.LighthouseDocumentRequestID = id }
}
