package polling_test

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vagov/lighthouse526/db"
	"github.com/vagov/lighthouse526/db/dbtest"
	"github.com/vagov/lighthouse526/models"
	"github.com/vagov/lighthouse526/polling"
)

// The status objects Lighthouse really sent (lighthouse-api.md).
const (
	recordedSuccess = `{"requestId":22,"time":{"startTime":1718902851802,"endTime":1720793267285},"status":"SUCCESS","steps":[{"name":"CLAIMS_EVIDENCE","nextStepName":"BENEFITS_GATEWAY_SERVICE","description":"The workflow step that uploads the document to Claims Evidence","status":"SUCCESS"},{"name":"BENEFITS_GATEWAY_SERVICE","description":"The workflow step that uploads the document to Benefits Gateway Service","status":"SUCCESS"}]}`
	recordedFailed  = `{"requestId":16819,"time":{"startTime":1704824509436,"endTime":1704856371167},"status":"FAILED","steps":[{"name":"CLAIMS_EVIDENCE","nextStepName":"BENEFITS_GATEWAY_SERVICE","description":"The workflow step that uploads the document to Claims Evidence","status":"FAILED"},{"name":"BENEFITS_GATEWAY_SERVICE","description":"The workflow step that uploads the document to Benefits Gateway Service","status":"NOT_STARTED"}],"error":{"detail":"Workflow maximum step attempts exceeded for the current step","step":"CLAIMS_EVIDENCE"}}`
)

