package tasks_test

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/vagov/lighthouse526/models"
	"github.com/vagov/lighthouse526/tasks"
)

var _ = Describe("TrackHandler", func() {
	var (
		ctx     context.Context
		o       *observed
		handler *tasks.TrackHandler
		sub     int64
	)

	BeforeEach(func() {
		ctx = context.Background()
		o = newObserved()
		handler = &tasks.TrackHandler{DB: gdb, Metrics: o.Types, Logger: o.Logger, Now: func() time.Time { return testNow }}
		sub = seedSubmission(ctx)
	})

	track := func(p tasks.TrackPayload) error {
		GinkgoHelper()
		t, err := tasks.NewTrackTask("tasks-test", p)
		Expect(err).NotTo(HaveOccurred())
		return handler.ProcessTask(ctx, t)
	}
	uploadsOf := func(requestID string) []models.Lighthouse526DocumentUpload {
		GinkgoHelper()
		ups, err := models.UploadsByRequestID(ctx, gdb, requestID)
		Expect(err).NotTo(HaveOccurred())
		return ups
	}

	Context("when the payload gives a document code", func() {
		It("creates the upload pending, with the code's document type", func() {
			Expect(track(tasks.TrackPayload{Form526SubmissionID: sub, LighthouseDocumentRequestID: "634", DocumentCode: "L228"})).To(Succeed())

			ups := uploadsOf("634")
			Expect(ups).To(HaveLen(1))
			Expect(ups[0].AasmState).To(Equal(models.StatePending))
			Expect(ups[0].DocumentType).To(Equal(models.DocumentTypeForm0781))
			Expect(ups[0].Form526SubmissionID).To(Equal(sub))
			Expect(ups[0].CreatedAt).To(BeTemporally("==", testNow))
			Expect(o.Logs.WithMessage("tracking a document upload")).To(HaveLen(1))
		})

		It("takes any other code for a Veteran Upload with its attachment", func() {
			att, _ := seedAttachment(ctx)
			Expect(track(tasks.TrackPayload{Form526SubmissionID: sub, FormAttachmentID: &att, LighthouseDocumentRequestID: "635", DocumentCode: "L107"})).To(Succeed())

			ups := uploadsOf("635")
			Expect(ups).To(HaveLen(1))
			Expect(ups[0].DocumentType).To(Equal(models.DocumentTypeVeteranUpload))
			Expect(*ups[0].FormAttachmentID).To(Equal(att))
		})
	})

	Context("when the request id is already tracked", func() {
		It("creates nothing, even with other attributes, and succeeds", func() {
			Expect(track(tasks.TrackPayload{Form526SubmissionID: sub, LighthouseDocumentRequestID: "700", DocumentType: models.DocumentTypeBDDInstructions})).To(Succeed())
			Expect(track(tasks.TrackPayload{Form526SubmissionID: sub, LighthouseDocumentRequestID: "700", DocumentType: models.DocumentTypeBDDInstructions})).To(Succeed())
			Expect(track(tasks.TrackPayload{Form526SubmissionID: sub, LighthouseDocumentRequestID: "700", DocumentType: models.DocumentTypeForm0781a})).To(Succeed())

			ups := uploadsOf("700")
			Expect(ups).To(HaveLen(1))
			Expect(ups[0].DocumentType).To(Equal(models.DocumentTypeBDDInstructions))
			Expect(o.Logs.WithMessage("request id already tracked with other attributes; nothing changed")).To(HaveLen(1))
		})

		It("creates one upload when many tracks of the id race", func() {
			var wg sync.WaitGroup
			errs := make(chan error, 12)
			for range 12 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					defer GinkgoRecover()
					t, err := tasks.NewTrackTask("tasks-test", tasks.TrackPayload{Form526SubmissionID: sub, LighthouseDocumentRequestID: "801", DocumentCode: "L023"})
					Expect(err).NotTo(HaveOccurred())
					errs <- handler.ProcessTask(ctx, t)
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				Expect(err).NotTo(HaveOccurred())
			}
			Expect(uploadsOf("801")).To(HaveLen(1))
		})
	})

	Context("when the task is built", func() {
		It("sets the queue, retries, timeout, retention and a task id derived from the payload", func() {
			insp := newInspector()
			queue := newQueue(insp)
			p := tasks.TrackPayload{Form526SubmissionID: sub, LighthouseDocumentRequestID: "900", DocumentCode: "L023"}
			t, err := tasks.NewTrackTask(queue, p)
			Expect(err).NotTo(HaveOccurred())
			client := newAsynqClient()
			info, err := client.EnqueueContext(ctx, t)
			Expect(err).NotTo(HaveOccurred())
			id, err := tasks.TrackTaskID(p)
			Expect(err).NotTo(HaveOccurred())
			Expect(info.ID).To(Equal(id))
			Expect(info.Queue).To(Equal(queue))
			Expect(info.MaxRetry).To(Equal(8))
			Expect(info.Timeout).To(Equal(30 * time.Second))
			Expect(info.Retention).To(Equal(24 * time.Hour))

			again, err := tasks.NewTrackTask(queue, p)
			Expect(err).NotTo(HaveOccurred())
			_, err = client.EnqueueContext(ctx, again)
			Expect(err).To(MatchError(asynq.ErrTaskIDConflict))

			p.DocumentCode = "L228"
			other, err := tasks.TrackTaskID(p)
			Expect(err).NotTo(HaveOccurred())
			Expect(other).NotTo(Equal(id))
		})

		It("refuses an invalid payload with every problem by field", func() {
			_, err := tasks.NewTrackTask("q", tasks.TrackPayload{LighthouseDocumentRequestID: "12a", DocumentType: "Receipt", DocumentCode: "L023"})
			var fe tasks.FieldErrors
			Expect(errors.As(err, &fe)).To(BeTrue())
			Expect(fe).To(HaveKey("form526_submission_id"))
			Expect(fe).To(HaveKey("lighthouse_document_request_id"))
			Expect(fe).To(HaveKey("document_code"))
		})
	})

	Context("when a task is rejected", func() {
		var (
			insp   *asynq.Inspector
			client *asynq.Client
			queue  string
		)

		BeforeEach(func() {
			insp = newInspector()
			queue = newQueue(insp)
			client = newAsynqClient()
			startServer(o, queue, map[string]asynq.Handler{tasks.TypeDocumentUploadTrack: handler})
		})

		enqueueRaw := func(payload string) string {
			GinkgoHelper()
			info, err := client.EnqueueContext(ctx, asynq.NewTask(tasks.TypeDocumentUploadTrack, []byte(payload)), asynq.Queue(queue), asynq.MaxRetry(5))
			Expect(err).NotTo(HaveOccurred())
			return info.ID
		}

		DescribeTable("archives it at once, counts it and logs the reason",
			func(payload func() string, reason string) {
				id := enqueueRaw(payload())
				expectArchivedUnretried(insp, queue, id)
				Expect(o.Rejected(tasks.TypeDocumentUploadTrack, reason)).To(Equal(1.0))
				Expect(o.Logs.WithMessage("rejected a task: its payload is malformed or invalid")).To(ContainElement(HaveKeyWithValue("reason", reason)))
				var n int64
				Expect(gdb.Model(&models.Lighthouse526DocumentUpload{}).Count(&n).Error).To(Succeed())
				Expect(n).To(BeZero())
			},
			Entry("malformed JSON", func() string { return `{"form526_submission_id": 1,` }, "malformed_json"),
			Entry("an unknown field", func() string {
				return `{"form526_submission_id": 1, "lighthouse_document_request_id": "5", "document_code": "L023", "file_number": "x"}`
			}, "malformed_json"),
			Entry("a Veteran Upload without its attachment", func() string {
				return `{"form526_submission_id": 1, "lighthouse_document_request_id": "5", "document_type": "Veteran Upload"}`
			}, "invalid"),
			Entry("a request id past int64, which Lighthouse refuses", func() string {
				return `{"form526_submission_id": 1, "lighthouse_document_request_id": "99999999999999999999", "document_code": "L023"}`
			}, "invalid"),
			Entry("a request id of zero", func() string {
				return `{"form526_submission_id": 1, "lighthouse_document_request_id": "0", "document_code": "L023"}`
			}, "invalid"),
			Entry("both a document type and a code", func() string {
				return `{"form526_submission_id": 1, "lighthouse_document_request_id": "5", "document_type": "Form 0781", "document_code": "L228"}`
			}, "invalid"),
			Entry("a submission that does not exist", func() string {
				return `{"form526_submission_id": 987654, "lighthouse_document_request_id": "5", "document_code": "L023"}`
			}, "unknown_reference"),
			Entry("an attachment that does not exist", func() string {
				return `{"form526_submission_id": ` + itoa(sub) + `, "form_attachment_id": 987654, "lighthouse_document_request_id": "5", "document_code": "L107"}`
			}, "unknown_reference"),
			// VA.gov's keys are integer (`id: :serial`): an id past its range
			// names no row, as any other that does not exist.
			Entry("a submission id past integer's range", func() string {
				return `{"form526_submission_id": 3000000000, "lighthouse_document_request_id": "5", "document_code": "L023"}`
			}, "unknown_reference"),
			Entry("an attachment id past integer's range", func() string {
				return `{"form526_submission_id": ` + itoa(sub) + `, "form_attachment_id": 3000000000, "lighthouse_document_request_id": "5", "document_code": "L107"}`
			}, "unknown_reference"),
		)
	})
})
