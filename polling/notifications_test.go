package polling_test

import (
	"context"
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/vagov/lighthouse526/models"
	"github.com/vagov/lighthouse526/polling"
)

var _ = Describe("Failure follow-ups written by a batch", func() {
	var (
		ctx     context.Context
		o       *observed
		updater *polling.StatusUpdater
	)

	BeforeEach(func() {
		ctx = context.Background()
		o = newObserved()
		updater = newUpdater(o)
		updater.Emails = polling.EmailsAlways(true)
	})

	// fail applies a FAILED (at CLAIMS_EVIDENCE) answer for requestID.
	fail := func(requestID string) polling.BatchSummary {
		GinkgoHelper()
		body := statusBody([]string{failedEntry(requestID, ms(testNow.Add(-2*time.Hour)), ms(testNow.Add(-time.Hour)), "CLAIMS_EVIDENCE")})
		sum, err := applyAnswer(ctx, updater, o.Logger, "", []string{requestID}, decodeStatuses(body))
		Expect(err).NotTo(HaveOccurred())
		return sum
	}

	attachmentGUID := func(u models.Lighthouse526DocumentUpload) string {
		GinkgoHelper()
		var a models.FormAttachment
		Expect(gdb.Take(&a, *u.FormAttachmentID).Error).To(Succeed())
		return a.GUID
	}

	Context("when notifications are enabled", func() {
		It("writes one document-upload failure email for a failed Veteran Upload", func() {
			upload := seedUpload(ctx, "16819", models.DocumentTypeVeteranUpload)
			Expect(fail("16819").Notifications).To(Equal(1))

			Expect(outboxEntries(ctx)).To(ConsistOf(SatisfyAll(
				HaveField("UploadID", upload.ID),
				HaveField("TaskType", "form526:document_upload_failure_email"),
				HaveField("Payload", WithTransform(func(j models.JSON) string { return string(j) }, MatchJSON(fmt.Sprintf(
					`{"form526_submission_id":%d,"form_attachment_guid":%q}`, upload.Form526SubmissionID, attachmentGUID(upload))))),
				HaveField("EnqueuedAt", BeNil()),
			)))
		})

		DescribeTable("writes one Form 0781 failure email for a failed Form 0781 or 0781a, and warns",
			func(docType string) {
				upload := seedUpload(ctx, "16819", docType)
				Expect(fail("16819").Notifications).To(Equal(1))

				Expect(outboxEntries(ctx)).To(ConsistOf(SatisfyAll(
					HaveField("UploadID", upload.ID),
					HaveField("TaskType", "form526:form0781_upload_failure_email"),
					HaveField("Payload", WithTransform(func(j models.JSON) string { return string(j) }, MatchJSON(fmt.Sprintf(
						`{"form526_submission_id":%d}`, upload.Form526SubmissionID)))),
				)))
				Expect(o.Logs.WithMessage(msgFailedUploadStatus)).To(ConsistOf(SatisfyAll(
					HaveKeyWithValue("level", "warn"),
					HaveKeyWithValue("form526_submission_id", beNumber(float64(upload.Form526SubmissionID))),
					HaveKeyWithValue("document_type", docType),
					HaveKeyWithValue("failure_step", "CLAIMS_EVIDENCE"),
					HaveKeyWithValue("lighthouse_document_request_id", "16819"),
					HaveKeyWithValue("user_uuid", Not(BeEmpty())),
				)))
			},
			Entry("Form 0781", models.DocumentTypeForm0781),
			Entry("Form 0781a", models.DocumentTypeForm0781a),
		)

		It("writes none for failed BDD Instructions", func() {
			seedUpload(ctx, "16819", models.DocumentTypeBDDInstructions)
			sum := fail("16819")
			Expect(sum.Failed).To(Equal(1))
			Expect(sum.Notifications).To(BeZero())
			Expect(outboxEntries(ctx)).To(BeEmpty())
		})

		It("writes one only, when the same failure is answered again", func() {
			seedUpload(ctx, "16819", models.DocumentTypeVeteranUpload)
			fail("16819")
			Expect(fail("16819").Notifications).To(BeZero())
			Expect(outboxEntries(ctx)).To(HaveLen(1))
		})
	})

	Context("when notifications are disabled", func() {
		It("writes none for any document type, though the uploads fail", func() {
			updater.Emails = polling.EmailsAlways(false)
			for i, t := range models.DocumentTypes {
				seedUpload(ctx, fmt.Sprint(500+i), t)
				Expect(fail(fmt.Sprint(500 + i)).Failed).To(Equal(1))
			}
			Expect(outboxEntries(ctx)).To(BeEmpty())
		})
	})
})
