package models_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"gorm.io/gorm"

	"github.com/vagov/lighthouse526/db"
	"github.com/vagov/lighthouse526/db/dbtest"
	"github.com/vagov/lighthouse526/models"
)

const notificationTask = "form526:document_upload_failure_email"

func outboxEntries() []models.OutboxEntry {
	GinkgoHelper()
	var entries []models.OutboxEntry
	Expect(gdb.Order("id").Find(&entries).Error).To(Succeed())
	return entries
}

var _ = Describe("LoadPending", func() {
	var ctx context.Context

	BeforeEach(func() {
		ctx = context.Background()
	})

	Context("when some of the request ids are pending", func() {
		It("returns those, with the attachment guid and the user uuid", func() {
			veteranUpload := createUpload(withType(models.DocumentTypeVeteranUpload), withAttachment())
			form0781 := createUpload()
			completed := createUpload()
			setState(completed.ID, models.StateCompleted)

			got, err := models.LoadPending(ctx, gdb, []string{
				veteranUpload.LighthouseDocumentRequestID, form0781.LighthouseDocumentRequestID,
				completed.LighthouseDocumentRequestID, "404404",
			})
			Expect(err).NotTo(HaveOccurred())

			Expect(got).To(HaveLen(2))
			Expect(got[0].ID).To(Equal(veteranUpload.ID))
			var attachment models.FormAttachment
			Expect(gdb.Take(&attachment, *veteranUpload.FormAttachmentID).Error).To(Succeed())
			Expect(got[0].FormAttachmentGUID).To(HaveValue(Equal(attachment.GUID)))
			var submission models.Form526Submission
			Expect(gdb.Take(&submission, veteranUpload.Form526SubmissionID).Error).To(Succeed())
			Expect(got[0].UserUUID).To(Equal(submission.UserUUID))
			Expect(got[0].DocumentType).To(Equal(models.DocumentTypeVeteranUpload))
			Expect(got[1].ID).To(Equal(form0781.ID))
			Expect(got[1].FormAttachmentGUID).To(BeNil())
		})
	})

	Context("when a request id holds quotes and backslashes", func() {
		It("is matched as it is, bound as one array parameter", func() {
			odd := createUpload(withRequestID(`a"b\c,{d}`))

			got, err := models.LoadPending(ctx, gdb, []string{`a"b\c,{d}`, "x"})

			Expect(err).NotTo(HaveOccurred())
			Expect(got).To(HaveLen(1))
			Expect(got[0].ID).To(Equal(odd.ID))
		})
	})

	Context("when no request id is given", func() {
		It("returns nothing", func() {
			createUpload()

			got, err := models.LoadPending(ctx, gdb, nil)

			Expect(err).NotTo(HaveOccurred())
			Expect(got).To(BeEmpty())
		})
	})

	Context("when an upload has NULL in every nullable column", func() {
		It("reads it, with its document type empty, beside the others", func() {
			good := createUpload()
			nulls := createUpload(withType(models.DocumentTypeVeteranUpload), withAttachment())
			Expect(gdb.Exec(`UPDATE lighthouse526_document_uploads
				SET form_attachment_id = NULL, document_type = NULL, lighthouse_processing_started_at = NULL,
				    lighthouse_processing_ended_at = NULL, status_last_polled_at = NULL,
				    error_message = NULL, last_status_response = NULL
				WHERE id = ?`, nulls.ID).Error).To(Succeed())
			Expect(gdb.Exec(`UPDATE form526_submissions SET user_uuid = NULL WHERE id = ?`, nulls.Form526SubmissionID).Error).To(Succeed())

			got, err := models.LoadPending(ctx, gdb, []string{good.LighthouseDocumentRequestID, nulls.LighthouseDocumentRequestID})

			Expect(err).NotTo(HaveOccurred())
			Expect(got).To(HaveLen(2))
			Expect(got[1]).To(Equal(models.PendingUpload{
				ID: nulls.ID, Form526SubmissionID: nulls.Form526SubmissionID,
				LighthouseDocumentRequestID: nulls.LighthouseDocumentRequestID,
				CreatedAt:                   got[1].CreatedAt, // NOT NULL
			}))
			Expect(got[1].CreatedAt).To(BeTemporally("~", nulls.CreatedAt, time.Millisecond))
			Expect(got[0].DocumentType).To(Equal(models.DocumentTypeForm0781))
		})
	})

	Context("when an upload is quarantined", func() {
		It("leaves it out", func() {
			kept, quarantined := createUpload(), createUpload()
			quarantineUpload(quarantined.ID)

			got, err := models.LoadPending(ctx, gdb, []string{kept.LighthouseDocumentRequestID, quarantined.LighthouseDocumentRequestID})

			Expect(err).NotTo(HaveOccurred())
			Expect(got).To(ConsistOf(HaveField("ID", kept.ID)))
		})
	})
})

