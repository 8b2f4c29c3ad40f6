package tasks_test

import (
	"context"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vagov/lighthouse526/lighthouse/fake"
	"github.com/vagov/lighthouse526/models"
	"github.com/vagov/lighthouse526/polling"
	"github.com/vagov/lighthouse526/tasks"
)

var _ = Describe("Failure follow-ups", func() {
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

	Describe("Relay", func() {
		var (
			insp   *asynq.Inspector
			queue  string
			relay  *polling.Relay
			upload models.Lighthouse526DocumentUpload
		)

		BeforeEach(func() {
			insp = newInspector()
			queue = newQueue(insp)
			relay = &polling.Relay{DB: gdb, Target: &tasks.AsynqTarget{Client: newAsynqClient(), Queue: queue}, Metrics: o.Metrics, Logger: o.Logger, Now: func() time.Time { return testNow }}
		})

		Context("when a failed upload left a follow-up in the outbox", func() {
			BeforeEach(func() {
				upload = seedUpload(ctx, "16819", models.DocumentTypeVeteranUpload)
				fail("16819")
			})

			It("enqueues it under the upload's task id and marks it enqueued", func() {
				Expect(relay.Flush(ctx)).To(Equal(1))

				info, err := insp.GetTaskInfo(queue, tasks.NotificationTaskID(upload.ID))
				Expect(err).NotTo(HaveOccurred())
				Expect(info.Type).To(Equal(tasks.TypeDocumentUploadFailureEmail))
				Expect(info.State).To(Equal(asynq.TaskStatePending))
				// Kept after it ran, so a relay retried after a crash finds the duplicate.
				Expect(info.Retention).To(Equal(7 * 24 * time.Hour))
				Expect(string(info.Payload)).To(MatchJSON(fmt.Sprintf(
					`{"form526_submission_id":%d,"form_attachment_guid":%q}`, upload.Form526SubmissionID, attachmentGUID(upload))))
				Expect(outboxEntries(ctx)).To(ConsistOf(SatisfyAll(
					HaveField("EnqueuedAt", HaveValue(BeTemporally("==", testNow))),
					HaveField("Attempts", 1),
				)))
				Expect(testutil.ToFloat64(o.Metrics.NotificationsEnqueued.WithLabelValues(tasks.TypeDocumentUploadFailureEmail))).To(Equal(1.0))
			})

			It("never enqueues it twice, whether flushed again, by a second relay, or after a crash before marking", func() {
				Expect(relay.Flush(ctx)).To(Equal(1))
				Expect(relay.Flush(ctx)).To(BeZero())
				second := *relay
				second.Target = &tasks.AsynqTarget{Client: newAsynqClient(), Queue: queue}
				Expect(second.Flush(ctx)).To(BeZero())

				// A crash after the enqueue and before the commit leaves the row unsent.
				Expect(gdb.Model(&models.OutboxEntry{}).Where("upload_id = ?", upload.ID).Update("enqueued_at", nil).Error).To(Succeed())
				Expect(second.Flush(ctx)).To(Equal(1))

				Expect(insp.ListPendingTasks(queue)).To(ConsistOf(HaveField("ID", tasks.NotificationTaskID(upload.ID))))
				Expect(outboxEntries(ctx)).To(ConsistOf(HaveField("EnqueuedAt", Not(BeNil()))))
			})
		})

		Context("when Redis goes down as an upload fails, and comes back", func() {
			var (
				srv     *redisServer
				srvInsp *asynq.Inspector
				handler *tasks.StatusBatchHandler
				task    *asynq.Task
			)

			BeforeEach(func() {
				srv = startRedisServer()
				client := asynq.NewClient(asynq.RedisClientOpt{Addr: srv.Addr})
				DeferCleanup(client.Close)
				srvInsp = asynq.NewInspector(asynq.RedisClientOpt{Addr: srv.Addr})
				DeferCleanup(srvInsp.Close)
				relay.Target = &tasks.AsynqTarget{Client: client, Queue: queue}

				// Lighthouse (and its token cache) stay on the suite's Redis:
				// only the follow-ups' queue is down.
				lh := startLighthouse(fake.Options{})
				id := lh.Fake.AddDocument(fake.Document{Outcome: fake.StatusFailed, FailedStep: fake.StepClaimsEvidence})
				upload = seedUpload(ctx, id, models.DocumentTypeVeteranUpload)
				handler = &tasks.StatusBatchHandler{Poller: &polling.BatchPoller{Lighthouse: lh.Client, Updater: updater, Relay: relay}, Metrics: o.Types, Logger: o.Logger}
				var err error
				task, err = tasks.NewStatusBatchTask(queue, "adhoc:outage", 0, []string{id})
				Expect(err).NotTo(HaveOccurred())
			})

			It("keeps the follow-up in the outbox, then enqueues it exactly once", func() {
				srv.Stop()

				// The transition and its outbox row commit; the batch is done.
				Expect(handler.ProcessTask(ctx, task)).To(Succeed())
				Expect(reloadUpload(ctx, upload.ID).AasmState).To(Equal(models.StateFailed))
				Expect(o.Logs.WithMessage("failure follow-ups stay in the outbox for now")).To(HaveLen(1))
				Expect(outboxEntries(ctx)).To(ConsistOf(SatisfyAll(
					HaveField("EnqueuedAt", BeNil()), HaveField("Attempts", 1), HaveField("LastError", Not(BeNil())))))

				_, err := relay.Flush(ctx)
				Expect(err).To(HaveOccurred())
				Expect(outboxEntries(ctx)).To(ConsistOf(SatisfyAll(HaveField("EnqueuedAt", BeNil()), HaveField("Attempts", 2))))
				Expect(testutil.ToFloat64(o.Metrics.NotificationErrors)).To(Equal(2.0))

				srv.Start()
				Eventually(func() (int, error) { return relay.Flush(ctx) }).
					WithTimeout(15 * time.Second).WithPolling(100 * time.Millisecond).Should(Equal(1))
				Expect(relay.Flush(ctx)).To(BeZero())

				tasksInQueue, err := srvInsp.ListPendingTasks(queue)
				Expect(err).NotTo(HaveOccurred())
				Expect(tasksInQueue).To(ConsistOf(SatisfyAll(
					HaveField("ID", tasks.NotificationTaskID(upload.ID)),
					HaveField("Type", tasks.TypeDocumentUploadFailureEmail),
				)))
				Expect(outboxEntries(ctx)).To(ConsistOf(HaveField("EnqueuedAt", HaveValue(BeTemporally("==", testNow)))))
			})
		})
	})
})
