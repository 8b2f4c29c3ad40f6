package models_test

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/vagov/lighthouse526/models"
)

// quarantineUpload quarantines one upload for an invalid document type.
func quarantineUpload(id int64) {
	GinkgoHelper()
	done, err := models.QuarantineUploads(context.Background(), gdb,
		[]models.Quarantine{{UploadID: id, Reason: models.QuarantineInvalidDocumentType, Detail: "spec"}}, now)
	Expect(err).NotTo(HaveOccurred())
	Expect(done).To(HaveLen(1))
}

// pollState reads an upload's poll state; nil when it has none.
func pollState(id int64) *models.UploadPollState {
	GinkgoHelper()
	var states []models.UploadPollState
	Expect(gdb.Where("upload_id = ?", id).Find(&states).Error).To(Succeed())
	if len(states) == 0 {
		return nil
	}
	return &states[0]
}

var _ = Describe("QuarantineUploads", func() {
	var ctx context.Context

	BeforeEach(func() {
		ctx = context.Background()
	})

	It("quarantines pending uploads with their reason and detail, and returns them", func() {
		a, b := createUpload(), createUpload()
		qs := []models.Quarantine{
			{UploadID: a.ID, Reason: models.QuarantineInvalidRequestID, Detail: `request id "abc"`},
			{UploadID: b.ID, Reason: models.QuarantineMissingDocumentType, Detail: "document_type is NULL"},
		}

		done, err := models.QuarantineUploads(ctx, gdb, qs, now)

		Expect(err).NotTo(HaveOccurred())
		Expect(done).To(ConsistOf(qs))
		st := pollState(a.ID)
		Expect(st).NotTo(BeNil())
		Expect(*st.QuarantinedAt).To(BeTemporally("==", now))
		Expect(st.QuarantineReason).To(HaveValue(Equal(models.QuarantineInvalidRequestID)))
		Expect(st.QuarantineDetail).To(HaveValue(Equal(`request id "abc"`)))
		Expect(pollState(b.ID).QuarantineReason).To(HaveValue(Equal(models.QuarantineMissingDocumentType)))
		Expect(reload(a.ID).AasmState).To(Equal(models.StatePending), "the application's row is not touched")
	})

	It("returns an upload already quarantined no second time, and keeps its first reason", func() {
		u := createUpload()
		quarantineUpload(u.ID)

		done, err := models.QuarantineUploads(ctx, gdb,
			[]models.Quarantine{{UploadID: u.ID, Reason: models.QuarantineRefusedByLighthouse}}, now.Add(time.Hour))

		Expect(err).NotTo(HaveOccurred())
		Expect(done).To(BeEmpty())
		Expect(pollState(u.ID).QuarantineReason).To(HaveValue(Equal(models.QuarantineInvalidDocumentType)))
		Expect(*pollState(u.ID).QuarantinedAt).To(BeTemporally("==", now))
	})

	It("leaves uploads that are no longer pending, or gone, alone", func() {
		completed := createUpload()
		setState(completed.ID, models.StateCompleted)

		done, err := models.QuarantineUploads(ctx, gdb, []models.Quarantine{
			{UploadID: completed.ID, Reason: models.QuarantineInvalidRequestID},
			{UploadID: 987654, Reason: models.QuarantineInvalidRequestID},
		}, now)

		Expect(err).NotTo(HaveOccurred())
		Expect(done).To(BeEmpty())
		Expect(pollState(completed.ID)).To(BeNil())
		Expect(pollState(987654)).To(BeNil())
	})

	It("quarantines an upload named twice once, for its first reason", func() {
		u := createUpload()
		done, err := models.QuarantineUploads(ctx, gdb, []models.Quarantine{
			{UploadID: u.ID, Reason: models.QuarantineMissingDocumentType},
			{UploadID: u.ID, Reason: models.QuarantineRefusedByLighthouse},
		}, now)

		Expect(err).NotTo(HaveOccurred())
		Expect(done).To(ConsistOf(HaveField("Reason", models.QuarantineMissingDocumentType)))
	})
})

