package tasks_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/vagov/lighthouse526/models"
	"github.com/vagov/lighthouse526/polling"
	"github.com/vagov/lighthouse526/tasks"
)

var _ = Describe("PollNowHandler", func() {
	var (
		ctx        context.Context
		o          *observed
		insp       *asynq.Inspector
		client     *asynq.Client
		queue      string // where poll-now tasks run
		batchQueue string // where their batches go (no server consumes it)
	)

	BeforeEach(func() {
		ctx = context.Background()
		o = newObserved()
		insp = newInspector()
		client = newAsynqClient()
		queue, batchQueue = newQueue(insp), newQueue(insp)
		startServer(o, queue, map[string]asynq.Handler{tasks.TypeDocumentUploadPollNow: &tasks.PollNowHandler{
			DB: gdb, Client: client, Queue: batchQueue, Metrics: o.Types, Logger: o.Logger, Now: time.Now,
			Cycle: &polling.Cycle{DB: gdb, Metrics: o.Metrics, Now: time.Now, BatchSize: 2},
		}})
	})

	pollNow := func(p tasks.PollNowPayload) string {
		GinkgoHelper()
		t, err := tasks.NewPollNowTask(queue, p, time.Now())
		Expect(err).NotTo(HaveOccurred())
		info, err := client.EnqueueContext(ctx, t)
		Expect(err).NotTo(HaveOccurred())
		Eventually(func() (asynq.TaskState, error) {
			i, err := insp.GetTaskInfo(queue, info.ID)
			if err != nil {
				return 0, err
			}
			return i.State, nil
		}).WithTimeout(15 * time.Second).Should(Equal(asynq.TaskStateCompleted))
		return info.ID
	}
	batches := func() []tasks.StatusBatchPayload {
		GinkgoHelper()
		infos, err := insp.ListPendingTasks(batchQueue)
		if errors.Is(err, asynq.ErrQueueNotFound) {
			return nil // nothing was ever enqueued there
		}
		Expect(err).NotTo(HaveOccurred())
		out := make([]tasks.StatusBatchPayload, len(infos))
		for i, info := range infos {
			Expect(info.Type).To(Equal(tasks.TypeStatusBatch))
			Expect(json.Unmarshal(info.Payload, &out[i])).To(Succeed())
		}
		sort.Slice(out, func(i, j int) bool { return out[i].RequestIDs[0] < out[j].RequestIDs[0] })
		return out
	}
	idsOf := func(bs []tasks.StatusBatchPayload) []string {
		var ids []string
		for _, b := range bs {
			ids = append(ids, b.RequestIDs...)
		}
		return ids
	}

	Context("when it names request ids", func() {
		It("enqueues batches of the pending tracked ones only, in cycle adhoc:<task id>", func() {
			for _, id := range []string{"11", "12", "13"} {
				seedUpload(ctx, id, models.DocumentTypeBDDInstructions)
			}
			seedUpload(ctx, "14", models.DocumentTypeBDDInstructions, func(u *models.Lighthouse526DocumentUpload) {
				u.AasmState = models.StatePending
			})
			Expect(gdb.Exec(`UPDATE lighthouse526_document_uploads SET aasm_state = 'completed' WHERE lighthouse_document_request_id = '14'`).Error).To(Succeed())

			id := pollNow(tasks.PollNowPayload{RequestIDs: []string{"11", "12", "13", "14", "99", "11"}})

			bs := batches()
			Expect(bs).To(HaveLen(2))
			Expect(idsOf(bs)).To(ConsistOf("11", "12", "13"))
			for _, b := range bs {
				Expect(b.CycleID).To(Equal(polling.AdHocCycleID(id)))
				Expect(len(b.RequestIDs)).To(BeNumerically("<=", 2))
			}
			c := loadCycleRow(ctx, polling.AdHocCycleID(id))
			Expect(c.BatchesEnqueued).To(Equal(2))
			Expect(c.DocumentsDue).To(Equal(3))
			Expect(c.FanOutDoneAt).NotTo(BeNil())
			Expect(testutilBatches(o)).To(Equal(2.0))
		})
	})

	Context("when it names a quarantined upload's request id", func() {
		It("leaves it out", func() {
			seedUpload(ctx, "15", models.DocumentTypeBDDInstructions)
			q := seedUpload(ctx, "16", models.DocumentTypeBDDInstructions)
			_, err := models.QuarantineUploads(ctx, gdb, []models.Quarantine{{UploadID: q.ID, Reason: models.QuarantineRefusedByLighthouse}}, time.Now())
			Expect(err).NotTo(HaveOccurred())

			pollNow(tasks.PollNowPayload{RequestIDs: []string{"15", "16"}})

			Expect(idsOf(batches())).To(ConsistOf("15"))
		})
	})

	Context("when it names a submission", func() {
		It("enqueues every pending upload of that submission and no other", func() {
			sub := seedSubmission(ctx)
			for _, id := range []string{"21", "22", "23"} {
				seedUpload(ctx, id, models.DocumentTypeForm0781, func(u *models.Lighthouse526DocumentUpload) { u.Form526SubmissionID = sub })
			}
			seedUpload(ctx, "24", models.DocumentTypeForm0781)

			pollNow(tasks.PollNowPayload{Form526SubmissionID: sub})

			Expect(idsOf(batches())).To(ConsistOf("21", "22", "23"))
		})

		It("quarantines an upload whose request id no batch may carry, polls the rest, and leaves quarantined ones out", func() {
			sub := seedSubmission(ctx)
			ofSub := func(u *models.Lighthouse526DocumentUpload) { u.Form526SubmissionID = sub }
			seedUpload(ctx, "31", models.DocumentTypeForm0781, ofSub)
			bad := seedUpload(ctx, "3l", models.DocumentTypeForm0781, ofSub)
			seedUpload(ctx, "33", models.DocumentTypeForm0781, ofSub)

			pollNow(tasks.PollNowPayload{Form526SubmissionID: sub})

			Expect(idsOf(batches())).To(ConsistOf("31", "33"))
			reason, _ := quarantineOf(ctx, bad.ID)
			Expect(reason).To(Equal(models.QuarantineInvalidRequestID))
			Expect(o.Quarantined(models.QuarantineInvalidRequestID)).To(Equal(1.0))
		})

		It("enqueues nothing and succeeds when nothing is pending", func() {
			pollNow(tasks.PollNowPayload{Form526SubmissionID: seedSubmission(ctx)})
			Expect(batches()).To(BeEmpty())
			Expect(o.Logs.WithMessage("poll now: nothing pending to poll")).To(HaveLen(1))
		})
	})

	Context("when the task is built", func() {
		It("gives the same poll asked twice within a minute the same id", func() {
			at := time.Date(2026, 3, 2, 10, 15, 10, 0, time.UTC)
			p := tasks.PollNowPayload{RequestIDs: []string{"1", "2"}}
			a, err := tasks.PollNowTaskID(p, at)
			Expect(err).NotTo(HaveOccurred())
			b, err := tasks.PollNowTaskID(p, at.Add(40*time.Second))
			Expect(err).NotTo(HaveOccurred())
			c, err := tasks.PollNowTaskID(p, at.Add(time.Minute))
			Expect(err).NotTo(HaveOccurred())
			Expect(a).To(Equal(b))
			Expect(c).NotTo(Equal(a))

			t, err := tasks.NewPollNowTask(queue, p, at)
			Expect(err).NotTo(HaveOccurred())
			info, err := client.EnqueueContext(ctx, t, asynq.ProcessIn(time.Hour))
			Expect(err).NotTo(HaveOccurred())
			Expect(info.ID).To(Equal(a))
			Expect(info.MaxRetry).To(Equal(5))
			Expect(info.Timeout).To(Equal(2 * time.Minute))
		})
	})

	Context("when a task is rejected", func() {
		DescribeTable("archives it at once, counts it and logs the reason",
			func(payload, reason string) {
				info, err := client.EnqueueContext(ctx, asynq.NewTask(tasks.TypeDocumentUploadPollNow, []byte(payload)), asynq.Queue(queue), asynq.MaxRetry(5))
				Expect(err).NotTo(HaveOccurred())
				expectArchivedUnretried(insp, queue, info.ID)
				Expect(o.Rejected(tasks.TypeDocumentUploadPollNow, reason)).To(Equal(1.0))
				Expect(o.Logs.WithMessage("rejected a task: its payload is malformed or invalid")).To(ContainElement(HaveKeyWithValue("reason", reason)))
				Expect(batches()).To(BeEmpty())
			},
			Entry("malformed JSON", `[1, 2`, "malformed_json"),
			Entry("neither ids nor a submission", `{}`, "invalid"),
			Entry("both ids and a submission", `{"request_ids": ["1"], "form526_submission_id": 3}`, "invalid"),
			Entry("an id that is not a request id", `{"request_ids": ["1", "DROP TABLE"]}`, "invalid"),
			Entry("an id past int64", `{"request_ids": ["1", "99999999999999999999"]}`, "invalid"),
			Entry("more than 5,000 ids", `{"request_ids": [`+manyIDs(5001)+`]}`, "invalid"),
		)
	})
})

func manyIDs(n int) string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf(`"%d"`, i+1)
	}
	return strings.Join(ids, ",")
}

func loadCycleRow(ctx context.Context, id string) models.PollingCycle {
	GinkgoHelper()
	var c models.PollingCycle
	Expect(gdb.WithContext(ctx).Take(&c, "id = ?", id).Error).To(Succeed())
	return c
}
