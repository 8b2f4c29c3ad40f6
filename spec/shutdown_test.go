package spec_test

import (
	"syscall"
	"time"

	"github.com/hibiken/asynq"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"

	"github.com/vagov/lighthouse526/lighthouse/fake"
	"github.com/vagov/lighthouse526/models"
)

// SIGTERM lands while the batches wait on Lighthouse: asynq gives them
// SHUTDOWN_TIMEOUT, then puts them back in the queue, and the next worker
// polls them. No document is lost.
var _ = Describe("A worker stopped by SIGTERM during a cycle", func() {
	var (
		w         *world
		succeeded string
		failed    string
	)

	BeforeEach(func(ctx SpecContext) {
		w = newWorld()
		w.env["POLL_BATCH_SIZE"] = "2"
		w.env["SHUTDOWN_TIMEOUT"] = "1s"
		succeeded = w.fake.AddDocument(fake.Document{Outcome: fake.StatusSuccess})
		failed = w.fake.AddDocument(fake.Document{Outcome: fake.StatusFailed, FailedStep: fake.StepBGS})
		seedUploads(ctx, upload{requestID: succeeded}, upload{requestID: failed})
		w.inProgressUploads(ctx, 4)
		w.fake.SetFaults(fake.Faults{SlowRate: 1, SlowDelay: 5 * time.Minute})
	})

	It("loses no document: every due one is polled by the end of the next cycle", func(ctx SpecContext) {
		first := w.startWorker("--no-scheduler")
		w.enqueueAdHocCycle(ctx)
		Eventually(func() (int, error) {
			active, err := w.inspector.ListActiveTasks(w.queue)
			n := 0
			for _, t := range active {
				if t.Type == typeStatusBatch {
					n++
				}
			}
			return n, err
		}).WithTimeout(30*time.Second).Should(Equal(3), "the three batches should be waiting on Lighthouse")

		By("stopping the worker with SIGTERM while the batches are in flight")
		first.signal(syscall.SIGTERM)
		Eventually(first.session).WithTimeout(20 * time.Second).Should(gexec.Exit(0))
		Expect(w.inspector.ListActiveTasks(w.queue)).To(BeEmpty())
		Expect(w.inspector.ListPendingTasks(w.queue)).To(HaveLen(3))
		Expect(loadUploads(ctx)).To(HaveEach(HaveField("StatusLastPolledAt", BeNil())))

		By("restarting and running the next cycle")
		w.fake.SetFaults(fake.Faults{})
		w.startWorker("--no-scheduler")
		next := w.enqueueAdHocCycle(ctx)
		Eventually(cycleDone(ctx, next)).WithTimeout(time.Minute).Should(BeTrue())
		Eventually(allPolled(ctx)).WithTimeout(time.Minute).Should(BeTrue())
		Eventually(func() ([]*asynq.TaskInfo, error) { return w.inspector.ListPendingTasks(w.queue) }).Should(BeEmpty())

		states := map[string]string{}
		for _, u := range loadUploads(ctx) {
			states[u.LighthouseDocumentRequestID] = u.AasmState
		}
		Expect(states).To(HaveLen(6))
		for id, state := range states {
			switch id {
			case succeeded:
				Expect(state).To(Equal(models.StateCompleted))
			case failed:
				Expect(state).To(Equal(models.StateFailed))
			default:
				Expect(state).To(Equal(models.StatePending))
			}
		}
	})
})
