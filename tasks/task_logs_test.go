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
			Poller: &polling.BatchPoller{Lighthouse: lh.Client, Updater: newUpdater(o)}, Metrics: o.Types, Logger: o.Logger,
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
