package spec_test

import (
	"fmt"
	"net/http"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	"github.com/onsi/gomega/gexec"

	"github.com/vagov/lighthouse526/db"
	"github.com/vagov/lighthouse526/db/dbtest"
)

// What operators and the platform see of `worker run`.
var _ = Describe("worker run's operations endpoints", func() {
	var w *world

	BeforeEach(func() {
		w = newWorld()
	})

	Context("when Postgres and Redis answer", func() {
		var worker *workerProc

		BeforeEach(func(ctx SpecContext) {
			worker = w.startWorker("--no-scheduler")
			// A cycle makes the queue known to asynq's queue collector.
			w.pollWait()
		})

		It("serves /healthz and /readyz with 200", func() {
			Expect(worker.get("/healthz")).To(Equal(http.StatusOK))
			Expect(worker.get("/readyz")).To(Equal(http.StatusOK))
		})

		It("serves Go, process, asynq queue and form526 metrics on /metrics", func() {
			mfs, err := worker.families()
			Expect(err).NotTo(HaveOccurred())
			Expect(mfs).To(HaveKey("go_goroutines"))
			Expect(mfs).To(HaveKey("process_cpu_seconds_total"))
			Expect(mfs).To(HaveKey(metricDocumentsDue))
			Expect(mfs).To(HaveKey(metricPrevCompleted))
			Expect(mfs).To(HaveKey(metricTasksProcessed))
			Expect(mfs).To(HaveKey("asynq_queue_size"))
			Expect(mfs["asynq_queue_size"].GetMetric()).To(ContainElement(
				HaveField("Label", ContainElement(SatisfyAll(
					HaveField("Name", HaveValue(Equal("queue"))),
					HaveField("Value", HaveValue(Equal(w.queue))),
				))),
			))
		})
	})

	Context("when its database is dropped under it", func() {
		var worker *workerProc

		BeforeEach(func(ctx SpecContext) {
			own, url, err := dbtest.MigratedDatabase(ctx, fmt.Sprintf("spec_%d_dropped", GinkgoParallelProcess()))
			Expect(err).NotTo(HaveOccurred())
			Expect(db.Close(own)).To(Succeed())
			DeferCleanup(dbtest.DropDatabase, url)
			w.env["DATABASE_URL"] = url
			worker = w.startWorker("--no-scheduler")
			Expect(worker.get("/readyz")).To(Equal(http.StatusOK))
			Expect(dbtest.DropDatabase(ctx, url)).To(Succeed())
		})

		It("answers /readyz with 503 naming Postgres, and /healthz still 200", func() {
			Eventually(func(g Gomega) {
				code, body, err := worker.fetch("/readyz")
				g.Expect(err).NotTo(HaveOccurred())
				g.Expect(code).To(Equal(http.StatusServiceUnavailable))
				g.Expect(body).To(ContainSubstring("postgres: unreachable"))
			}).WithTimeout(10 * time.Second).Should(Succeed())
			Expect(worker.get("/healthz")).To(Equal(http.StatusOK))
		})
	})

	Context("when the configuration is invalid", func() {
		It("exits 2 naming every offending variable", func() {
			session := w.start([]string{"run"}, "DATABASE_URL=nonsense", "POLL_BATCH_SIZE=-1")
			Eventually(session).WithTimeout(10 * time.Second).Should(gexec.Exit(2))
			Expect(session.Err).To(gbytes.Say("DATABASE_URL"))
			Expect(session.Err.Contents()).To(ContainSubstring("POLL_BATCH_SIZE"))
			Expect(session.Err.Contents()).NotTo(ContainSubstring("nonsense"))
		})
	})
})

// `make demo` runs `worker demo-seed --reset` first; on a fresh Redis its
// queues do not exist yet.
var _ = Describe("worker demo-seed --reset", func() {
	It("starts on a Redis that has never seen the demo's queues, then resets them on the next run", func() {
		w := newWorld()
		w.queue += "_demo" // the spec's own queue, still cleaned up by the world
		w.env["QUEUE_NAME"] = w.queue
		w.env["NOTIFICATION_QUEUE"] = w.queue + "_notifications"
		Expect(w.inspector.Queues()).NotTo(ContainElement(w.queue))

		first := w.start([]string{"demo-seed", "--reset", "--count", "2", "--per-submission", "1"})
		Eventually(first).WithTimeout(60 * time.Second).Should(gexec.Exit(0))
		Expect(first.Out).To(gbytes.Say("uploaded 2 documents to Lighthouse and enqueued 2 "))
		Expect(w.inspector.Queues()).To(ContainElement(w.queue))

		second := w.start([]string{"demo-seed", "--reset", "--count", "2", "--per-submission", "1"})
		Eventually(second).WithTimeout(60 * time.Second).Should(gexec.Exit(0))
		Expect(second.Out).To(gbytes.Say("enqueued 2 "), "the first run's task ids were reset, so the same tasks enqueue again")
	})
})
