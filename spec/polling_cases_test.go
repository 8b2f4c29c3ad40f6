package spec_test

import (
	"encoding/json"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/vagov/lighthouse526/lighthouse/fake"
	"github.com/vagov/lighthouse526/models"
)

// Log messages existing monitors match on.
const (
	logStatusEndpointError = "Lighthouse::Form526DocumentUploadPollingJob status endpoint error"
	logRetriesExhausted    = "Lighthouse::Form526DocumentUploadPollingJob retries exhausted"
	logNoDocumentsToPoll   = "Lighthouse::Form526DocumentUploadPollingJob found no documents to poll"
	// The worker's own lines where the original's are not written.
	logStatusRequestFailed   = "Lighthouse status request failed (transport, timeout, 5xx or token); the batch is retried unless the error is permanent"
	logTaskFailedPermanently = "a polling task failed permanently and was archived without retry"
)

// Metric names dashboards and alerts are built on.
const (
	metricDocumentStatus = "form526_document_upload_status_total"
	metricPollingErrors  = "form526_document_upload_polling_errors_total"
	metricExhausted      = "form526_document_upload_poll_exhausted_total"
	metricDocumentsDue   = "form526_document_upload_cycle_documents_due"
	metricPrevCompleted  = "form526_document_upload_previous_cycle_documents_completed"
	metricPrevFailed     = "form526_document_upload_previous_cycle_documents_failed"
	metricTasksProcessed = "form526_worker_tasks_processed_total"
	metricTasksRetried   = "form526_worker_tasks_retried_total"
	typePolling          = "form526:document_upload_polling"
	typeStatusBatch      = "form526:document_upload_status_batch"
)

