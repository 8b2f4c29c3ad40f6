package spec_test

import (
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"

	"github.com/vagov/lighthouse526/lighthouse/fake"
	"github.com/vagov/lighthouse526/models"
	"github.com/vagov/lighthouse526/vagov/statsd/statsdtest"
)

// The original's StatsD keys from real worker processes to a UDP socket
// standing in for the Datadog agent.
var _ = Describe("StatsD from worker processes", func() {
	const (
		doc       = "api.form526.lighthouse_document_upload_processing_status."
		job       = "worker.lighthouse.poll_form526_document_uploads."
		tags      = "|#env:spec,service:lighthouse526"
		gaugeKeys = job + "pending_documents_"
	)
	var (
		w     *world
		agent *statsdtest.Listener
	)

	BeforeEach(func(ctx SpecContext) {
		w = newWorld()
		var err error
		agent, err = statsdtest.Listen()
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(agent.Close)
		w.env["STATSD_ADDR"] = agent.Addr()
		w.env["STATSD_TAGS"] = "env:spec,service:lighthouse526"
		w.env["POLL_BATCH_SIZE"] = "2"

		// Eight due uploads, four batches of two; the last batch has one
		// id Lighthouse does not know (a 200 with requestIdsNotFound).
		ups := []upload{}
		for _, d := range []struct {
			doc     fake.Document
			docType string
		}{
			{fake.Document{Outcome: fake.StatusSuccess}, models.DocumentTypeBDDInstructions},
			{fake.Document{Outcome: fake.StatusSuccess}, models.DocumentTypeForm0781},
			{fake.Document{Outcome: fake.StatusFailed, FailedStep: fake.StepClaimsEvidence}, models.DocumentTypeForm0781a},
			{fake.Document{Outcome: fake.StatusSuccess}, models.DocumentTypeBDDInstructions},
			{fake.Document{Outcome: fake.StatusInProgress}, models.DocumentTypeBDDInstructions},
			{fake.Document{Outcome: fake.StatusFailed, FailedStep: fake.StepBGS}, models.DocumentTypeBDDInstructions},
			{fake.Document{Outcome: fake.StatusSuccess}, models.DocumentTypeForm0781},
		} {
			ups = append(ups, upload{requestID: w.fake.AddDocument(d.doc), documentType: d.docType})
		}
		ups = append(ups, upload{requestID: "987654", documentType: models.DocumentTypeForm0781})
		seedUploads(ctx, ups...)
	})

	// counters sums the counter lines per key, checking each line's form.
	counters := func() map[string]int {
		sums := map[string]int{}
		for _, line := range agent.Lines() {
			if strings.HasPrefix(line, gaugeKeys) {
				continue
			}
			key, rest, ok := strings.Cut(line, ":")
			Expect(ok).To(BeTrue(), line)
			value, ok := strings.CutSuffix(rest, "|c"+tags)
			Expect(ok).To(BeTrue(), line)
			n, err := strconv.Atoi(value)
			Expect(err).NotTo(HaveOccurred(), line)
			sums[key] += n
		}
		return sums
	}
	wantCounters := map[string]int{
		doc + "bdd_instructions.complete":                        2,
		doc + "form_0781.complete":                               2,
		doc + "form_0781a.failed.claims_evidence":                1,
		doc + "bdd_instructions.failed.benefits_gateway_service": 1,
		job + "polling_error":                                    1,
	}
	wantGauges := []string{
		gaugeKeys + "polled:8|g" + tags,
		gaugeKeys + "marked_completed:4|g" + tags,
		gaugeKeys + "marked_failed:2|g" + tags,
	}

	Context("when two replicas run a cron cycle's batches", func() {
		It("sends each document's counter once and the cycle's gauges once", func(ctx SpecContext) {
			a, b := w.startWorker("--no-scheduler"), w.startWorker("--no-scheduler")
			id := w.enqueueCronCycle(ctx, time.Now().UTC().Truncate(time.Minute).Add(-10*time.Minute))
			Eventually(cycleDone(ctx, id)).WithTimeout(time.Minute).Should(BeTrue())

			for _, p := range []*workerProc{a, b} {
				p.signal(syscall.SIGTERM)
				Eventually(p.session).WithTimeout(20 * time.Second).Should(gexec.Exit(0))
			}
			Eventually(counters).Should(Equal(wantCounters))
			Eventually(func() []string { return agent.LinesWithPrefix(gaugeKeys) }).Should(ConsistOf(wantGauges))
		})
	})

	Context("when `worker poll --now` polls every batch inline and exits", func() {
		It("sends the gauges from its fan-out, and every line before it exits", func() {
			session := w.start([]string{"poll", "--now", "--json"})
			Eventually(session).WithTimeout(time.Minute).Should(gexec.Exit(0))

			Eventually(counters).Should(Equal(wantCounters))
			Eventually(func() []string { return agent.LinesWithPrefix(gaugeKeys) }).Should(ConsistOf(wantGauges))
		})
	})
})

