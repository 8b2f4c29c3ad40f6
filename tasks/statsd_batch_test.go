package tasks_test

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/vagov/lighthouse526/lighthouse"
	"github.com/vagov/lighthouse526/lighthouse/fake"
	"github.com/vagov/lighthouse526/models"
	"github.com/vagov/lighthouse526/polling"
	"github.com/vagov/lighthouse526/tasks"
	"github.com/vagov/lighthouse526/vagov/statsd/statsdtest"
)

// The per-document counters and polling_error of one batch, sent to a UDP
// socket standing in for the Datadog agent.
var _ = Describe("StatsD metrics of a batch", func() {
	var (
		ctx     context.Context
		o       *observed
		agent   *statsdtest.Listener
		lh      *lighthouseEnv
		handler *tasks.StatusBatchHandler
		lines   func() []string
	)

	BeforeEach(func() {
		ctx = context.Background()
		o = newObserved()
		agent = listenStatsD()
		sendStatsDTo(o, agent)
		lines = flushedLines(o, agent)
		lh = startLighthouse(fake.Options{})
		handler = &tasks.StatusBatchHandler{Poller: &polling.BatchPoller{Lighthouse: lh.Client, Updater: newUpdater(o)}, Metrics: o.Types, Logger: o.Logger}
	})

	process := func(ids ...string) error {
		GinkgoHelper()
		t, err := tasks.NewStatusBatchTask("tasks-test", "adhoc:spec", 0, ids)
		Expect(err).NotTo(HaveOccurred())
		return handler.ProcessTask(ctx, t)
	}

	Context("when documents complete, fail and stay in progress", func() {
		var ids []string

		BeforeEach(func() {
			for _, d := range []struct {
				doc     fake.Document
				docType string
			}{
				{fake.Document{Outcome: fake.StatusSuccess}, models.DocumentTypeVeteranUpload},
				{fake.Document{Outcome: fake.StatusSuccess}, models.DocumentTypeVeteranUpload},
				{fake.Document{Outcome: fake.StatusSuccess}, models.DocumentTypeForm0781a},
				{fake.Document{Outcome: fake.StatusFailed, FailedStep: fake.StepClaimsEvidence}, models.DocumentTypeForm0781},
				{fake.Document{Outcome: fake.StatusFailed, FailedStep: fake.StepBGS}, models.DocumentTypeVeteranUpload},
				// In progress for 25 hours: past the processing timeout.
				{fake.Document{Outcome: fake.StatusInProgress, Started: testNow.Add(-25 * time.Hour)}, models.DocumentTypeBDDInstructions},
				// In progress for an hour: not.
				{fake.Document{Outcome: fake.StatusInProgress, Started: testNow.Add(-time.Hour)}, models.DocumentTypeForm0781},
			} {
				id := lh.Fake.AddDocument(d.doc)
				seedUpload(ctx, id, d.docType)
				ids = append(ids, id)
			}
		})

		It("counts each document under its own type, summed per key", func() {
			Expect(process(ids...)).To(Succeed())

			Eventually(lines).Should(ConsistOf(
				sdDoc+"veteran_upload.complete:2|c"+sdTags,
				sdDoc+"form_0781a.complete:1|c"+sdTags,
				sdDoc+"form_0781.failed.claims_evidence:1|c"+sdTags,
				sdDoc+"veteran_upload.failed.benefits_gateway_service:1|c"+sdTags,
				sdDoc+"bdd_instructions.processing_timeout:1|c"+sdTags,
			))
		})

		It("counts a transition once, and the processing timeout on every poll while true", func() {
			Expect(process(ids...)).To(Succeed())
			Eventually(lines).Should(HaveLen(5))

			Expect(process(ids...)).To(Succeed())

			Eventually(lines).Should(HaveLen(6))
			Expect(lines()[5]).To(Equal(sdDoc + "bdd_instructions.processing_timeout:1|c" + sdTags))
		})
	})

	Context("when Lighthouse does not know some of the ids (200 with requestIdsNotFound)", func() {
		It("counts the known document, then one polling error for the answer", func() {
			knownID := lh.Fake.AddDocument(fake.Document{Outcome: fake.StatusSuccess})
			seedUpload(ctx, knownID, models.DocumentTypeBDDInstructions)
			seedUpload(ctx, "4242", models.DocumentTypeForm0781a)
			seedUpload(ctx, "4243", models.DocumentTypeVeteranUpload)

			Expect(process(knownID, "4242", "4243")).To(Succeed())

			Eventually(lines).Should(ConsistOf(
				sdDoc+"bdd_instructions.complete:1|c"+sdTags,
				sdJob+"polling_error:1|c"+sdTags,
			))
		})
	})

	Context("when Lighthouse knows none of the ids (404)", func() {
		It("counts one polling error for the answer, not one per id", func() {
			seedUpload(ctx, "4242", models.DocumentTypeVeteranUpload)
			seedUpload(ctx, "4243", models.DocumentTypeForm0781)

			Expect(process("4242", "4243")).To(Succeed())

			Expect(lh.Fake.Requests()).To(ContainElement(HaveField("StatusCode", 404)))
			Eventually(lines).Should(ConsistOf(sdJob + "polling_error:1|c" + sdTags))
		})
	})

	// The original counted a polling error only where its client did not
	// raise (original-system.md, "The polling job" and "Metrics"): a 5xx, a
	// timeout or a token failure failed its run uncounted. The worker counts
	// those under a key of its own and logs them with its own message.
	Context("when the status call fails where the original's client raised", func() {
		var id string

		BeforeEach(func() {
			// A client that gives up on a call after 300 ms.
			lh = startLighthouse(fake.Options{}, func(c *lighthouse.Config) { c.Timeout = 300 * time.Millisecond })
			handler.Poller.Lighthouse = lh.Client
			id = lh.Fake.AddDocument(fake.Document{Outcome: fake.StatusSuccess})
			seedUpload(ctx, id, models.DocumentTypeVeteranUpload)
		})

		expectNoPollingError := func(reason string) {
			GinkgoHelper()
			Eventually(lines).Should(ConsistOf(sdRequestFailed + ":1|c" + sdTags))
			Consistently(lines).WithTimeout(300 * time.Millisecond).ShouldNot(ContainElement(HavePrefix(sdJob + "polling_error")))
			Expect(o.PollingErrors(reason)).To(Equal(1.0))
			Expect(o.Logs.WithMessage(msgStatusEndpointError)).To(BeEmpty())
			Expect(o.Logs.WithMessage(msgStatusRequestFailed)).To(ConsistOf(SatisfyAll(
				HaveKeyWithValue("reason", reason),
				HaveKeyWithValue("lighthouse_document_request_ids", ConsistOf(id)),
			)))
		}

		It("counts no polling_error for a 503", func() {
			lh.Fake.SetFaults(fake.Faults{Next: []fake.Fault{{Endpoint: "uploads_status", Status: 503, Shape: fake.ShapeGateway}}})

			Expect(process(id)).NotTo(Succeed())

			expectNoPollingError("http_503")
		})

		It("counts no polling_error for a timeout", func() {
			lh.Fake.SetFaults(fake.Faults{Next: []fake.Fault{{Endpoint: "uploads_status", Status: 500, Delay: 2 * time.Second}}})

			Expect(process(id)).NotTo(Succeed())

			expectNoPollingError("timeout")
		})

		It("counts no polling_error for a token failure", func() {
			lh.Fake.SetFaults(fake.Faults{TokenFailure: true})

			Expect(process(id)).NotTo(Succeed())

			expectNoPollingError("token")
		})
	})

	Context("when the status call is refused with a 4xx (the original's client did not raise)", func() {
		It("counts one polling error per refused call, with the original's log line", func() {
			id := lh.Fake.AddDocument(fake.Document{Outcome: fake.StatusSuccess})
			seedUpload(ctx, id, models.DocumentTypeVeteranUpload)
			lh.Fake.SetFaults(fake.Faults{Next: []fake.Fault{
				{Endpoint: "uploads_status", Status: 400},
				{Endpoint: "uploads_status", Status: 403, Shape: fake.ShapeGateway},
			}})

			Expect(process(id)).NotTo(Succeed())
			Expect(process(id)).NotTo(Succeed())

			Eventually(lines).Should(ConsistOf(sdJob + "polling_error:2|c" + sdTags))
			Expect(o.Logs.WithMessage(msgStatusEndpointError)).To(HaveLen(2))
			Expect(o.Logs.WithMessage(msgStatusRequestFailed)).To(BeEmpty())
		})
	})

	Context("when StatsD is off", func() {
		It("polls as before and sends nothing", func() {
			o.Metrics.StatsD = nil
			id := lh.Fake.AddDocument(fake.Document{Outcome: fake.StatusSuccess})
			seedUpload(ctx, id, models.DocumentTypeVeteranUpload)

			Expect(process(id, "4242")).To(Succeed())

			Expect(o.DocumentStatus("veteran_upload", "complete", "")).To(Equal(1.0))
			Consistently(agent.Lines).WithTimeout(300 * time.Millisecond).Should(BeEmpty())
		})
	})
})
