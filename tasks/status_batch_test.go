package tasks_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vagov/lighthouse526/config"
	"github.com/vagov/lighthouse526/lighthouse"
	"github.com/vagov/lighthouse526/lighthouse/fake"
	"github.com/vagov/lighthouse526/models"
	"github.com/vagov/lighthouse526/polling"
	"github.com/vagov/lighthouse526/runner"
	"github.com/vagov/lighthouse526/tasks"
)

var _ = Describe("StatusBatchHandler", func() {
	var (
		ctx     context.Context
		o       *observed
		lh      *lighthouseEnv
		handler *tasks.StatusBatchHandler
	)

	BeforeEach(func() {
		ctx = context.Background()
		o = newObserved()
		lh = startLighthouse(fake.Options{})
		handler = &tasks.StatusBatchHandler{Poller: &polling.BatchPoller{Lighthouse: lh.Client, Updater: newUpdater(o)}, Metrics: o.Types, Logger: o.Logger}
	})

	process := func(ids ...string) error {
		GinkgoHelper()
		t, err := tasks.NewStatusBatchTask("tasks-test", "adhoc:spec", 0, ids)
		Expect(err).NotTo(HaveOccurred())
		return handler.ProcessTask(ctx, t)
	}
	recordedStart, recordedEnd := time.UnixMilli(1718902851802), time.UnixMilli(1720793267285)

	Context("when Lighthouse knows every document", func() {
		It("applies each status, stamps each upload and succeeds", func() {
			okID := lh.Fake.AddDocument(fake.Document{Outcome: fake.StatusSuccess, Started: recordedStart, Ended: recordedEnd})
			failedID := lh.Fake.AddDocument(fake.Document{Outcome: fake.StatusFailed, FailedStep: fake.StepClaimsEvidence, Started: recordedStart, Ended: recordedEnd})
			ok := seedUpload(ctx, okID, models.DocumentTypeVeteranUpload)
			failed := seedUpload(ctx, failedID, models.DocumentTypeForm0781)

			Expect(process(okID, failedID)).To(Succeed())

			gotOK, gotFailed := reloadUpload(ctx, ok.ID), reloadUpload(ctx, failed.ID)
			Expect(gotOK.AasmState).To(Equal(models.StateCompleted))
			Expect(*gotOK.LighthouseProcessingEndedAt).To(BeTemporally("==", time.Date(2024, 7, 12, 14, 7, 47, 0, time.UTC)))
			Expect(gotFailed.AasmState).To(Equal(models.StateFailed))
			Expect(string(gotFailed.ErrorMessage)).To(MatchJSON(`{"detail":"` + fake.DefaultErrorDetail + `","step":"CLAIMS_EVIDENCE"}`))
			for _, u := range []models.Lighthouse526DocumentUpload{gotOK, gotFailed} {
				Expect(*u.StatusLastPolledAt).To(BeTemporally("==", testNow))
			}
			Expect(o.DocumentStatus("veteran_upload", "complete", "")).To(Equal(1.0))
			Expect(o.DocumentStatus("form_0781", "failed", "claims_evidence")).To(Equal(1.0))
			Expect(lh.StatusCalls()).To(Equal(1))
		})
	})

	Context("when the gateway refuses the batch as too large (413)", func() {
		It("asks for it in halves until each part passes, and applies every answer", func() {
			var ids []string
			var uploads []models.Lighthouse526DocumentUpload
			for range 5 {
				id := lh.Fake.AddDocument(fake.Document{Outcome: fake.StatusSuccess, Started: recordedStart, Ended: recordedEnd})
				ids = append(ids, id)
				uploads = append(uploads, seedUpload(ctx, id, models.DocumentTypeVeteranUpload))
			}
			lh.Fake.SetFaults(fake.Faults{MaxRequestIDs: 2})

			Expect(process(ids...)).To(Succeed())

			for _, u := range uploads {
				Expect(reloadUpload(ctx, u.ID).AasmState).To(Equal(models.StateCompleted))
			}
			// 5 ids refused, then 2 answered and 3 refused, then 1 and 2 answered.
			Expect(lh.StatusCalls()).To(Equal(5))
			Expect(o.PollingErrors("http_413")).To(Equal(2.0))
			Expect(o.Logs.WithMessage(msgBatchTooLarge)).To(ConsistOf(
				HaveKeyWithValue("batch_size", beNumber(5.0)),
				HaveKeyWithValue("batch_size", beNumber(3.0)),
			))
			Expect(o.Logs.WithMessage(msgStatusEndpointError)).To(BeEmpty())
		})
	})

	Context("when a call of more than 100 ids times out or gets a 504", func() {
		seed := func(n int) []string {
			var ids []string
			for range n {
				id := lh.Fake.AddDocument(fake.Document{Outcome: fake.StatusSuccess, Started: recordedStart, Ended: recordedEnd})
				ids = append(ids, id)
				seedUpload(ctx, id, models.DocumentTypeVeteranUpload)
			}
			return ids
		}
		completed := func() int64 {
			var n int64
			Expect(gdb.Table("lighthouse526_document_uploads").Where("aasm_state = ?", models.StateCompleted).Count(&n).Error).To(Succeed())
			return n
		}

		It("asks for a batch of 150 again in halves after a 504, and applies both", func() {
			ids := seed(150)
			lh.Fake.SetFaults(fake.Faults{Next: []fake.Fault{{Endpoint: "uploads_status", Status: 504, Shape: fake.ShapeGateway}}})

			Expect(process(ids...)).To(Succeed())

			Expect(completed()).To(Equal(int64(150)))
			Expect(lh.StatusCalls()).To(Equal(3))
			Expect(o.PollingErrors("http_504")).To(Equal(1.0))
			Expect(o.Logs.WithMessage(msgBatchTooSlow)).To(ConsistOf(HaveKeyWithValue("batch_size", beNumber(150))))
		})

		It("asks for it again in halves after the call's own timeout", func() {
			lh = startLighthouse(fake.Options{}, func(c *lighthouse.Config) { c.Timeout = 300 * time.Millisecond })
			handler.Poller.Lighthouse = lh.Client
			ids := seed(101)
			lh.Fake.SetFaults(fake.Faults{Next: []fake.Fault{{Endpoint: "uploads_status", Status: 500, Delay: 2 * time.Second}}})

			Expect(process(ids...)).To(Succeed())

			Expect(completed()).To(Equal(int64(101)))
			Expect(o.PollingErrors("timeout")).To(Equal(1.0))
			Expect(o.Logs.WithMessage(msgBatchTooSlow)).To(ConsistOf(HaveKeyWithValue("batch_size", beNumber(101))))
		})

		It("retries a batch of 100 whole: the original's call size is not split", func() {
			ids := seed(100)
			lh.Fake.SetFaults(fake.Faults{Next: []fake.Fault{{Endpoint: "uploads_status", Status: 504, Shape: fake.ShapeGateway}}})

			Expect(process(ids...)).To(MatchError(ContainSubstring("504")))

			Expect(lh.StatusCalls()).To(Equal(1))
			Expect(o.Logs.WithMessage(msgBatchTooSlow)).To(BeEmpty())
		})
	})

	Context("when Lighthouse does not know some of the ids (200 with requestIdsNotFound)", func() {
		It("applies the known one, then counts and logs a polling error for the unknown id only", func() {
			knownID := lh.Fake.AddDocument(fake.Document{Outcome: fake.StatusSuccess})
			known := seedUpload(ctx, knownID, models.DocumentTypeBDDInstructions)
			unknown := seedUpload(ctx, "4242", models.DocumentTypeForm0781a)

			Expect(process(knownID, "4242")).To(Succeed())

			Expect(reloadUpload(ctx, known.ID).AasmState).To(Equal(models.StateCompleted))
			Expect(o.DocumentStatus("bdd_instructions", "complete", "")).To(Equal(1.0))
			Expect(testutil.ToFloat64(o.Metrics.UnknownRequestIDs)).To(Equal(1.0))
			Expect(o.PollingErrors("not_found")).To(Equal(1.0))
			// The original's fields: its update service reported the
			// unknown ids as a 404 with this body.
			Expect(o.Logs.WithMessage(msgStatusEndpointError)).To(ConsistOf(SatisfyAll(
				HaveKeyWithValue("level", "warn"),
				HaveKeyWithValue("response_status", beNumber(404)),
				HaveKeyWithValue("response_body", "Upload Request Async Status Not Found"),
				HaveKeyWithValue("lighthouse_document_request_ids", Equal([]any{"4242"})),
				HaveKeyWithValue("timestamp", BeAssignableToTypeOf("")),
			)))
			Expect(o.Logs.WithMessage(msgNoStatuses)).To(BeEmpty())
			got := reloadUpload(ctx, unknown.ID)
			Expect(got.AasmState).To(Equal(models.StatePending))
			Expect(unknownPolls(ctx, got.ID)).To(Equal(1))
			Expect(*got.StatusLastPolledAt).To(BeTemporally("==", testNow))
		})
	})

	Context("when Lighthouse knows none of the ids (404)", func() {
		var first, second models.Lighthouse526DocumentUpload

		BeforeEach(func() {
			first = seedUpload(ctx, "4242", models.DocumentTypeVeteranUpload)
			second = seedUpload(ctx, "4243", models.DocumentTypeForm0781)
		})

		It("counts and logs a polling error with status 404 and every id, and goes on", func() {
			Expect(process("4242", "4243")).To(Succeed())

			Expect(lh.Fake.Requests()).To(ContainElement(SatisfyAll(
				HaveField("Path", fake.APIPrefix+"/uploads/status"), HaveField("StatusCode", 404))))
			Expect(testutil.ToFloat64(o.Metrics.UnknownRequestIDs)).To(Equal(2.0))
			Expect(o.PollingErrors("not_found")).To(Equal(1.0))
			// As the original: the 404's own body, parsed, and every id.
			Expect(o.Logs.WithMessage(msgStatusEndpointError)).To(ConsistOf(SatisfyAll(
				HaveKeyWithValue("response_status", beNumber(404)),
				HaveKeyWithValue("response_body", HaveKeyWithValue("errors", ConsistOf(SatisfyAll(
					HaveKeyWithValue("detail", "Upload Request Async Status Not Found"),
					HaveKeyWithValue("status", beNumber(404)),
					HaveKeyWithValue("title", "Not Found"),
					HaveKeyWithValue("instance", Not(BeEmpty())),
					HaveKey("diagnostics"),
				)))),
				HaveKeyWithValue("lighthouse_document_request_ids", Equal([]any{"4242", "4243"})),
				HaveKey("timestamp"),
			)))
			Expect(o.Logs.WithMessage(msgNoStatuses)).To(BeEmpty(), "the original logged a 404 only as an endpoint error")
			for _, id := range []int64{first.ID, second.ID} {
				got := reloadUpload(ctx, id)
				Expect(got.AasmState).To(Equal(models.StatePending))
				Expect(unknownPolls(ctx, got.ID)).To(Equal(1))
				Expect(*got.StatusLastPolledAt).To(BeTemporally("==", testNow))
			}
		})
	})

	Context("when an upload is unknown to Lighthouse for a while, then found", func() {
		It("counts each poll that finds it unknown, and resets the count once found", func() {
			// The fake numbers its documents from 1: request id 1 is unknown until added.
			upload := seedUpload(ctx, "1", models.DocumentTypeVeteranUpload)
			Expect(process("1")).To(Succeed())
			Expect(process("1")).To(Succeed())
			Expect(unknownPolls(ctx, upload.ID)).To(Equal(2))

			Expect(lh.Fake.AddDocument(fake.Document{Outcome: fake.StatusInProgress})).To(Equal("1"))
			Expect(process("1")).To(Succeed())
			got := reloadUpload(ctx, upload.ID)
			Expect(unknownPolls(ctx, got.ID)).To(BeZero())
			Expect(string(got.LastStatusResponse)).To(ContainSubstring(`"IN_PROGRESS"`))
			Expect(testutil.ToFloat64(o.Metrics.UnknownRequestIDs)).To(Equal(2.0))
		})
	})

	Context("when every upload of the batch left pending before the batch ran", func() {
		It("still counts the batch done in its cycle", func() {
			id := lh.Fake.AddDocument(fake.Document{Outcome: fake.StatusSuccess})
			upload := seedUpload(ctx, id, models.DocumentTypeBDDInstructions)
			_, err := models.StartCycle(ctx, gdb, "adhoc:spec", testNow, testNow, testNow)
			Expect(err).NotTo(HaveOccurred())
			// Another writer (an ad hoc poll) completed it first.
			Expect(gdb.Exec(`UPDATE lighthouse526_document_uploads SET aasm_state = ? WHERE id = ?`, models.StateCompleted, upload.ID).Error).To(Succeed())

			Expect(process(id)).To(Succeed())

			var cycle models.PollingCycle
			Expect(gdb.Take(&cycle, "id = ?", "adhoc:spec").Error).To(Succeed())
			Expect(cycle.BatchesDone).To(Equal(1))
			Expect(cycle.DocumentsPolled).To(BeZero())
			Expect(testutil.CollectAndCount(o.Metrics.DocumentStatus)).To(BeZero())
		})
	})

	Context("when the status call fails", func() {
		var upload models.Lighthouse526DocumentUpload

		BeforeEach(func() {
			upload = seedUpload(ctx, lh.Fake.AddDocument(fake.Document{Outcome: fake.StatusSuccess}), models.DocumentTypeBDDInstructions)
		})

		expectUntouched := func() {
			GinkgoHelper()
			got := reloadUpload(ctx, upload.ID)
			Expect(got.AasmState).To(Equal(models.StatePending))
			Expect(got.StatusLastPolledAt).To(BeNil())
		}

		DescribeTable("when Lighthouse answers a server error it returns an error to retry",
			func(status int, shape string) {
				lh.Fake.SetFaults(fake.Faults{Next: []fake.Fault{{Endpoint: "uploads_status", Status: status, Shape: shape}}})
				err := process(upload.LighthouseDocumentRequestID)
				Expect(err).To(HaveOccurred())
				Expect(errors.Is(err, asynq.SkipRetry)).To(BeFalse())
				Expect(runner.IsFailure(err)).To(BeTrue())
				Expect(o.PollingErrors(fmt.Sprintf("http_%d", status))).To(Equal(1.0))
				// Not the original's polling error: the worker's own line.
				Expect(o.Logs.WithMessage(msgStatusEndpointError)).To(BeEmpty())
				Expect(o.Logs.WithMessage(msgStatusRequestFailed)).To(ConsistOf(SatisfyAll(
					HaveKeyWithValue("response_status", beNumber(float64(status))),
					HaveKeyWithValue("lighthouse_document_request_ids", ConsistOf(upload.LighthouseDocumentRequestID)),
				)))
				expectUntouched()
			},
			Entry("500 in the API's shape", 500, fake.ShapeAPI),
			Entry("502 as an HTML page", 502, fake.ShapeHTML),
			Entry("503 with no body", 503, fake.ShapeEmpty),
			Entry("504 from the gateway", 504, fake.ShapeGateway),
		)

		It("logs the instance and diagnostics of an API error for VA support", func() {
			lh.Fake.SetFaults(fake.Faults{Next: []fake.Fault{{Endpoint: "uploads_status", Status: 500, Shape: fake.ShapeAPI}}})
			Expect(process(upload.LighthouseDocumentRequestID)).NotTo(Succeed())
			Expect(o.Logs.WithMessage(msgStatusRequestFailed)).To(ConsistOf(SatisfyAll(
				HaveKeyWithValue("instance", Not(BeEmpty())),
				HaveKeyWithValue("diagnostics", Not(BeEmpty())),
			)))
		})

		DescribeTable("when Lighthouse refuses the call for good it archives the task without retry",
			func(status int, shape string) {
				lh.Fake.SetFaults(fake.Faults{Next: []fake.Fault{{Endpoint: "uploads_status", Status: status, Shape: shape}}})
				err := process(upload.LighthouseDocumentRequestID)
				Expect(err).To(MatchError(asynq.SkipRetry))
				Expect(o.PollingErrors(fmt.Sprintf("http_%d", status))).To(Equal(1.0))
				Expect(o.Logs.WithMessage(msgStatusEndpointError)).To(ConsistOf(HaveKeyWithValue("response_status", beNumber(float64(status)))))
				expectUntouched()
			},
			Entry("400 bad request", 400, fake.ShapeAPI),
			Entry("403 you cannot consume this service", 403, fake.ShapeGateway),
			Entry("413 request size limit exceeded", 413, fake.ShapeGateway),
		)

		It("returns an error to retry when a 200 body is not the documented shape", func() {
			lh.Fake.SetFaults(fake.Faults{Next: []fake.Fault{{Endpoint: "uploads_status", Status: 200, Body: `{"data":[]}`}}})
			err := process(upload.LighthouseDocumentRequestID)
			Expect(err).To(HaveOccurred())
			Expect(errors.Is(err, asynq.SkipRetry)).To(BeFalse())
			Expect(o.PollingErrors("malformed_response")).To(Equal(1.0))
			expectUntouched()
		})
	})

	Context("when the task's payload is bad", func() {
		DescribeTable("it rejects the task without retry and without calling Lighthouse",
			func(payload, reason string) {
				err := handler.ProcessTask(ctx, asynq.NewTask(tasks.TypeStatusBatch, []byte(payload)))
				var pe *tasks.PayloadError
				Expect(errors.As(err, &pe)).To(BeTrue(), "got %v", err)
				Expect(pe.Reason).To(Equal(reason))
				Expect(errors.Is(err, asynq.SkipRetry)).To(BeTrue())
				Expect(testutil.ToFloat64(o.Types.RejectedTasks.WithLabelValues(tasks.TypeStatusBatch, reason))).To(Equal(1.0))
				Expect(o.Logs.WithMessage("rejected a task: its payload is malformed or invalid")).To(HaveLen(1))
				Expect(lh.StatusCalls()).To(BeZero())
			},
			Entry("not JSON", `request_ids=1,2`, "malformed_json"),
			Entry("an unknown field", `{"cycle_id":"c","request_ids":["1"],"requestIds":["2"]}`, "malformed_json"),
			Entry("trailing data", `{"cycle_id":"c","request_ids":["1"]} {}`, "malformed_json"),
			Entry("no request ids", `{"cycle_id":"c","request_ids":[]}`, "invalid"),
			Entry("no cycle id", `{"request_ids":["1"]}`, "invalid"),
			Entry("an id Lighthouse would refuse the call for", `{"cycle_id":"c","request_ids":["1","abc"]}`, "invalid"),
			Entry("an id past int64", `{"cycle_id":"c","request_ids":["99999999999999999999"]}`, "invalid"),
			Entry("more than 1,000 ids", tooManyIDsPayload(), "invalid"),
		)
	})
})

// tooManyIDsPayload is a batch payload of config.MaxPollBatchSize+1 ids.
func tooManyIDsPayload() string {
	ids := make([]string, config.MaxPollBatchSize+1)
	for i := range ids {
		ids[i] = fmt.Sprint(i + 1)
	}
	b, _ := json.Marshal(map[string]any{"cycle_id": "c", "request_ids": ids})
	return string(b)
}