// What `worker run` says, and does, about STATSD_ADDR at start.
var _ = Describe("StatsD settings at start", func() {
	var w *world

	BeforeEach(func(ctx SpecContext) {
		w = newWorld()
		seedUploads(ctx, upload{requestID: w.fake.AddDocument(fake.Document{Outcome: fake.StatusSuccess}), documentType: models.DocumentTypeForm0781})
	})

	// linesSaying counts the log lines of a session's stderr holding msg.
	linesSaying := func(s *gexec.Session, msg string) int {
		return strings.Count(string(s.Err.Contents()), msg)
	}
	const (
		unset      = `"message":"STATSD_ADDR is not set: none of the original's StatsD metrics are sent`
		unresolved = `"message":"StatsD address does not resolve: retrying in the background`
	)

	Context("when STATSD_ADDR names a host that does not resolve", func() {
		It("polls all the same, having said it once and counted each attempt", func(ctx SpecContext) {
			// .invalid never resolves (RFC 6761); `worker config` accepts it.
			w.env["STATSD_ADDR"] = "datadog-agent.invalid:8125"
			p := w.startWorker("--no-scheduler")
			id := w.enqueueCronCycle(ctx, time.Now().UTC().Truncate(time.Minute).Add(-10*time.Minute))
			Eventually(cycleDone(ctx, id)).WithTimeout(time.Minute).Should(BeTrue())
			Expect(loadCycle(ctx, id).CompletedCount).To(Equal(1))

			Expect(linesSaying(p.session, unresolved)).To(Equal(1))
			Expect(p.metric("form526_worker_statsd_resolve_failures_total", nil)).To(BeNumerically(">=", 1))
			Expect(p.get("/readyz")).To(Equal(http.StatusOK))
		})
	})

	Context("when STATSD_ADDR is unset", func() {
		It("says once that no StatsD is sent", func() {
			p := w.startWorker("--no-scheduler")
			Eventually(func() int { return linesSaying(p.session, unset) }).Should(Equal(1))
			p.signal(syscall.SIGTERM)
			Eventually(p.session).WithTimeout(20 * time.Second).Should(gexec.Exit(0))
			Expect(linesSaying(p.session, unset)).To(Equal(1))
		})
	})

	Context("when STATSD_ADDR=none", func() {
		It("sends none and says nothing of it", func() {
			w.env["STATSD_ADDR"] = "none"
			p := w.startWorker("--no-scheduler")
			p.signal(syscall.SIGTERM)
			Eventually(p.session).WithTimeout(20 * time.Second).Should(gexec.Exit(0))
			Expect(p.session.Err.Contents()).To(ContainSubstring(`"message":"worker started"`))
			Expect(linesSaying(p.session, "STATSD_ADDR")).To(BeZero())
			Expect(linesSaying(p.session, "StatsD")).To(BeZero())
		})
	})
})