var _ = Describe("WriteBatch", func() {
	var (
		ctx       context.Context
		upload    *models.Lighthouse526DocumentUpload
		startedAt time.Time
		endedAt   time.Time
	)

	BeforeEach(func() {
		ctx = context.Background()
		startedAt = now.Add(-3 * time.Hour).Truncate(time.Second)
		endedAt = now.Add(-time.Hour).Truncate(time.Second)
		upload = createUpload()
	})

	apply := func(results ...models.PollResult) []models.Transitioned {
		GinkgoHelper()
		out, err := writeResults(ctx, gdb, models.BatchWrite{Results: results}, now)
		Expect(err).NotTo(HaveOccurred())
		return out
	}

	Context("when Lighthouse says SUCCESS", func() {
		It("completes the upload with its times and status, and stamps the poll", func() {
			status := statusJSON(upload.LighthouseDocumentRequestID, "SUCCESS", &startedAt, &endedAt, "")

			out := apply(models.PollResult{
				ID: upload.ID, NewState: models.StateCompleted, SaveStatus: true,
				StartedAt: &startedAt, EndedAt: &endedAt, LastStatusResponse: status,
			})

			Expect(out).To(ConsistOf(models.Transitioned{ID: upload.ID, AasmState: models.StateCompleted}))
			stored := reload(upload.ID)
			Expect(stored.AasmState).To(Equal(models.StateCompleted))
			Expect(*stored.LighthouseProcessingStartedAt).To(BeTemporally("==", startedAt))
			Expect(*stored.LighthouseProcessingEndedAt).To(BeTemporally("==", endedAt))
			Expect(models.JSONEqual(stored.LastStatusResponse, status)).To(BeTrue())
			Expect(*stored.StatusLastPolledAt).To(BeTemporally("==", now))
			Expect(stored.ErrorMessage).To(BeEmpty())
			Expect(outboxEntries()).To(BeEmpty())
		})
	})

	Context("when the values hold what an array literal must escape", func() {
		It("stores them exactly, and a JSON null as no value", func() {
			odd := `{"requestId":1,"status":"SUCCESS","note":"q\"uote \\back {brace},comma NULL \u00e9 \n","empty":""}`
			other := createUpload()
			withMicros := startedAt.Add(123456 * time.Microsecond)

			out := apply(
				models.PollResult{
					ID: upload.ID, NewState: models.StateFailed, SaveStatus: true,
					StartedAt: &withMicros, EndedAt: &endedAt, LastStatusResponse: models.JSON(odd),
					ErrorMessage: models.JSON(`{"detail":"\"NULL\" \\ {x}","step":"CLAIMS_EVIDENCE"}`),
					Notification: &models.Notification{TaskType: `odd "type" \`, Payload: models.JSON(`{"a":"{,}"}`)},
				},
				models.PollResult{ID: other.ID, NewState: models.StatePending, SaveStatus: true, LastStatusResponse: models.JSON(`null`)},
			)

			Expect(out).To(ConsistOf(models.Transitioned{ID: upload.ID, AasmState: models.StateFailed}))
			stored := reload(upload.ID)
			Expect(string(stored.LastStatusResponse)).To(MatchJSON(odd))
			Expect(string(stored.ErrorMessage)).To(MatchJSON(`{"detail":"\"NULL\" \\ {x}","step":"CLAIMS_EVIDENCE"}`))
			Expect(*stored.LighthouseProcessingStartedAt).To(BeTemporally("==", withMicros))
			entries := outboxEntries()
			Expect(entries).To(HaveLen(1))
			Expect(entries[0].TaskType).To(Equal(`odd "type" \`))
			Expect(string(entries[0].Payload)).To(MatchJSON(`{"a":"{,}"}`))
			Expect(reload(other.ID).LastStatusResponse).To(BeEmpty())
		})
	})

	Context("when Lighthouse says FAILED", func() {
		var result models.PollResult

		BeforeEach(func() {
			result = models.PollResult{
				ID: upload.ID, NewState: models.StateFailed, SaveStatus: true,
				StartedAt: &startedAt, EndedAt: &endedAt, ErrorMessage: models.JSON(claimsEvidenceError),
				LastStatusResponse: statusJSON(upload.LighthouseDocumentRequestID, "FAILED", &startedAt, &endedAt, claimsEvidenceError),
			}
		})

		It("fails the upload with its error message", func() {
			out := apply(result)

			Expect(out).To(ConsistOf(models.Transitioned{ID: upload.ID, AasmState: models.StateFailed}))
			stored := reload(upload.ID)
			Expect(stored.AasmState).To(Equal(models.StateFailed))
			Expect(*stored.LighthouseProcessingEndedAt).To(BeTemporally("==", endedAt))
			Expect(models.JSONEqual(stored.ErrorMessage, []byte(claimsEvidenceError))).To(BeTrue())
		})

		Context("with a notification", func() {
			BeforeEach(func() {
				result.Notification = &models.Notification{
					TaskType: notificationTask,
					Payload:  models.JSON(fmt.Sprintf(`{"upload_id": %d}`, upload.ID)),
				}
			})

			It("writes the notification to the outbox with the transition", func() {
				apply(result)

				entries := outboxEntries()
				Expect(entries).To(HaveLen(1))
				Expect(entries[0].UploadID).To(Equal(upload.ID))
				Expect(entries[0].TaskType).To(Equal(notificationTask))
				Expect(models.JSONEqual(entries[0].Payload, result.Notification.Payload)).To(BeTrue())
				Expect(entries[0].EnqueuedAt).To(BeNil())
				Expect(entries[0].CreatedAt).To(BeTemporally("==", now))
			})

			It("writes it once when the same result comes again", func() {
				apply(result)
				out := apply(result)

				Expect(out).To(BeEmpty())
				Expect(outboxEntries()).To(HaveLen(1))
			})
		})

		Context("without an error object", func() {
			It("leaves the upload pending, saves the status, and writes no notification", func() {
				result.ErrorMessage = nil
				result.Notification = &models.Notification{TaskType: notificationTask, Payload: models.JSON(`{}`)}

				out := apply(result)

				Expect(out).To(BeEmpty())
				stored := reload(upload.ID)
				Expect(stored.AasmState).To(Equal(models.StatePending))
				Expect(stored.LastStatusResponse).NotTo(BeEmpty())
				Expect(*stored.StatusLastPolledAt).To(BeTemporally("==", now))
				Expect(outboxEntries()).To(BeEmpty())
			})
		})
	})

	Context("when Lighthouse says SUCCESS without an end time", func() {
		It("leaves the upload pending: the guard holds in the bulk path too", func() {
			status := statusJSON(upload.LighthouseDocumentRequestID, "SUCCESS", &startedAt, nil, "")

			out := apply(models.PollResult{
				ID: upload.ID, NewState: models.StateCompleted, SaveStatus: true,
				StartedAt: &startedAt, LastStatusResponse: status,
			})

			Expect(out).To(BeEmpty())
			stored := reload(upload.ID)
			Expect(stored.AasmState).To(Equal(models.StatePending))
			Expect(stored.LighthouseProcessingEndedAt).To(BeNil())
			Expect(models.JSONEqual(stored.LastStatusResponse, status)).To(BeTrue())
			Expect(*stored.StatusLastPolledAt).To(BeTemporally("==", now))
		})
	})

	Context("when the upload is still in progress", func() {
		It("saves the start time and status, stays pending, and stamps the poll", func() {
			status := statusJSON(upload.LighthouseDocumentRequestID, "IN_PROGRESS", &startedAt, nil, "")

			out := apply(models.PollResult{
				ID: upload.ID, NewState: models.StatePending, SaveStatus: true,
				StartedAt: &startedAt, LastStatusResponse: status,
			})

			Expect(out).To(BeEmpty())
			stored := reload(upload.ID)
			Expect(stored.AasmState).To(Equal(models.StatePending))
			Expect(*stored.LighthouseProcessingStartedAt).To(BeTemporally("==", startedAt))
			Expect(models.JSONEqual(stored.LastStatusResponse, status)).To(BeTrue())
			Expect(*stored.StatusLastPolledAt).To(BeTemporally("==", now))
			Expect(stored.UpdatedAt).To(BeTemporally("==", now))
		})

		It("keeps the saved status when the result says nothing changed", func() {
			status := statusJSON(upload.LighthouseDocumentRequestID, "IN_PROGRESS", &startedAt, nil, "")
			apply(models.PollResult{ID: upload.ID, NewState: models.StatePending, SaveStatus: true, StartedAt: &startedAt, LastStatusResponse: status})

			apply(models.PollResult{ID: upload.ID, NewState: models.StatePending})

			stored := reload(upload.ID)
			Expect(*stored.LighthouseProcessingStartedAt).To(BeTemporally("==", startedAt))
			Expect(models.JSONEqual(stored.LastStatusResponse, status)).To(BeTrue())
			Expect(*stored.StatusLastPolledAt).To(BeTemporally("==", now))
		})
	})

	Context("when the times are not in UTC", func() {
		It("stores the same instants", func() {
			eastern := time.FixedZone("EST", -5*60*60)
			start, end := startedAt.In(eastern), endedAt.In(eastern)

			apply(models.PollResult{ID: upload.ID, NewState: models.StateCompleted, SaveStatus: true, StartedAt: &start, EndedAt: &end})

			stored := reload(upload.ID)
			Expect(*stored.LighthouseProcessingStartedAt).To(BeTemporally("==", startedAt))
			Expect(*stored.LighthouseProcessingEndedAt).To(BeTemporally("==", endedAt))
		})
	})

	Context("when Lighthouse does not know the request id", func() {
		unknown := func() models.PollResult {
			return models.PollResult{ID: upload.ID, NewState: models.StatePending, Unknown: true}
		}

		It("counts every consecutive unknown poll", func() {
			apply(unknown())
			Expect(unknownPolls(upload.ID)).To(Equal(1))

			apply(unknown())
			stored := reload(upload.ID)
			Expect(unknownPolls(upload.ID)).To(Equal(2))
			Expect(stored.AasmState).To(Equal(models.StatePending))
			Expect(*stored.StatusLastPolledAt).To(BeTemporally("==", now))
		})

		It("resets the count when a poll knows it again", func() {
			apply(unknown())
			apply(unknown())

			apply(models.PollResult{ID: upload.ID, NewState: models.StatePending})

			Expect(unknownPolls(upload.ID)).To(BeZero())
		})

		It("keeps the count in the worker's table, and writes no row there for an upload known with no count", func() {
			other := createUpload()
			apply(unknown(), models.PollResult{ID: other.ID, NewState: models.StatePending})

			var rows []models.UploadPollState
			Expect(gdb.Find(&rows).Error).To(Succeed())
			Expect(rows).To(ConsistOf(SatisfyAll(HaveField("UploadID", upload.ID), HaveField("UnknownPollCount", 1))))
		})
	})

	Context("when the results carry the adaptive schedule's step", func() {
		var (
			next, changed time.Time
			schedule      func(digest int64) *models.PollSchedule
		)

		BeforeEach(func() {
			next, changed = now.Add(2*time.Minute), now.Add(-time.Hour)
			schedule = func(digest int64) *models.PollSchedule {
				return &models.PollSchedule{NextPollAt: next, StatusDigest: digest, StatusChangedAt: changed}
			}
		})

		It("writes each pending upload's next poll, digest and last move, in the same statement, over a lease", func() {
			leased := createUpload()
			Expect(gdb.Exec(`INSERT INTO lighthouse526_upload_poll_states (upload_id, next_poll_at, unknown_poll_count, created_at, updated_at)
				VALUES (?, ?, 1, ?, ?)`, leased.ID, now.Add(5*time.Minute), now, now).Error).To(Succeed())

			apply(models.PollResult{ID: upload.ID, NewState: models.StatePending, Schedule: schedule(-7)},
				models.PollResult{ID: leased.ID, NewState: models.StatePending, Unknown: true, Schedule: schedule(42)})

			st := pollState(upload.ID)
			Expect(st.NextPollAt).To(HaveValue(BeTemporally("==", next)))
			Expect(st.StatusDigest).To(HaveValue(BeEquivalentTo(-7)), "all 64 bits, the sign bit too")
			Expect(st.StatusChangedAt).To(HaveValue(BeTemporally("==", changed)))
			Expect(st.UnknownPollCount).To(BeZero())
			st = pollState(leased.ID)
			Expect(st.NextPollAt).To(HaveValue(BeTemporally("==", next)), "the lease gives way to the schedule")
			Expect(st.StatusDigest).To(HaveValue(BeEquivalentTo(42)))
			Expect(st.UnknownPollCount).To(Equal(2))
		})

		It("writes none for an upload that left pending in the write, or was already final", func() {
			final := createUpload()
			setState(final.ID, models.StateFailed)
			status := statusJSON(upload.LighthouseDocumentRequestID, "SUCCESS", &startedAt, &endedAt, "")

			apply(models.PollResult{ID: upload.ID, NewState: models.StateCompleted, SaveStatus: true,
				StartedAt: &startedAt, EndedAt: &endedAt, LastStatusResponse: status, Schedule: schedule(1)},
				models.PollResult{ID: final.ID, NewState: models.StatePending, Schedule: schedule(1)})

			Expect(reload(upload.ID).AasmState).To(Equal(models.StateCompleted))
			Expect(pollState(upload.ID)).To(BeNil())
			Expect(pollState(final.ID)).To(BeNil())
		})

		It("keeps the stored schedule of an upload whose result has none (fixed), and writes no row for one without", func() {
			scheduled, plain := createUpload(), createUpload()
			apply(models.PollResult{ID: scheduled.ID, NewState: models.StatePending, Schedule: schedule(3)})

			apply(models.PollResult{ID: scheduled.ID, NewState: models.StatePending, Unknown: true},
				models.PollResult{ID: plain.ID, NewState: models.StatePending})

			st := pollState(scheduled.ID)
			Expect(st.NextPollAt).To(HaveValue(BeTemporally("==", next)))
			Expect(st.StatusDigest).To(HaveValue(BeEquivalentTo(3)))
			Expect(st.UnknownPollCount).To(Equal(1))
			Expect(pollState(plain.ID)).To(BeNil(), "fixed writes no more than before")
		})
	})

	DescribeTable("when the upload is already final",
		func(state string) {
			setState(upload.ID, state)
			before := rowText(upload.ID)

			out := apply(models.PollResult{
				ID: upload.ID, NewState: models.StateFailed, SaveStatus: true,
				StartedAt: &startedAt, EndedAt: &endedAt, ErrorMessage: models.JSON(claimsEvidenceError),
				Unknown:      true,
				Notification: &models.Notification{TaskType: notificationTask, Payload: models.JSON(`{}`)},
			})

			Expect(out).To(BeEmpty())
			Expect(rowText(upload.ID)).To(Equal(before))
			Expect(outboxEntries()).To(BeEmpty())
		},
		Entry("completed, it is left untouched", models.StateCompleted),
		Entry("failed, it is left untouched", models.StateFailed),
	)

	Context("when a batch mixes every outcome", func() {
		var (
			completes, fails, pending, unknown, final *models.Lighthouse526DocumentUpload
			results                                   []models.PollResult
		)

		BeforeEach(func() {
			completes = upload
			fails, pending, unknown, final = createUpload(), createUpload(), createUpload(), createUpload()
			setState(final.ID, models.StateCompleted)
			results = []models.PollResult{
				{ID: completes.ID, NewState: models.StateCompleted, SaveStatus: true, StartedAt: &startedAt, EndedAt: &endedAt},
				{
					ID: fails.ID, NewState: models.StateFailed, SaveStatus: true, StartedAt: &startedAt, EndedAt: &endedAt,
					ErrorMessage: models.JSON(claimsEvidenceError),
					Notification: &models.Notification{TaskType: notificationTask, Payload: models.JSON(`{}`)},
				},
				{ID: pending.ID, NewState: models.StatePending, SaveStatus: true, StartedAt: &startedAt},
				{ID: unknown.ID, NewState: models.StatePending, Unknown: true},
				{ID: final.ID, NewState: models.StateCompleted, SaveStatus: true, StartedAt: &startedAt, EndedAt: &endedAt},
			}
		})

		It("returns only the uploads that transitioned", func() {
			out := apply(results...)

			Expect(out).To(ConsistOf(
				models.Transitioned{ID: completes.ID, AasmState: models.StateCompleted},
				models.Transitioned{ID: fails.ID, AasmState: models.StateFailed},
			))
		})

		Context("with a polling cycle", func() {
			var cycle *models.PollingCycle

			BeforeEach(func() {
				var err error
				cycle, err = models.StartCycle(ctx, gdb, "cron:2026-03-02T10:15", now, now.Add(-time.Hour), now)
				Expect(err).NotTo(HaveOccurred())
			})

			It("adds what the batch did to the cycle's counters", func() {
				later := now.Add(time.Minute)
				_, err := writeResults(ctx, gdb, models.BatchWrite{CycleID: cycle.ID, Results: results}, later)
				Expect(err).NotTo(HaveOccurred())

				var stored models.PollingCycle
				Expect(gdb.Take(&stored, "id = ?", cycle.ID).Error).To(Succeed())
				Expect(stored.BatchesDone).To(Equal(1))
				Expect(stored.DocumentsPolled).To(Equal(4), "the final upload is not polled")
				Expect(stored.CompletedCount).To(Equal(1))
				Expect(stored.FailedCount).To(Equal(1))
				Expect(stored.UnknownCount).To(Equal(1))
				Expect(stored.UpdatedAt).To(BeTemporally("==", later))
			})
		})
	})

	Context("when several workers apply results for the same upload at once", func() {
		It("transitions it once", func() {
			const workers = 6
			var (
				wg           sync.WaitGroup
				transitioned atomic.Int64
			)
			for i := range workers {
				result := models.PollResult{ID: upload.ID, NewState: models.StateCompleted, SaveStatus: true, EndedAt: &endedAt}
				if i%2 == 1 {
					result.NewState = models.StateFailed
					result.ErrorMessage = models.JSON(claimsEvidenceError)
					result.Notification = &models.Notification{TaskType: notificationTask, Payload: models.JSON(`{}`)}
				}
				wg.Go(func() {
					defer GinkgoRecover()
					out, err := writeResults(ctx, gdb, models.BatchWrite{Results: []models.PollResult{result}}, now)
					Expect(err).NotTo(HaveOccurred())
					transitioned.Add(int64(len(out)))
				})
			}
			wg.Wait()

			Expect(transitioned.Load()).To(Equal(int64(1)))
			stored := reload(upload.ID)
			if stored.AasmState == models.StateFailed {
				Expect(outboxEntries()).To(HaveLen(1))
			} else {
				Expect(stored.AasmState).To(Equal(models.StateCompleted))
				Expect(outboxEntries()).To(BeEmpty())
			}
		})
	})

	Describe("from the body the statuses were sliced from", func() {
		var (
			uploads []*models.Lighthouse526DocumentUpload
			body    []byte
			spans   [][2]int // where each upload's status is in body
		)

		// Three uploads, and an answer body holding a status for each
		// among other bytes, as Lighthouse's does.
		BeforeEach(func() {
			uploads = []*models.Lighthouse526DocumentUpload{upload, createUpload(), createUpload()}
			body, spans = []byte(`{"data":{"statuses":[`), nil
			for i, u := range uploads {
				if i > 0 {
					body = append(body, ',')
				}
				st := statusJSON(u.LighthouseDocumentRequestID, "IN_PROGRESS", &startedAt, nil, "")
				spans = append(spans, [2]int{len(body), len(body) + len(st)})
				body = append(body, st...)
			}
			body = append(body, `],"requestIdsNotFound":[]}}`...)
		})

		resultFor := func(i int, status []byte) models.PollResult {
			return models.PollResult{ID: uploads[i].ID, NewState: models.StatePending, SaveStatus: true, StartedAt: &startedAt, LastStatusResponse: status}
		}
		expectStored := func(i int, status []byte) {
			GinkgoHelper()
			Expect(string(reload(uploads[i].ID).LastStatusResponse)).To(MatchJSON(status), "upload %d", i)
		}

		It("stores each upload's own status", func() {
			results := make([]models.PollResult, len(uploads))
			for i, sp := range spans {
				results[i] = resultFor(i, body[sp[0]:sp[1]])
			}

			_, err := writeResults(ctx, gdb, models.BatchWrite{Source: body, Results: results}, now)

			Expect(err).NotTo(HaveOccurred())
			for i, sp := range spans {
				expectStored(i, body[sp[0]:sp[1]])
			}
		})

		It("stores them too when one status is not from the body, or most of the body is not statuses", func() {
			elsewhere := []byte(string(body[spans[1][0]:spans[1][1]]))
			results := []models.PollResult{resultFor(0, body[spans[0][0]:spans[0][1]]), resultFor(1, elsewhere)}
			_, err := writeResults(ctx, gdb, models.BatchWrite{Source: body, Results: results}, now)
			Expect(err).NotTo(HaveOccurred())
			expectStored(0, body[spans[0][0]:spans[0][1]])
			expectStored(1, elsewhere)

			few := []models.PollResult{resultFor(2, body[spans[2][0]:spans[2][1]])}
			_, err = writeResults(ctx, gdb, models.BatchWrite{Source: body, Results: few}, now)
			Expect(err).NotTo(HaveOccurred())
			expectStored(2, body[spans[2][0]:spans[2][1]])
		})
	})

	Context("when its prepared statement is gone from the connection", func() {
		It("fails that once, then prepares it again", func() {
			single, err := db.Open(ctx, db.Options{URL: dbURL, MaxOpenConns: 1, MaxIdleConns: 1})
			Expect(err).NotTo(HaveOccurred())
			DeferCleanup(db.Close, single)
			result := models.PollResult{ID: upload.ID, NewState: models.StatePending}
			_, err = writeResults(ctx, single, models.BatchWrite{Results: []models.PollResult{result}}, now)
			Expect(err).NotTo(HaveOccurred())
			// What a connection pooler's DISCARD ALL does behind pgx's back.
			Expect(single.Exec(`DEALLOCATE lighthouse526_apply_poll_results`).Error).To(Succeed())

			_, err = writeResults(ctx, single, models.BatchWrite{Results: []models.PollResult{result}}, now)
			Expect(err).To(MatchError(ContainSubstring("does not exist")))
			_, err = writeResults(ctx, single, models.BatchWrite{Results: []models.PollResult{result}}, now)
			Expect(err).NotTo(HaveOccurred())
		})
	})

	Context("when the batch is empty", func() {
		It("does nothing", func() {
			out, err := writeResults(ctx, gdb, models.BatchWrite{Results: nil}, now)

			Expect(err).NotTo(HaveOccurred())
			Expect(out).To(BeEmpty())
		})
	})

	Describe("its statements", func() {
		var (
			counted    *gorm.DB
			statements dbtest.StatementCounter
		)

		// A pool of its own, so that the counter sees this spec's
		// statements only.
		BeforeEach(func() {
			var err error
			counted, err = db.Open(ctx, db.Options{URL: dbURL, MaxOpenConns: 2, MaxIdleConns: 2, WrapConn: statements.Wrap})
			Expect(err).NotTo(HaveOccurred())
			DeferCleanup(db.Close, counted)
		})

		// statementsFor applies a batch of n results, of every kind, and
		// returns how many statements that took.
		statementsFor := func(n int) int64 {
			GinkgoHelper()
			Expect(dbtest.Truncate(gdb)).To(Succeed())
			submission := createSubmission()
			Expect(gdb.Exec(`
INSERT INTO lighthouse526_document_uploads (form526_submission_id, lighthouse_document_request_id, aasm_state,
            document_type, created_at, updated_at)
SELECT ?, 'req-' || g, 'pending', 'Form 0781', now(), now() FROM generate_series(1, ?) AS g`, submission.ID, n).Error).To(Succeed())
			var ids []int64
			Expect(gdb.Raw(`SELECT id FROM lighthouse526_document_uploads ORDER BY id`).Scan(&ids).Error).To(Succeed())
			Expect(ids).To(HaveLen(n))
			results := make([]models.PollResult, n)
			for i, id := range ids {
				switch i % 4 {
				case 0:
					results[i] = models.PollResult{ID: id, NewState: models.StateCompleted, SaveStatus: true, StartedAt: &startedAt, EndedAt: &endedAt}
				case 1:
					results[i] = models.PollResult{
						ID: id, NewState: models.StateFailed, SaveStatus: true, EndedAt: &endedAt, ErrorMessage: models.JSON(claimsEvidenceError),
						Notification: &models.Notification{TaskType: notificationTask, Payload: models.JSON(`{}`)},
					}
				case 2:
					results[i] = models.PollResult{ID: id, NewState: models.StatePending, SaveStatus: true, StartedAt: &startedAt}
				default:
					results[i] = models.PollResult{ID: id, NewState: models.StatePending, Unknown: true}
				}
			}

			statements.Reset()
			out, err := writeResults(ctx, counted, models.BatchWrite{Results: results}, now)
			Expect(err).NotTo(HaveOccurred())
			Expect(out).To(HaveLen((n + 3) / 4 * 2))
			return statements.Load()
		}

		It("is one statement per batch, whatever the batch size", func() {
			small := statementsFor(10)
			large := statementsFor(1000)

			Expect(small).To(Equal(int64(1)))
			Expect(large).To(Equal(small))
		})

		It("is still one statement when the batch quarantines uploads too", func() {
			polled, bad := createUpload(), createUpload()
			statements.Reset()

			w, err := models.WriteBatch(ctx, counted, models.BatchWrite{
				CycleID:     "",
				Results:     []models.PollResult{{ID: polled.ID, NewState: models.StatePending}},
				Quarantines: []models.Quarantine{{UploadID: bad.ID, Reason: models.QuarantineMissingDocumentType}},
			}, now)

			Expect(err).NotTo(HaveOccurred())
			Expect(statements.Load()).To(Equal(int64(1)))
			Expect(w.Transitioned).To(BeEmpty())
			Expect(w.Quarantined).To(ConsistOf(HaveField("UploadID", bad.ID)))
			Expect(*reload(polled.ID).StatusLastPolledAt).To(BeTemporally("==", now))
			Expect(reload(bad.ID).StatusLastPolledAt).To(BeNil(), "a quarantined upload is not stamped as polled")
		})
	})
})

var _ = Describe("WriteBatch", func() {
	It("writes the results, transitions and quarantines of a batch together, and counts the batch in its cycle", func(ctx SpecContext) {
		done, bad := createUpload(), createUpload()
		cycle, err := models.StartCycle(ctx, gdb, "adhoc:spec", now, now, now)
		Expect(err).NotTo(HaveOccurred())
		ended := now.Add(-time.Hour)

		w, err := models.WriteBatch(ctx, gdb, models.BatchWrite{
			CycleID:     cycle.ID,
			Results:     []models.PollResult{{ID: done.ID, NewState: models.StateCompleted, SaveStatus: true, EndedAt: &ended}},
			Quarantines: []models.Quarantine{{UploadID: bad.ID, Reason: models.QuarantineInvalidDocumentType, Detail: "Receipt"}},
		}, now)

		Expect(err).NotTo(HaveOccurred())
		Expect(w.Transitioned).To(Equal([]models.Transitioned{{ID: done.ID, AasmState: models.StateCompleted}}))
		Expect(w.Quarantined).To(Equal([]models.Quarantine{{UploadID: bad.ID, Reason: models.QuarantineInvalidDocumentType, Detail: "Receipt"}}))
		var c models.PollingCycle
		Expect(gdb.Take(&c, "id = ?", cycle.ID).Error).To(Succeed())
		Expect(c.BatchesDone).To(Equal(1))
		Expect(c.DocumentsPolled).To(Equal(1))
		Expect(c.CompletedCount).To(Equal(1))
	})
})

// writeResults writes b and returns the uploads that transitioned.
func writeResults(ctx context.Context, db *gorm.DB, b models.BatchWrite, now time.Time) ([]models.Transitioned, error) {
	w, err := models.WriteBatch(ctx, db, b, now)
	return w.Transitioned, err
}