var _ = Describe("ReleaseUpload", func() {
	var ctx context.Context

	BeforeEach(func() {
		ctx = context.Background()
	})

	It("ends the quarantine, returns what it was, and the upload is due again", func() {
		u := createUpload()
		quarantineUpload(u.ID)
		Expect(models.NextDueBatch(ctx, gdb, 0, now, now, 10)).To(BeEmpty())

		was, err := models.ReleaseUpload(ctx, gdb, u.ID, now.Add(time.Minute))

		Expect(err).NotTo(HaveOccurred())
		Expect(was.QuarantineReason).To(HaveValue(Equal(models.QuarantineInvalidDocumentType)))
		Expect(*was.QuarantinedAt).To(BeTemporally("==", now))
		st := pollState(u.ID)
		Expect(st.QuarantinedAt).To(BeNil())
		Expect(st.QuarantineReason).To(BeNil())
		Expect(st.QuarantineDetail).To(BeNil())
		Expect(st.UpdatedAt).To(BeTemporally("==", now.Add(time.Minute)))
		due, err := models.NextDueBatch(ctx, gdb, 0, now, now, 10)
		Expect(err).NotTo(HaveOccurred())
		Expect(idsOf(due)).To(Equal([]int64{u.ID}))
	})

	It("can quarantine a released upload again", func() {
		u := createUpload()
		quarantineUpload(u.ID)
		_, err := models.ReleaseUpload(ctx, gdb, u.ID, now)
		Expect(err).NotTo(HaveOccurred())

		quarantineUpload(u.ID)

		Expect(pollState(u.ID).QuarantinedAt).NotTo(BeNil())
	})

	It("refuses an upload that is not quarantined, or has no state", func() {
		u := createUpload()
		quarantineUpload(u.ID)
		_, err := models.ReleaseUpload(ctx, gdb, u.ID, now)
		Expect(err).NotTo(HaveOccurred())

		_, err = models.ReleaseUpload(ctx, gdb, u.ID, now)
		Expect(err).To(MatchError(models.ErrNotQuarantined))
		_, err = models.ReleaseUpload(ctx, gdb, createUpload().ID, now)
		Expect(err).To(MatchError(models.ErrNotQuarantined))
	})
})

var _ = Describe("StuckUploads", func() {
	It("lists quarantined uploads first, with their reason and detail, a NULL document type included", func() {
		old := createUpload()
		Expect(gdb.Exec(`UPDATE lighthouse526_document_uploads SET created_at = ? WHERE id = ?`, now.Add(-48*time.Hour), old.ID).Error).To(Succeed())
		bad := createUpload()
		Expect(gdb.Exec(`UPDATE lighthouse526_document_uploads SET document_type = NULL WHERE id = ?`, bad.ID).Error).To(Succeed())
		_, err := models.QuarantineUploads(context.Background(), gdb, []models.Quarantine{
			{UploadID: bad.ID, Reason: models.QuarantineMissingDocumentType, Detail: "document_type is NULL or empty"},
		}, now)
		Expect(err).NotTo(HaveOccurred())
		createUpload() // neither old, unknown nor quarantined

		// The rows were created by the real clock, months after the fixtures' now.
		stuck, err := models.StuckUploads(context.Background(), gdb, time.Now(), now.Add(-24*time.Hour), 3, 10)

		Expect(err).NotTo(HaveOccurred())
		Expect(stuck).To(HaveLen(2))
		Expect(stuck[0].ID).To(Equal(bad.ID))
		Expect(stuck[0].Reason).To(Equal("quarantined"))
		Expect(stuck[0].DocumentType).To(BeEmpty())
		Expect(stuck[0].QuarantineReason).To(HaveValue(Equal(models.QuarantineMissingDocumentType)))
		Expect(stuck[0].QuarantineDetail).To(HaveValue(Equal("document_type is NULL or empty")))
		Expect(stuck[0].QuarantinedAt).To(HaveValue(BeTemporally("==", now)))
		Expect(stuck[1].ID).To(Equal(old.ID))
		Expect(stuck[1].Reason).To(Equal("pending_too_long"))
		Expect(stuck[1].QuarantineReason).To(BeNil())
	})
})

var _ = Describe("UploadsByRequestID", func() {
	It("reads a row with NULL in every nullable column", func() {
		u := createUpload(withType(models.DocumentTypeVeteranUpload), withAttachment())
		Expect(gdb.Exec(`UPDATE lighthouse526_document_uploads
			SET form_attachment_id = NULL, aasm_state = NULL, document_type = NULL, lighthouse_processing_started_at = NULL,
			    lighthouse_processing_ended_at = NULL, status_last_polled_at = NULL, error_message = NULL, last_status_response = NULL
			WHERE id = ?`, u.ID).Error).To(Succeed())

		got, err := models.UploadsByRequestID(context.Background(), gdb, u.LighthouseDocumentRequestID)

		Expect(err).NotTo(HaveOccurred())
		Expect(got).To(ConsistOf(SatisfyAll(
			HaveField("ID", u.ID), HaveField("AasmState", ""), HaveField("DocumentType", ""),
			HaveField("FormAttachmentID", BeNil()), HaveField("LastStatusResponse", BeNil()),
		)))
	})
})
