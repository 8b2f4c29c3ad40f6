package tasks_test

import (
	"context"
	"time"

	"github.com/hibiken/asynq"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/vagov/lighthouse526/lighthouse/fake"
	"github.com/vagov/lighthouse526/models"
	"github.com/vagov/lighthouse526/polling"
	"github.com/vagov/lighthouse526/runner"
	"github.com/vagov/lighthouse526/tasks"
)

// Every line a task causes carries its task id and type, also the lines the
// polling domain writes: the handler hands polling the task's logger, which
// the server's middleware made.
var _ = Describe("A batch task's logs", func() {
	It("carry task_id and task_type on the status updater's lines", func(ctx SpecContext) {
		o := newObserved()
		lh := startLighthouse(fake.Options{})
		insp, client := newInspector(), newAsynqClient()
		queue := newQueue(insp)
		startServer(o, queue, map[string]asynq.Handler{tasks.TypeStatusBatch: &tasks.StatusBatchHandler{
			Lighthouse: lh.Client, Updater: newUpdater(o), Metrics: o.Metrics, Logger: o.Logger,
		}})
		id := lh.Fake.AddDocument(fake.Document{Outcome: fake.StatusSuccess, Started: time.UnixMilli(1718902851802), Ended: time.UnixMilli(1720793267285)})
		up := seedUpload(context.Background(), id, models.DocumentTypeVeteranUpload)

		t, err := tasks.NewStatusBatchTask(queue, "adhoc:task-logs", 0, []string{id})
		Expect(err).NotTo(HaveOccurred())
		info, err := client.EnqueueContext(ctx, t)
		Expect(err).NotTo(HaveOccurred())
		Eventually(func() string { return reloadUpload(context.Background(), up.ID).AasmState }).
			WithTimeout(30 * time.Second).Should(Equal(models.StateCompleted))

		Eventually(func() []map[string]any { return o.Logs.WithMessage(polling.LogStatusUpdated) }).
			Should(ContainElement(SatisfyAll(
				HaveKeyWithValue("task_id", info.ID),
				HaveKeyWithValue("task_type", tasks.TypeStatusBatch),
			)))
	})
})

// asynq's own lines go through runner.AsynqLogger into the process's
// handler: in vets-api's envelope, named asynq, its Fatal at fatal.
var _ = Describe("asynq's logger", func() {
	It("writes asynq's lines in the worker's envelope, named asynq", func() {
		o := newObserved()
		l := runner.AsynqLogger(o.Logger)

		l.Warn("lease expired for task ", "t-1")
		l.Fatal("cannot continue")

		Expect(o.Logs.Entries()).To(HaveExactElements(
			SatisfyAll(HaveKeyWithValue("name", "asynq"), HaveKeyWithValue("level", "warn"), HaveKeyWithValue("message", "lease expired for task t-1"), Not(HaveKey("component"))),
			SatisfyAll(HaveKeyWithValue("name", "asynq"), HaveKeyWithValue("level", "fatal"), HaveKeyWithValue("level_index", 5.0), HaveKeyWithValue("message", "cannot continue")),
		))
	})
})
