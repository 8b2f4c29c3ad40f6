package models_test

import (
	"errors"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/vagov/lighthouse526/models"
)

// validationFields returns the fields a *ValidationError names.
func validationFields(err error) map[string]string {
	GinkgoHelper()
	var verr *models.ValidationError
	Expect(errors.As(err, &verr)).To(BeTrue(), "want a *models.ValidationError, got %T: %v", err, err)
	return verr.Fields
}

var _ = Describe("Lighthouse526DocumentUpload", func() {
	Context("when created", func() {
		It("starts pending", func() {
			u := createUpload()

			Expect(u.AasmState).To(Equal(models.StatePending))
			Expect(reload(u.ID).AasmState).To(Equal(models.StatePending))
		})

		It("stamps its creation time", func() {
			u := createUpload()

			stored := reload(u.ID)
			Expect(stored.CreatedAt).NotTo(BeZero())
			Expect(stored.UpdatedAt).To(Equal(stored.CreatedAt))
		})

		It("refuses to start in another state", func() {
			u := newUpload(func(u *models.Lighthouse526DocumentUpload) { u.AasmState = models.StateCompleted })

			Expect(gdb.Create(u).Error).To(MatchError(ContainSubstring("starts pending")))
			var n int64
			Expect(gdb.Model(&models.Lighthouse526DocumentUpload{}).Count(&n).Error).To(Succeed())
			Expect(n).To(BeZero())
		})
	})

	Describe("Validate", func() {
		DescribeTable("when the record is valid",
			func(documentType string, attached bool) {
				u := newUpload(withType(documentType))
				if attached {
					withAttachment()(u)
				}

				Expect(u.Validate()).To(Succeed())
				Expect(gdb.Create(u).Error).To(Succeed())
			},
			Entry("a Veteran Upload with its attachment", models.DocumentTypeVeteranUpload, true),
			Entry("BDD Instructions with an attachment", models.DocumentTypeBDDInstructions, true),
			Entry("a Form 0781 with an attachment", models.DocumentTypeForm0781, true),
			Entry("a Form 0781a with an attachment", models.DocumentTypeForm0781a, true),
			Entry("BDD Instructions without an attachment", models.DocumentTypeBDDInstructions, false),
			Entry("a Form 0781 without an attachment", models.DocumentTypeForm0781, false),
			Entry("a Form 0781a without an attachment", models.DocumentTypeForm0781a, false),
		)

		DescribeTable("when the record is invalid",
			func(change func(*models.Lighthouse526DocumentUpload), field string) {
				u := newUpload(change)

				Expect(validationFields(u.Validate())).To(HaveKey(field))
				Expect(u.Validate()).To(MatchError(ContainSubstring(field)))
			},
			Entry("without a submission", func(u *models.Lighthouse526DocumentUpload) { u.Form526SubmissionID = 0 }, "form526_submission_id"),
			Entry("without a request id", func(u *models.Lighthouse526DocumentUpload) { u.LighthouseDocumentRequestID = "" }, "lighthouse_document_request_id"),
			Entry("with a blank request id", func(u *models.Lighthouse526DocumentUpload) { u.LighthouseDocumentRequestID = "  " }, "lighthouse_document_request_id"),
			Entry("without a type", func(u *models.Lighthouse526DocumentUpload) { u.DocumentType = "" }, "document_type"),
			Entry(`with type "Receipt"`, func(u *models.Lighthouse526DocumentUpload) { u.DocumentType = "Receipt" }, "document_type"),
			Entry("a Veteran Upload without its attachment", func(u *models.Lighthouse526DocumentUpload) {
				u.DocumentType = models.DocumentTypeVeteranUpload
			}, "form_attachment_id"),
		)

		Context("when several fields are invalid", func() {
			It("names every one", func() {
				u := &models.Lighthouse526DocumentUpload{DocumentType: models.DocumentTypeVeteranUpload}

				Expect(validationFields(u.Validate())).To(HaveKey("form526_submission_id"))
				Expect(validationFields(u.Validate())).To(HaveLen(3))
			})
		})

		Context("when an invalid record is saved", func() {
			It("refuses to create it", func() {
				u := newUpload(withType("Receipt"))

				Expect(validationFields(gdb.Create(u).Error)).To(HaveKey("document_type"))
				var n int64
				Expect(gdb.Model(&models.Lighthouse526DocumentUpload{}).Count(&n).Error).To(Succeed())
				Expect(n).To(BeZero())
			})

			It("refuses to update it", func() {
				u := createUpload()
				before := rowText(u.ID)
				u.DocumentType = "Receipt"

				Expect(validationFields(gdb.Save(u).Error)).To(HaveKey("document_type"))
				Expect(rowText(u.ID)).To(Equal(before))
			})
		})
	})
})

var _ = Describe("DocumentTypeForCode", func() {
	DescribeTable("maps a VA document code to its type",
		func(code, want string) {
			Expect(models.DocumentTypeForCode(code)).To(Equal(want))
		},
		Entry("L023", "L023", models.DocumentTypeBDDInstructions),
		Entry("L228", "L228", models.DocumentTypeForm0781),
		Entry("L229", "L229", models.DocumentTypeForm0781a),
		Entry("a lower-case, padded L229", " l229 ", models.DocumentTypeForm0781a),
		Entry("any other code (L107)", "L107", models.DocumentTypeVeteranUpload),
		Entry("no code", "", models.DocumentTypeVeteranUpload),
	)
})

var _ = Describe("MetricDocumentType", func() {
	DescribeTable("gives the metric label of each type",
		func(documentType, want string) {
			Expect(models.MetricDocumentType(documentType)).To(Equal(want))
		},
		Entry(nil, models.DocumentTypeVeteranUpload, "veteran_upload"),
		Entry(nil, models.DocumentTypeBDDInstructions, "bdd_instructions"),
		Entry(nil, models.DocumentTypeForm0781, "form_0781"),
		Entry(nil, models.DocumentTypeForm0781a, "form_0781a"),
	)
})
