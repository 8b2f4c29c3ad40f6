package spec_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/vagov/lighthouse526/lighthouse/fake"
)

// The original's pending_documents_* gauges: documents due at a cycle's
// start, and what the previous cycle completed and failed.
var _ = Describe("The cycle gauges", func() {
	var (
		w      *world
		worker *workerProc
		tick   time.Time
	)

	BeforeEach(func(ctx SpecContext) {
		w = newWorld()
		worker = w.startWorker("--no-scheduler")
		tick = time.Now().UTC().Truncate(time.Minute).Add(-10 * time.Minute)

		ups := []upload{}
		for _, d := range []fake.Document{
			{Outcome: fake.StatusSuccess},
			{Outcome: fake.StatusSuccess},
			{Outcome: fake.StatusFailed, FailedStep: fake.StepBGS},
			{Outcome: fake.StatusInProgress},
		} {
			ups = append(ups, upload{requestID: w.fake.AddDocument(d)})
		}
		seedUploads(ctx, ups...)
	})

	Context("when a cron cycle polls documents with several outcomes", func() {
		It("sets documents due from its fan-out", func(ctx SpecContext) {
			id := w.enqueueCronCycle(ctx, tick)
			Eventually(cycleDone(ctx, id)).WithTimeout(time.Minute).Should(BeTrue())
			Eventually(worker.metricFunc(metricDocumentsDue, nil)).Should(BeNumerically("==", 4))
			c := loadCycle(ctx, id)
			Expect(c.CompletedCount).To(Equal(2))
			Expect(c.FailedCount).To(Equal(1))
		})
	})

	Context("when the next cron cycle starts", func() {
		BeforeEach(func(ctx SpecContext) {
			id := w.enqueueCronCycle(ctx, tick)
			Eventually(cycleDone(ctx, id)).WithTimeout(time.Minute).Should(BeTrue())
		})

		It("reports the previous cycle's completed and failed counts, and nothing due", func(ctx SpecContext) {
			id := w.enqueueCronCycle(ctx, tick.Add(time.Minute))
			Eventually(cycleDone(ctx, id)).WithTimeout(time.Minute).Should(BeTrue())
			Eventually(worker.metricFunc(metricPrevCompleted, nil)).Should(BeNumerically("==", 2))
			Eventually(worker.metricFunc(metricPrevFailed, nil)).Should(BeNumerically("==", 1))
			Eventually(worker.metricFunc(metricDocumentsDue, nil)).Should(BeNumerically("==", 0))
			Expect(loadCycle(ctx, id).Skipped).To(BeFalse())
		})
	})
})
