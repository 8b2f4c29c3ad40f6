package spec_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/vagov/lighthouse526/lighthouse/fake"
	"github.com/vagov/lighthouse526/models"
)

// Three replicas run the scheduler on the same queue: asynq's own scheduler
// would enqueue each tick three times; ours derives the task id from the tick.
var _ = Describe("Three worker replicas on one schedule", func() {
	var (
		w        *world
		replicas []*workerProc
		due      []string
	)

	BeforeEach(func(ctx SpecContext) {
		w = newWorld()
		w.env["POLL_BATCH_SIZE"] = "3"
		outcomes := []string{fake.StatusSuccess, fake.StatusFailed, fake.StatusInProgress}
		ups := []upload{}
		due = nil
		for i := range 10 {
			id := w.fake.AddDocument(fake.Document{Outcome: outcomes[i%3]})
			due = append(due, id)
			ups = append(ups, upload{requestID: id})
		}
		seedUploads(ctx, ups...)

		// Start away from a minute boundary, so that the replicas' catch-up
		// ticks are the same tick (one replica starting just after the
		// boundary would catch up the next tick instead: still one cycle per
		// tick, but this spec counts the first cycle's polls).
		Eventually(func() int { return time.Now().Second() }).
			WithTimeout(time.Minute).WithPolling(200 * time.Millisecond).
			Should(BeNumerically("<", 50))
		replicas = nil
		for range 3 {
			replicas = append(replicas, w.startWorker())
		}
	})

	It("runs exactly one cycle per tick and polls each due document exactly once", func(ctx SpecContext) {
		By("waiting for the catch-up cycle and the next tick's cycle")
		var cycles []models.PollingCycle
		Eventually(func(g Gomega) {
			cycles = nil
			g.Expect(gdb.WithContext(ctx).Order("scheduled_at").Find(&cycles).Error).To(Succeed())
			g.Expect(len(cycles)).To(BeNumerically(">=", 2))
			for _, c := range cycles {
				g.Expect(cycleDone(ctx, c.ID)()).To(BeTrue())
			}
		}).WithTimeout(2 * time.Minute).WithPolling(time.Second).Should(Succeed())

		By("checking one cycle row per minute tick, each tick's task processed once across the replicas")
		Eventually(func(g Gomega) {
			var rows []models.PollingCycle
			g.Expect(gdb.WithContext(ctx).Order("scheduled_at").Find(&rows).Error).To(Succeed())
			for i, c := range rows {
				g.Expect(c.ScheduledAt.Truncate(time.Minute)).To(Equal(c.ScheduledAt))
				if i > 0 {
					g.Expect(c.ScheduledAt.Sub(rows[i-1].ScheduledAt)).To(Equal(time.Minute))
				}
			}
			var processed float64
			for _, r := range replicas {
				n, err := r.metric(metricTasksProcessed, map[string]string{"task_type": typePolling})
				g.Expect(err).NotTo(HaveOccurred())
				processed += n
			}
			g.Expect(processed).To(BeNumerically("==", len(rows)))
		}).WithTimeout(30 * time.Second).Should(Succeed())

		By("checking every due request id was asked in exactly one status call")
		Expect(w.statusCalls(200)).To(HaveLen(4))
		asked := w.timesAsked()
		Expect(asked).To(HaveLen(len(due)))
		for _, id := range due {
			Expect(asked).To(HaveKeyWithValue(id, 1))
		}
		first := loadCycle(ctx, cycles[0].ID)
		Expect(first.DocumentsDue).To(Equal(10))
		Expect(first.BatchesEnqueued).To(Equal(4))
		Expect(loadCycle(ctx, cycles[1].ID).DocumentsDue).To(BeZero())
	})
})
