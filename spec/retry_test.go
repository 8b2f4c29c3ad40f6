package spec_test

import (
	"strconv"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/vagov/lighthouse526/lighthouse/fake"
	"github.com/vagov/lighthouse526/models"
	"github.com/vagov/lighthouse526/vagov/statsd/statsdtest"
)

// A failing batch retries alone: the original retried the whole run, and
// re-polled every batch.
var _ = Describe("A batch that fails twice, then succeeds", func() {
	var (
		w      *world
		worker *workerProc
		ids    []string
		agent  *statsdtest.Listener
	)

	BeforeEach(func(ctx SpecContext) {
		w = newWorld()
		var err error
		agent, err = statsdtest.Listen()
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(agent.Close)
		w.env["STATSD_ADDR"] = agent.Addr()
		w.env["POLL_BATCH_SIZE"] = "2"
		ids = w.inProgressUploads(ctx, 6)
		worker = w.startWorker("--no-scheduler")
		// The first status call of the cycle answers 503.
		w.fake.SetFaults(fake.Faults{Next: []fake.Fault{{Endpoint: "uploads_status", Status: 503}}})
	})

	It("is retried until it succeeds, and the other batches are polled once", func(ctx SpecContext) {
		id := w.enqueueAdHocCycle(ctx)

		By("the first attempt of one batch failing, and the two others succeeding")
		Eventually(func() int { return len(w.statusCalls(200)) }).WithTimeout(30 * time.Second).Should(Equal(2))
		failing := w.statusCalls(503)
		Expect(failing).To(HaveLen(1))

		By("its first retry failing too (the only status call left is that retry)")
		w.fake.SetFaults(fake.Faults{Next: []fake.Fault{{Endpoint: "uploads_status", Status: 503}}})
		Eventually(func() int { return len(w.statusCalls(503)) }).WithTimeout(time.Minute).Should(Equal(2))

		By("its second retry succeeding")
		Eventually(cycleDone(ctx, id)).WithTimeout(2 * time.Minute).WithPolling(time.Second).Should(BeTrue())
		Expect(w.statusCalls(503)).To(Equal([][]string{failing[0], failing[0]}))
		Expect(w.statusCalls(200)).To(HaveLen(3))

		asked := w.timesAsked()
		for _, rid := range ids {
			want := 1
			if rid == failing[0][0] || rid == failing[0][1] {
				want = 3
			}
			Expect(asked).To(HaveKeyWithValue(rid, want))
		}
		for _, u := range loadUploads(ctx) {
			Expect(u.AasmState).To(Equal(models.StatePending))
			Expect(u.StatusLastPolledAt).NotTo(BeNil())
		}
		Expect(worker.metric(metricTasksRetried, map[string]string{"task_type": typeStatusBatch})).To(BeNumerically("==", 2))
		Expect(worker.metric(metricPollingErrors, map[string]string{"reason": "http_503"})).To(BeNumerically("==", 2))
		Expect(worker.metric(metricExhausted, nil)).To(BeZero())

		By("counting the 503s under the worker's own StatsD key, not the original's polling_error (original-system.md, \"Metrics\")")
		requestFailed := func() int {
			n := 0
			for _, line := range agent.LinesWithPrefix("lighthouse526.polling_job.status_request_failed:") {
				v, _, _ := strings.Cut(strings.TrimPrefix(line, "lighthouse526.polling_job.status_request_failed:"), "|")
				i, err := strconv.Atoi(v)
				Expect(err).NotTo(HaveOccurred(), line)
				n += i
			}
			return n
		}
		// Counters leave the worker at its StatsD client's next flush (2 s).
		Eventually(requestFailed).WithTimeout(10 * time.Second).Should(Equal(2))
		Expect(agent.LinesWithPrefix("worker.lighthouse.poll_form526_document_uploads.polling_error")).To(BeEmpty())
		Expect(worker.logsWith(logStatusEndpointError)).To(BeEmpty())
	})
})
