package tasks_test

import (
	"context"
	"encoding/json"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vagov/lighthouse526/models"
	"github.com/vagov/lighthouse526/polling"
	"github.com/vagov/lighthouse526/tasks"
	"github.com/vagov/lighthouse526/vagov/sidekiq"
)

var _ = Describe("Failure follow-ups through VA.gov's Sidekiq", func() {
	var (
		ctx     context.Context
		o       *observed
		updater *polling.StatusUpdater
		ns      string // the spec's Sidekiq namespace: its keys are ns:queues, ns:queue:default
		relay   *polling.Relay
	)

	BeforeEach(func() {
		ctx = context.Background()
		o = newObserved()
		updater = newUpdater(o)
		updater.Emails = polling.EmailsAlways(true)

		ns = "sidekiq-spec-" + randomHex(5)
		markers := "tasks-spec:" + randomHex(5) + ":pushed:"
		DeferCleanup(func(ctx context.Context) {
			keys, err := rdb.Keys(ctx, ns+":*").Result()
			Expect(err).NotTo(HaveOccurred())
			more, err := rdb.Keys(ctx, markers+"*").Result()
			Expect(err).NotTo(HaveOccurred())
			if keys = append(keys, more...); len(keys) > 0 {
				Expect(rdb.Del(ctx, keys...).Err()).To(Succeed())
			}
		})
		client, err := sidekiq.New(rdb, sidekiq.Options{Namespace: ns, MarkerPrefix: markers})
		Expect(err).NotTo(HaveOccurred())
		relay = &polling.Relay{DB: gdb, Target: &polling.SidekiqTarget{Client: client}, Metrics: o.Metrics, Logger: o.Logger, Now: func() time.Time { return testNow }}
	})

	// fail applies a FAILED answer for requestID.
	fail := func(requestID string) {
		GinkgoHelper()
		body := statusBody([]string{failedEntry(requestID, ms(testNow.Add(-2*time.Hour)), ms(testNow.Add(-time.Hour)), "BENEFITS_GATEWAY_SERVICE")})
		_, err := applyAnswer(ctx, updater, o.Logger, "", []string{requestID}, decodeStatuses(body))
		Expect(err).NotTo(HaveOccurred())
	}

	// jobs returns the class and args of every job on the Sidekiq queue.
	jobs := func() []map[string]any {
		GinkgoHelper()
		raw, err := rdb.LRange(ctx, ns+":queue:default", 0, -1).Result()
		Expect(err).NotTo(HaveOccurred())
		out := make([]map[string]any, 0, len(raw))
		for _, r := range raw {
			var m map[string]any
			Expect(json.Unmarshal([]byte(r), &m)).To(Succeed())
			out = append(out, map[string]any{"class": m["class"], "args": m["args"], "retry": m["retry"]})
		}
		return out
	}

	Context("when uploads of every type failed", func() {
		var vu, f0781, f0781a models.Lighthouse526DocumentUpload

		BeforeEach(func() {
			vu = seedUpload(ctx, "101", models.DocumentTypeVeteranUpload)
			f0781 = seedUpload(ctx, "102", models.DocumentTypeForm0781)
			f0781a = seedUpload(ctx, "103", models.DocumentTypeForm0781a)
			seedUpload(ctx, "104", models.DocumentTypeBDDInstructions)
			for _, id := range []string{"101", "102", "103", "104"} {
				fail(id)
			}
		})

		It("pushes the original's job for each, with its args, and marks the outbox sent", func() {
			var a models.FormAttachment
			Expect(gdb.Take(&a, *vu.FormAttachmentID).Error).To(Succeed())

			Expect(relay.Flush(ctx)).To(Equal(3))
			Expect(jobs()).To(ConsistOf(
				map[string]any{"class": sidekiq.ClassForm526DocumentUploadFailureEmail, "args": []any{float64(vu.Form526SubmissionID), a.GUID}, "retry": 16.0},
				map[string]any{"class": sidekiq.ClassForm0781DocumentUploadFailureEmail, "args": []any{float64(f0781.Form526SubmissionID)}, "retry": 16.0},
				map[string]any{"class": sidekiq.ClassForm0781DocumentUploadFailureEmail, "args": []any{float64(f0781a.Form526SubmissionID)}, "retry": 16.0},
			))
			Expect(outboxEntries(ctx)).To(HaveEach(HaveField("EnqueuedAt", HaveValue(BeTemporally("==", testNow)))))
			Expect(testutil.ToFloat64(o.Metrics.NotificationsEnqueued.WithLabelValues(tasks.TypeForm0781UploadFailureEmail))).To(Equal(2.0))
			Expect(testutil.ToFloat64(o.Metrics.NotificationsEnqueued.WithLabelValues(tasks.TypeDocumentUploadFailureEmail))).To(Equal(1.0))
		})

		It("pushes none twice when a crash kept the relay from marking them", func() {
			Expect(relay.Flush(ctx)).To(Equal(3))
			Expect(gdb.Model(&models.OutboxEntry{}).Where("true").Update("enqueued_at", nil).Error).To(Succeed())

			Expect(relay.Flush(ctx)).To(Equal(3), "marked sent again")
			Expect(jobs()).To(HaveLen(3))
			Expect(outboxEntries(ctx)).To(HaveEach(HaveField("EnqueuedAt", Not(BeNil()))))
			Expect(testutil.ToFloat64(o.Metrics.NotificationsEnqueued.WithLabelValues(tasks.TypeForm0781UploadFailureEmail))).To(Equal(2.0), "the duplicates are not counted")
		})
	})

	Context("when an outbox entry cannot become a job", func() {
		It("keeps it with a specific reason and counts it, and sends the others", func() {
			good := seedUpload(ctx, "201", models.DocumentTypeForm0781)
			fail("201")
			for i, e := range []models.OutboxEntry{
				{TaskType: "form526:unknown_email", Payload: models.JSON(`{"form526_submission_id":1}`)},
				{TaskType: tasks.TypeDocumentUploadFailureEmail, Payload: models.JSON(`{"form526_submission_id":1}`)},
				{TaskType: tasks.TypeForm0781UploadFailureEmail, Payload: models.JSON(`{"form526_submission_id":"1"}`)},
			} {
				bad := seedUpload(ctx, "30"+string(rune('0'+i)), models.DocumentTypeForm0781)
				e.UploadID, e.CreatedAt = bad.ID, testNow
				Expect(gdb.Create(&e).Error).To(Succeed())
			}

			sent, err := relay.Flush(ctx)
			Expect(err).To(MatchError(ContainSubstring("3 follow-ups could not be enqueued")))
			Expect(sent).To(Equal(1))
			Expect(jobs()).To(ConsistOf(HaveKeyWithValue("args", []any{float64(good.Form526SubmissionID)})))
			Expect(testutil.ToFloat64(o.Metrics.NotificationErrors)).To(Equal(3.0))

			var reasons []string
			for _, e := range outboxEntries(ctx) {
				if e.EnqueuedAt == nil {
					reasons = append(reasons, *e.LastError)
				}
			}
			Expect(reasons).To(ConsistOf(
				MatchRegexp(`^follow-up of upload \d+ \(form526:unknown_email\): no Sidekiq job for this task type$`),
				MatchRegexp(`^follow-up of upload \d+ \(form526:document_upload_failure_email\): needs a positive form526_submission_id and a form_attachment_guid$`),
				MatchRegexp(`^follow-up of upload \d+ \(form526:form0781_upload_failure_email\): json: cannot unmarshal string`),
			))
		})
	})
})