var _ = Describe("StatusUpdater", func() {
	var (
		ctx     context.Context
		o       *observed
		updater *polling.StatusUpdater
	)

	BeforeEach(func() {
		ctx = context.Background()
		o = newObserved()
		updater = newUpdater(o)
	})

	apply := func(ids []string, body string) polling.BatchSummary {
		GinkgoHelper()
		sum, err := applyAnswer(ctx, updater, o.Logger, "", ids, decodeStatuses(body))
		Expect(err).NotTo(HaveOccurred())
		return sum
	}

	Context("when Lighthouse answers SUCCESS", func() {
		var upload models.Lighthouse526DocumentUpload

		BeforeEach(func() {
			upload = seedUpload(ctx, "22", models.DocumentTypeVeteranUpload)
		})

		It("completes the upload with its times in whole UTC seconds, its last status and a polled-at stamp", func() {
			sum := apply([]string{"22"}, statusBody([]string{recordedSuccess}))
			Expect(sum).To(Equal(polling.BatchSummary{Polled: 1, Completed: 1}))

			got := reloadUpload(ctx, upload.ID)
			Expect(got.AasmState).To(Equal(models.StateCompleted))
			Expect(*got.LighthouseProcessingStartedAt).To(BeTemporally("==", time.Date(2024, 6, 20, 17, 0, 51, 0, time.UTC)))
			Expect(*got.LighthouseProcessingEndedAt).To(BeTemporally("==", time.Date(2024, 7, 12, 14, 7, 47, 0, time.UTC)))
			Expect(string(got.LastStatusResponse)).To(MatchJSON(recordedSuccess))
			Expect(got.ErrorMessage).To(BeNil())
			Expect(*got.StatusLastPolledAt).To(BeTemporally("==", testNow))
		})

		It("logs the update with the status and the status response", func() {
			apply([]string{"22"}, statusBody([]string{recordedSuccess}))
			Expect(o.Logs.WithMessage(msgStatusUpdated)).To(ConsistOf(SatisfyAll(
				HaveKeyWithValue("level", "info"),
				HaveKeyWithValue("status", "SUCCESS"),
				HaveKeyWithValue("status_response", HaveKeyWithValue("requestId", beNumber(22))),
				HaveKey("updated_at"),
			)))
		})

		It("counts the document complete under its type", func() {
			apply([]string{"22"}, statusBody([]string{recordedSuccess}))
			Expect(o.DocumentStatus("veteran_upload", "complete", "")).To(Equal(1.0))
			Expect(testutil.CollectAndCount(o.Metrics.DocumentStatus)).To(Equal(1))
		})
	})

	Context("when Lighthouse answers FAILED", func() {
		var upload models.Lighthouse526DocumentUpload

		BeforeEach(func() {
			upload = seedUpload(ctx, "16819", models.DocumentTypeBDDInstructions)
		})

		It("fails the upload, saving its times, last status and the whole error object as sent", func() {
			sum := apply([]string{"16819"}, statusBody([]string{recordedFailed}))
			Expect(sum).To(Equal(polling.BatchSummary{Polled: 1, Failed: 1}))

			got := reloadUpload(ctx, upload.ID)
			Expect(got.AasmState).To(Equal(models.StateFailed))
			Expect(*got.LighthouseProcessingStartedAt).To(BeTemporally("==", time.Date(2024, 1, 9, 18, 21, 49, 0, time.UTC)))
			Expect(*got.LighthouseProcessingEndedAt).To(BeTemporally("==", time.Date(2024, 1, 10, 3, 12, 51, 0, time.UTC)))
			Expect(string(got.ErrorMessage)).To(MatchJSON(`{"detail":"Workflow maximum step attempts exceeded for the current step","step":"CLAIMS_EVIDENCE"}`))
			Expect(string(got.LastStatusResponse)).To(MatchJSON(recordedFailed))
			Expect(*got.StatusLastPolledAt).To(BeTemporally("==", testNow))
			Expect(o.Logs.WithMessage(msgStatusUpdated)).To(ConsistOf(HaveKeyWithValue("status", "FAILED")))
		})

		It("counts the document failed at claims_evidence under its type", func() {
			apply([]string{"16819"}, statusBody([]string{recordedFailed}))
			Expect(o.DocumentStatus("bdd_instructions", "failed", "claims_evidence")).To(Equal(1.0))
			Expect(testutil.CollectAndCount(o.Metrics.DocumentStatus)).To(Equal(1))
		})

		Context("when error.step names another step than the failed step status", func() {
			It("reads the failed step from error.step", func() {
				// The steps say CLAIMS_EVIDENCE failed; only error.step counts.
				apply([]string{"16819"}, statusBody([]string{failedEntry("16819", 1704824509436, 1704856371167, "BENEFITS_GATEWAY_SERVICE")}))
				Expect(o.DocumentStatus("bdd_instructions", "failed", "benefits_gateway_service")).To(Equal(1.0))
				Expect(o.DocumentStatus("bdd_instructions", "failed", "claims_evidence")).To(BeZero())
			})
		})
	})

	Context("when Lighthouse answers IN_PROGRESS", func() {
		var upload models.Lighthouse526DocumentUpload

		BeforeEach(func() {
			upload = seedUpload(ctx, "31", models.DocumentTypeForm0781)
		})

		It("keeps the upload pending but saves started_at, the last status and a polled-at stamp", func() {
			started := testNow.Add(-2 * time.Hour)
			entry := inProgressEntry("31", ms(started))
			sum := apply([]string{"31"}, statusBody([]string{entry}))
			Expect(sum).To(Equal(polling.BatchSummary{Polled: 1, StillPending: 1}))

			got := reloadUpload(ctx, upload.ID)
			Expect(got.AasmState).To(Equal(models.StatePending))
			Expect(*got.LighthouseProcessingStartedAt).To(BeTemporally("==", started))
			Expect(got.LighthouseProcessingEndedAt).To(BeNil())
			Expect(got.ErrorMessage).To(BeNil())
			Expect(string(got.LastStatusResponse)).To(MatchJSON(entry))
			Expect(*got.StatusLastPolledAt).To(BeTemporally("==", testNow))
		})

		Context("when it started more than 24 hours ago", func() {
			It("counts a processing timeout on every poll while it stays so", func() {
				body := statusBody([]string{inProgressEntry("31", ms(testNow.Add(-25*time.Hour)))})
				apply([]string{"31"}, body)
				Expect(o.DocumentStatus("form_0781", "processing_timeout", "")).To(Equal(1.0))
				apply([]string{"31"}, body)
				Expect(o.DocumentStatus("form_0781", "processing_timeout", "")).To(Equal(2.0))
			})
		})

		Context("when it started less than 24 hours ago", func() {
			It("counts no processing timeout", func() {
				apply([]string{"31"}, statusBody([]string{inProgressEntry("31", ms(testNow.Add(-23*time.Hour)))}))
				Expect(testutil.CollectAndCount(o.Metrics.DocumentStatus)).To(BeZero())
			})
		})
	})

	Context("when the status is unchanged, though sent with another key order and white space", func() {
		var (
			upload   models.Lighthouse526DocumentUpload
			sentinel = time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
		)
		const reordered = `{ "status" : "IN_PROGRESS",
			"steps": [
				{"status":"IN_PROGRESS","name":"CLAIMS_EVIDENCE","description":"The workflow step that uploads the document to Claims Evidence","nextStepName":"BENEFITS_GATEWAY_SERVICE"},
				{"description":"The workflow step that uploads the document to Benefits Gateway Service","status":"NOT_STARTED","name":"BENEFITS_GATEWAY_SERVICE"}
			],
			"time": { "endTime": null, "startTime": 1772402100000 },
			"requestId": 31 }`

		BeforeEach(func() {
			stored := inProgressEntry("31", 1772402100000)
			Expect(stored).NotTo(Equal(reordered))
			upload = seedUpload(ctx, "31", models.DocumentTypeForm0781a, func(u *models.Lighthouse526DocumentUpload) {
				// started_at differs from the status on purpose: a rewrite would show.
				u.LighthouseProcessingStartedAt = &sentinel
				u.LastStatusResponse = models.JSON(stored)
				u.StatusLastPolledAt = ptr(testNow.Add(-2 * time.Hour))
			})
		})

		It("rewrites neither the last status nor started_at, and still stamps polled-at", func() {
			sum := apply([]string{"31"}, statusBody([]string{reordered}))
			Expect(sum).To(Equal(polling.BatchSummary{Polled: 1, StillPending: 1}))

			got := reloadUpload(ctx, upload.ID)
			Expect(got.AasmState).To(Equal(models.StatePending))
			Expect(*got.LighthouseProcessingStartedAt).To(BeTemporally("==", sentinel))
			Expect(string(got.LastStatusResponse)).To(MatchJSON(inProgressEntry("31", 1772402100000)))
			Expect(*got.StatusLastPolledAt).To(BeTemporally("==", testNow))
			Expect(o.Logs.WithMessage(msgStatusUpdated)).To(BeEmpty())
		})
	})

	Context("when one answer covers several uploads of every document type", func() {
		var veteran, bdd, f0781, f0781a, pending models.Lighthouse526DocumentUpload
		start, end := ms(testNow.Add(-3*time.Hour)), ms(testNow.Add(-time.Hour))

		BeforeEach(func() {
			veteran = seedUpload(ctx, "101", models.DocumentTypeVeteranUpload)
			bdd = seedUpload(ctx, "102", models.DocumentTypeBDDInstructions)
			f0781 = seedUpload(ctx, "103", models.DocumentTypeForm0781)
			f0781a = seedUpload(ctx, "104", models.DocumentTypeForm0781a)
			pending = seedUpload(ctx, "105", models.DocumentTypeVeteranUpload)
			apply([]string{"101", "102", "103", "104", "105"}, statusBody([]string{
				successEntry("101", start, end),
				failedEntry("102", start, end, "CLAIMS_EVIDENCE"),
				failedEntry("103", start, end, "BENEFITS_GATEWAY_SERVICE"),
				successEntry("104", start, end),
				inProgressEntry("105", start),
			}))
		})

		It("updates each upload with its own status", func() {
			Expect(reloadUpload(ctx, veteran.ID).AasmState).To(Equal(models.StateCompleted))
			Expect(string(reloadUpload(ctx, bdd.ID).ErrorMessage)).To(MatchJSON(`{"detail":"Workflow maximum step attempts exceeded for the current step","step":"CLAIMS_EVIDENCE"}`))
			Expect(reloadUpload(ctx, bdd.ID).AasmState).To(Equal(models.StateFailed))
			Expect(string(reloadUpload(ctx, f0781.ID).ErrorMessage)).To(ContainSubstring("BENEFITS_GATEWAY_SERVICE"))
			Expect(reloadUpload(ctx, f0781.ID).AasmState).To(Equal(models.StateFailed))
			Expect(reloadUpload(ctx, f0781a.ID).AasmState).To(Equal(models.StateCompleted))
			Expect(reloadUpload(ctx, pending.ID).AasmState).To(Equal(models.StatePending))
			for _, id := range []int64{veteran.ID, bdd.ID, f0781.ID, f0781a.ID, pending.ID} {
				Expect(*reloadUpload(ctx, id).StatusLastPolledAt).To(BeTemporally("==", testNow))
			}
		})

		It("counts each document under its own type", func() {
			Expect(o.DocumentStatus("veteran_upload", "complete", "")).To(Equal(1.0))
			Expect(o.DocumentStatus("bdd_instructions", "failed", "claims_evidence")).To(Equal(1.0))
			Expect(o.DocumentStatus("form_0781", "failed", "benefits_gateway_service")).To(Equal(1.0))
			Expect(o.DocumentStatus("form_0781a", "complete", "")).To(Equal(1.0))
			Expect(testutil.CollectAndCount(o.Metrics.DocumentStatus)).To(Equal(4))
		})

		It("exposes metrics that pass the Prometheus linter", func() {
			o.ExpectLintClean()
		})
	})

	Context("when two uploads share one request id", func() {
		It("updates both", func() {
			first := seedUpload(ctx, "77", models.DocumentTypeForm0781)
			second := seedUpload(ctx, "77", models.DocumentTypeForm0781a)
			sum := apply([]string{"77"}, statusBody([]string{successEntry("77", ms(testNow.Add(-time.Hour)), ms(testNow))}))
			Expect(sum).To(Equal(polling.BatchSummary{Polled: 2, Completed: 2}))
			Expect(reloadUpload(ctx, first.ID).AasmState).To(Equal(models.StateCompleted))
			Expect(reloadUpload(ctx, second.ID).AasmState).To(Equal(models.StateCompleted))
			Expect(o.DocumentStatus("form_0781", "complete", "")).To(Equal(1.0))
			Expect(o.DocumentStatus("form_0781a", "complete", "")).To(Equal(1.0))
		})
	})

	// The original raised on these and failed the whole run, or saved some
	// fields and left the record pending forever. None fails the batch here.
	Context("when Lighthouse sends malformed statuses", func() {
		start, end := ms(testNow.Add(-3*time.Hour)), ms(testNow.Add(-time.Hour))

		DescribeTable("when a FAILED status has no error object it fails the upload with a synthesized error at step unknown",
			func(entry string) {
				upload := seedUpload(ctx, "41", models.DocumentTypeVeteranUpload)
				sum := apply([]string{"41"}, statusBody([]string{entry}))
				Expect(sum).To(Equal(polling.BatchSummary{Polled: 1, Failed: 1, Malformed: 1}))

				got := reloadUpload(ctx, upload.ID)
				Expect(got.AasmState).To(Equal(models.StateFailed))
				var msg map[string]any
				Expect(json.Unmarshal(got.ErrorMessage, &msg)).To(Succeed())
				Expect(msg).To(HaveKeyWithValue("step", "unknown"))
				Expect(msg).To(HaveKeyWithValue("detail", Not(BeEmpty())))
				Expect(o.DocumentStatus("veteran_upload", "failed", "unknown")).To(Equal(1.0))
				Expect(o.Malformed("failed_without_error")).To(Equal(1.0))
				Expect(o.Logs.WithKind("failed_without_error")).To(ConsistOf(SatisfyAll(
					HaveKeyWithValue("level", "warn"),
					HaveKeyWithValue("lighthouse_document_request_id", "41"))))
			},
			Entry("no error key", fmt.Sprintf(`{"requestId":41,"time":{"startTime":%d,"endTime":%d},"status":"FAILED","steps":[]}`, start, end)),
			Entry("error null", fmt.Sprintf(`{"requestId":41,"time":{"startTime":%d,"endTime":%d},"status":"FAILED","error":null}`, start, end)),
		)

		DescribeTable("when a SUCCESS or FAILED status has no endTime it keeps the upload pending and saves nothing of it",
			func(entry string) {
				earlier := inProgressEntry("42", start)
				sentinel := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
				upload := seedUpload(ctx, "42", models.DocumentTypeForm0781, func(u *models.Lighthouse526DocumentUpload) {
					u.LighthouseProcessingStartedAt = &sentinel
					u.LastStatusResponse = models.JSON(earlier)
				})
				sum := apply([]string{"42"}, statusBody([]string{entry}))
				Expect(sum).To(Equal(polling.BatchSummary{Polled: 1, StillPending: 1, Malformed: 1}))

				got := reloadUpload(ctx, upload.ID)
				Expect(got.AasmState).To(Equal(models.StatePending))
				Expect(*got.LighthouseProcessingStartedAt).To(BeTemporally("==", sentinel))
				Expect(got.LighthouseProcessingEndedAt).To(BeNil())
				Expect(got.ErrorMessage).To(BeNil())
				Expect(string(got.LastStatusResponse)).To(MatchJSON(earlier))
				Expect(*got.StatusLastPolledAt).To(BeTemporally("==", testNow))
				Expect(o.Malformed("missing_end_time")).To(Equal(1.0))
				Expect(o.Logs.WithKind("missing_end_time")).To(HaveLen(1))
				Expect(o.Logs.WithMessage(msgStatusUpdated)).To(BeEmpty())
				Expect(testutil.CollectAndCount(o.Metrics.DocumentStatus)).To(BeZero())
			},
			Entry("SUCCESS, endTime null", fmt.Sprintf(`{"requestId":42,"time":{"startTime":%d,"endTime":null},"status":"SUCCESS"}`, start)),
			Entry("SUCCESS, no time at all", `{"requestId":42,"status":"SUCCESS"}`),
			Entry("FAILED, endTime null", fmt.Sprintf(`{"requestId":42,"time":{"startTime":%d,"endTime":null},"status":"FAILED","error":{"detail":"x","step":"CLAIMS_EVIDENCE"}}`, start)),
		)

		It("ignores a status for a request id the batch did not ask for, logs and counts it", func() {
			asked := seedUpload(ctx, "51", models.DocumentTypeBDDInstructions)
			other := seedUpload(ctx, "52", models.DocumentTypeBDDInstructions)
			sum := apply([]string{"51"}, statusBody([]string{successEntry("51", start, end), successEntry("52", start, end)}))
			Expect(sum).To(Equal(polling.BatchSummary{Polled: 1, Completed: 1, Malformed: 1}))

			Expect(reloadUpload(ctx, asked.ID).AasmState).To(Equal(models.StateCompleted))
			got := reloadUpload(ctx, other.ID)
			Expect(got.AasmState).To(Equal(models.StatePending))
			Expect(got.StatusLastPolledAt).To(BeNil())
			Expect(o.Malformed("unasked_id")).To(Equal(1.0))
			Expect(o.Logs.WithKind("unasked_id")).To(ConsistOf(HaveKeyWithValue("lighthouse_document_request_id", "52")))
		})

		It("applies the first of duplicated entries and ignores and counts the rest", func() {
			upload := seedUpload(ctx, "61", models.DocumentTypeForm0781a)
			sum := apply([]string{"61"}, statusBody([]string{
				inProgressEntry("61", start), successEntry("61", start, end), failedEntry("61", start, end, "CLAIMS_EVIDENCE"),
			}))
			Expect(sum).To(Equal(polling.BatchSummary{Polled: 1, StillPending: 1, Malformed: 2}))

			got := reloadUpload(ctx, upload.ID)
			Expect(got.AasmState).To(Equal(models.StatePending))
			Expect(string(got.LastStatusResponse)).To(MatchJSON(inProgressEntry("61", start)))
			Expect(o.Malformed("duplicate_entry")).To(Equal(2.0))
			Expect(o.Logs.WithKind("duplicate_entry")).To(HaveLen(2))
		})

		It("stamps an upload whose id is missing from the answer, and counts it", func() {
			answered := seedUpload(ctx, "71", models.DocumentTypeVeteranUpload)
			missing := seedUpload(ctx, "72", models.DocumentTypeVeteranUpload)
			sum := apply([]string{"71", "72"}, statusBody([]string{successEntry("71", start, end)}))
			Expect(sum).To(Equal(polling.BatchSummary{Polled: 2, Completed: 1, StillPending: 1, Malformed: 1}))

			Expect(reloadUpload(ctx, answered.ID).AasmState).To(Equal(models.StateCompleted))
			expectStampedOnly(ctx, missing.ID)
			Expect(o.Malformed("missing_from_answer")).To(Equal(1.0))
			Expect(o.Logs.WithKind("missing_from_answer")).To(ConsistOf(HaveKeyWithValue("lighthouse_document_request_id", "72")))
		})

		It("applies the rest of the batch when one entry cannot be stored, and stamps, logs and counts that one", func() {
			good := seedUpload(ctx, "91", models.DocumentTypeVeteranUpload)
			bad := seedUpload(ctx, "92", models.DocumentTypeForm0781)
			nul := fmt.Sprintf(`{"requestId":92,"time":{"startTime":%d,"endTime":%d},"status":"FAILED","error":{"detail":"a\u0000b","step":"CLAIMS_EVIDENCE"}}`, start, end)
			sum := apply([]string{"91", "92"}, statusBody([]string{successEntry("91", start, end), nul}))
			Expect(sum).To(Equal(polling.BatchSummary{Polled: 2, Completed: 1, StillPending: 1, Malformed: 1}))

			Expect(reloadUpload(ctx, good.ID).AasmState).To(Equal(models.StateCompleted))
			expectStampedOnly(ctx, bad.ID)
			Expect(o.Malformed("invalid_entry")).To(Equal(1.0))
			Expect(o.Malformed("missing_from_answer")).To(BeZero(), "its entry was there, only unusable")
			Expect(o.Logs.WithKind("invalid_entry")).To(ConsistOf(SatisfyAll(
				HaveKeyWithValue("lighthouse_document_request_id", "92"),
				HaveKeyWithValue("exception", HaveKeyWithValue("message", ContainSubstring(`\u0000`))),
			)))
		})

		It("logs an answer with no statuses at all, and stamps every upload", func() {
			upload := seedUpload(ctx, "81", models.DocumentTypeBDDInstructions)
			sum := apply([]string{"81"}, `{"data":{"statuses":[]}}`)
			Expect(sum.Polled).To(Equal(1))
			Expect(o.Logs.WithMessage(msgNoStatuses)).To(ConsistOf(SatisfyAll(
				HaveKeyWithValue("lighthouse_document_request_ids", ConsistOf("81")),
				HaveKeyWithValue("request_ids_not_found_count", beNumber(0)),
				HaveKeyWithValue("has_request_ids_not_found", false),
			)))
			Expect(*reloadUpload(ctx, upload.ID).StatusLastPolledAt).To(BeTemporally("==", testNow))
		})

		It("logs an answer whose ids are all in requestIdsNotFound with the original's counts", func() {
			seedUpload(ctx, "82", models.DocumentTypeBDDInstructions)
			seedUpload(ctx, "83", models.DocumentTypeBDDInstructions)
			apply([]string{"82", "83"}, `{"data":{"statuses":[],"requestIdsNotFound":[82,83]}}`)
			Expect(o.Logs.WithMessage(msgNoStatuses)).To(ConsistOf(SatisfyAll(
				HaveKeyWithValue("request_ids_not_found_count", beNumber(2)),
				HaveKeyWithValue("has_request_ids_not_found", true),
			)))
			Expect(o.Logs.WithMessage(msgStatusEndpointError)).To(ConsistOf(SatisfyAll(
				HaveKeyWithValue("response_status", beNumber(404)),
				HaveKeyWithValue("response_body", "Upload Request Async Status Not Found"),
				HaveKeyWithValue("lighthouse_document_request_ids", ConsistOf("82", "83")),
			)))
		})

		It("keeps an upload with an undocumented status pending, and counts it", func() {
			upload := seedUpload(ctx, "91", models.DocumentTypeBDDInstructions)
			entry := fmt.Sprintf(`{"requestId":91,"time":{"startTime":%d,"endTime":%d},"status":"QUEUED"}`, start, end)
			sum := apply([]string{"91"}, statusBody([]string{entry}))
			Expect(sum).To(Equal(polling.BatchSummary{Polled: 1, StillPending: 1, Malformed: 1}))
			Expect(reloadUpload(ctx, upload.ID).AasmState).To(Equal(models.StatePending))
			Expect(o.Malformed("unexpected_status")).To(Equal(1.0))
		})
	})

	Context("when the batch holds 10 or 1,000 uploads", func() {
		var statements dbtest.StatementCounter

		BeforeEach(func(ctx SpecContext) {
			// A pool of its own, so the counter sees only Apply's statements.
			pool, err := db.Open(ctx, db.Options{URL: gdbURL, MaxOpenConns: 4, WrapConn: statements.Wrap})
			Expect(err).NotTo(HaveOccurred())
			DeferCleanup(db.Close, pool)
			updater.DB = pool
			updater.Emails = polling.EmailsAlways(true)
		})

		statementsFor := func(n int) int64 {
			GinkgoHelper()
			Expect(dbtest.Truncate(gdb)).To(Succeed())
			ups := seedManyUploads(ctx, n)
			ids := make([]string, n)
			entries := make([]string, n)
			start, end := ms(testNow.Add(-3*time.Hour)), ms(testNow.Add(-time.Hour))
			for i, u := range ups {
				ids[i] = u.LighthouseDocumentRequestID
				switch i % 3 {
				case 0:
					entries[i] = successEntry(ids[i], start, end)
				case 1:
					entries[i] = failedEntry(ids[i], start, end, "CLAIMS_EVIDENCE")
				default:
					entries[i] = inProgressEntry(ids[i], start)
				}
			}
			resp := decodeStatuses(statusBody(entries))
			statements.Reset()
			sum, err := applyAnswer(ctx, updater, o.Logger, "", ids, resp)
			Expect(err).NotTo(HaveOccurred())
			Expect(sum.Polled).To(Equal(n))
			Expect(sum.Completed + sum.Failed + sum.StillPending).To(Equal(n))
			return statements.Load()
		}

		It("runs the same two statements whatever the batch size", func() {
			Expect(statementsFor(10)).To(Equal(int64(2)))
			Expect(statementsFor(1000)).To(Equal(int64(2)))
			var failed int64
			Expect(gdb.Model(&models.Lighthouse526DocumentUpload{}).Where("aasm_state = ?", models.StateFailed).Count(&failed).Error).To(Succeed())
			Expect(failed).To(Equal(int64(333)), "every third upload of 1,000 failed")
		})
	})
})