// The original job's test cases, each against the real binary: a worker
// without its scheduler runs the cycles that `worker poll --wait` enqueues.
var _ = Describe("The polling job", func() {
	var (
		w      *world
		worker *workerProc
	)

	BeforeEach(func() {
		w = newWorld()
		worker = w.startWorker("--no-scheduler")
	})

	Context("when a completed and a failed document are due", func() {
		var completedID, failedID int64

		BeforeEach(func(ctx SpecContext) {
			done := w.fake.AddDocument(fake.Document{Outcome: fake.StatusSuccess})
			failed := w.fake.AddDocument(fake.Document{Outcome: fake.StatusFailed, FailedStep: fake.StepClaimsEvidence})
			ids := seedUploads(ctx,
				upload{requestID: done, documentType: models.DocumentTypeBDDInstructions},
				upload{requestID: failed, documentType: models.DocumentTypeForm0781})
			completedID, failedID = ids[0], ids[1]
		})

		It("updates both, stamps them polled and counts each outcome", func(ctx SpecContext) {
			sum := w.pollWait()
			Expect(sum).To(HaveKeyWithValue("completed", BeNumerically("==", 1)))
			Expect(sum).To(HaveKeyWithValue("failed", BeNumerically("==", 1)))

			c := loadUpload(ctx, completedID)
			Expect(c.AasmState).To(Equal(models.StateCompleted))
			Expect(c.LighthouseProcessingStartedAt).NotTo(BeNil())
			Expect(c.LighthouseProcessingEndedAt).NotTo(BeNil())
			Expect(c.StatusLastPolledAt).NotTo(BeNil())
			Expect(string(c.LastStatusResponse)).To(ContainSubstring(`"SUCCESS"`))

			f := loadUpload(ctx, failedID)
			Expect(f.AasmState).To(Equal(models.StateFailed))
			Expect(f.LighthouseProcessingEndedAt).NotTo(BeNil())
			Expect(f.StatusLastPolledAt).NotTo(BeNil())
			var errMsg map[string]string
			Expect(json.Unmarshal(f.ErrorMessage, &errMsg)).To(Succeed())
			Expect(errMsg).To(Equal(map[string]string{"detail": fake.DefaultErrorDetail, "step": fake.StepClaimsEvidence}))

			Eventually(worker.metricFunc(metricDocumentStatus, map[string]string{"document_type": "bdd_instructions", "outcome": "complete"})).Should(BeNumerically("==", 1))
			Eventually(worker.metricFunc(metricDocumentStatus, map[string]string{"document_type": "form_0781", "outcome": "failed", "failed_step": "claims_evidence"})).Should(BeNumerically("==", 1))
		})
	})

	Context("when Lighthouse knows none of the ids (404)", func() {
		BeforeEach(func(ctx SpecContext) {
			seedUploads(ctx, upload{requestID: "99001"}, upload{requestID: "99002"})
		})

		It("logs a polling error with status 404 and the ids, and counts it", func(ctx SpecContext) {
			w.pollWait()
			Expect(w.statusCalls(404)).To(ConsistOf(ConsistOf("99001", "99002")))
			Eventually(worker.logsWithFunc(logStatusEndpointError)).Should(ConsistOf(SatisfyAll(
				HaveKeyWithValue("level", "warn"),
				havePayload(HaveKeyWithValue("response_status", BeNumerically("==", 404))),
				WithTransform(func(e logEntry) []string { return stringsOf(e.payload()["lighthouse_document_request_ids"]) }, ConsistOf("99001", "99002")),
			)))
			Expect(worker.metric(metricPollingErrors, nil)).To(BeNumerically("==", 1))
			for _, u := range loadUploads(ctx) {
				Expect(u.AasmState).To(Equal(models.StatePending))
				Expect(u.StatusLastPolledAt).NotTo(BeNil())
				Expect(models.UnknownPollCount(ctx, gdb, u.ID)).To(Equal(1))
			}
		})
	})

	Context("when one id is known and one is not", func() {
		var known string

		BeforeEach(func(ctx SpecContext) {
			known = w.fake.AddDocument(fake.Document{Outcome: fake.StatusSuccess})
			seedUploads(ctx, upload{requestID: known}, upload{requestID: "99003"})
		})

		It("counts the known one's outcome, then a polling error for the unknown id only", func(ctx SpecContext) {
			w.pollWait()
			Eventually(worker.metricFunc(metricDocumentStatus, map[string]string{"document_type": "bdd_instructions", "outcome": "complete"})).Should(BeNumerically("==", 1))
			Expect(worker.logsWith(logStatusEndpointError)).To(ConsistOf(SatisfyAll(
				havePayload(
					HaveKeyWithValue("response_status", BeNumerically("==", 404)),
					HaveKeyWithValue("response_body", "Upload Request Async Status Not Found"),
				),
				WithTransform(func(e logEntry) []string { return stringsOf(e.payload()["lighthouse_document_request_ids"]) }, Equal([]string{"99003"})),
			)))
			Expect(worker.metric(metricPollingErrors, map[string]string{"reason": "not_found"})).To(BeNumerically("==", 1))
		})
	})

	Context("when Lighthouse answers 400", func() {
		BeforeEach(func(ctx SpecContext) {
			w.fake.SetFaults(fake.Faults{Next: []fake.Fault{{Endpoint: "uploads_status", Status: 400}}})
			seedUploads(ctx, upload{requestID: w.fake.AddDocument(fake.Document{Outcome: fake.StatusSuccess})})
		})

		It("logs a polling error, archives the batch without retry and counts the archived task once (not an exhausted run: the original did not raise on a 400)", func(ctx SpecContext) {
			w.pollWait()
			Expect(worker.logsWith(logStatusEndpointError)).To(ConsistOf(havePayload(HaveKeyWithValue("response_status", BeNumerically("==", 400)))))
			Expect(worker.metric(metricPollingErrors, map[string]string{"reason": "http_400"})).To(BeNumerically("==", 1))

			exhausted := worker.metricFunc(metricExhausted, map[string]string{"task_type": typeStatusBatch})
			Eventually(exhausted).Should(BeNumerically("==", 1))
			Expect(worker.logsWith(logRetriesExhausted)).To(BeEmpty())
			Expect(worker.logsWith(logTaskFailedPermanently)).To(ConsistOf(havePayload(
				HaveKeyWithValue("task_type", typeStatusBatch),
				HaveKeyWithValue("error_class", "lighthouse.APIError"),
				HaveKey("job_id"),
			)))
			Expect(w.inspector.ListArchivedTasks(w.queue)).To(HaveLen(1))
			Expect(worker.metric(metricTasksRetried, nil)).To(BeZero())
			Consistently(exhausted).WithTimeout(3 * time.Second).Should(BeNumerically("==", 1))
		})
	})

	Context("when nothing is due", func() {
		BeforeEach(func(ctx SpecContext) {
			seedUploads(ctx,
				upload{requestID: w.fake.AddDocument(fake.Document{Outcome: fake.StatusInProgress})},
				upload{requestID: w.fake.AddDocument(fake.Document{Outcome: fake.StatusSuccess}), state: models.StateCompleted},
				upload{requestID: w.fake.AddDocument(fake.Document{Outcome: fake.StatusFailed}), state: models.StateFailed})
			// A first cycle polls the one pending upload.
			Expect(w.pollWait()).To(HaveKeyWithValue("due", BeNumerically("==", 1)))
			Eventually(worker.metricFunc(metricDocumentsDue, nil)).Should(BeNumerically("==", 1))
			w.fake.ResetRequests()
		})

		It("calls no Lighthouse endpoint, sets the due gauge to 0 and warns", func() {
			Expect(w.pollWait()).To(HaveKeyWithValue("due", BeNumerically("==", 0)))
			Eventually(worker.metricFunc(metricDocumentsDue, nil)).Should(BeNumerically("==", 0))
			Expect(worker.logsWith(logNoDocumentsToPoll)).To(HaveLen(1))
			Expect(w.fake.Requests()).To(BeEmpty())
		})
	})

	Context("when uploads were polled at different times", func() {
		var never, twoHours, fortyTwoMinutes, completed, failed string

		BeforeEach(func(ctx SpecContext) {
			add := func() string { return w.fake.AddDocument(fake.Document{Outcome: fake.StatusInProgress}) }
			never, twoHours, fortyTwoMinutes, completed, failed = add(), add(), add(), add(), add()
			seedUploads(ctx,
				upload{requestID: never},
				upload{requestID: twoHours, polledAt: ago(2 * time.Hour)},
				upload{requestID: fortyTwoMinutes, polledAt: ago(42 * time.Minute)},
				upload{requestID: completed, state: models.StateCompleted},
				upload{requestID: failed, state: models.StateFailed})
		})

		It("polls the never-polled and the 2-hours-ago ones only", func() {
			Expect(w.pollWait()).To(HaveKeyWithValue("due", BeNumerically("==", 2)))
			Expect(w.timesAsked()).To(Equal(map[string]int{never: 1, twoHours: 1}))
		})
	})
})
