package spec_test

import (
	"syscall"
	"time"

	"github.com/hibiken/asynq"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"

	"github.com/vagov/lighthouse526/lighthouse/fake"
	"github.com/vagov/lighthouse526/tasks"
)

// A task whose worker dies mid-task is archived by asynq's recoverer on
// another server, which bypasses the error handler; the archive sweeper must
// still count its exhaustion, once.
var _ = Describe("A batch archived by asynq's recoverer after its worker was killed", func() {
	var (
		w      *world
		taskID string
	)

	BeforeEach(func(ctx SpecContext) {
		w = newWorld()
		ids := w.inProgressUploads(ctx, 2)
		// Every API call hangs, so the batch is in flight when the worker dies.
		w.fake.SetFaults(fake.Faults{SlowRate: 1, SlowDelay: 10 * time.Minute})

		task, err := tasks.NewStatusBatchTask(w.queue, "spec:recoverer", 0, ids)
		Expect(err).NotTo(HaveOccurred())
		// No retry left: the recoverer archives a lease-expired task only
		// when it has used its retries.
		info, err := w.client.EnqueueContext(ctx, task, asynq.MaxRetry(0))
		Expect(err).NotTo(HaveOccurred())
		taskID = info.ID
	})

	It("counts its exhaustion once, on the worker that finds it archived", func(ctx SpecContext) {
		first := w.startWorker("--no-scheduler")
		Eventually(func() ([]*asynq.TaskInfo, error) { return w.inspector.ListActiveTasks(w.queue) }).
			WithTimeout(30 * time.Second).Should(ConsistOf(HaveField("ID", taskID)))

		By("killing the worker mid-task and starting another")
		first.signal(syscall.SIGKILL)
		Eventually(first.session).WithTimeout(10 * time.Second).Should(gexec.Exit())
		w.fake.SetFaults(fake.Faults{})
		second := w.startWorker("--no-scheduler")

		By("waiting for the recoverer (every minute, 30s lease cutoff) and the sweeper (every minute)")
		exhausted := second.metricFunc(metricExhausted, map[string]string{"task_type": typeStatusBatch})
		Eventually(exhausted).WithTimeout(4 * time.Minute).WithPolling(2 * time.Second).Should(BeNumerically("==", 1))
		Expect(w.inspector.ListArchivedTasks(w.queue)).To(ConsistOf(SatisfyAll(
			HaveField("ID", taskID),
			HaveField("LastErr", asynq.ErrLeaseExpired.Error()),
		)))
		Expect(second.logsWith(logRetriesExhausted)).To(ConsistOf(havePayload(
			HaveKeyWithValue("job_id", taskID),
			HaveKeyWithValue("error_class", "asynq.ErrLeaseExpired"),
		)))
		Consistently(exhausted).WithTimeout(5 * time.Second).WithPolling(time.Second).Should(BeNumerically("==", 1))
	})
})
