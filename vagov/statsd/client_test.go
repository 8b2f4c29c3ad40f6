package statsd_test

import (
	"log/slog"
	"net"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vagov/lighthouse526/config"
	"github.com/vagov/lighthouse526/vagov/statsd"
	"github.com/vagov/lighthouse526/vagov/statsd/statsdtest"
)

const (
	docPrefix = "api.form526.lighthouse_document_upload_processing_status."
	jobPrefix = "worker.lighthouse.poll_form526_document_uploads."
	tags      = "|#env:test,service:lighthouse526"
)

var _ = Describe("Client", func() {
	var (
		agent  *statsdtest.Listener
		client *statsd.Client
	)

	BeforeEach(func() {
		var err error
		agent, err = statsdtest.Listen()
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(agent.Close)
		client, err = statsd.New(statsd.Config{Addr: agent.Addr(), Tags: []string{"env:test", "service:lighthouse526"}})
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(client.Close)
	})

	Context("when every key family is sent", func() {
		It("sends the original's exact keys, summed per key, with the constant tags", func() {
			client.DocumentCompleted("veteran_upload")
			client.DocumentCompleted("veteran_upload")
			client.DocumentCompleted("form_0781a")
			client.DocumentFailed("form_0781", "CLAIMS_EVIDENCE")
			client.DocumentFailed("bdd_instructions", "benefits_gateway_service")
			client.DocumentProcessingTimeout("veteran_upload")
			client.PollingError()
			client.PollingError()
			client.StatusRequestFailed()
			client.Exhausted()
			client.CycleStarted(1200)
			client.CycleFinished(1000, 37)
			Expect(client.Flush()).To(Succeed())

			Eventually(agent.Lines).Should(ConsistOf(
				docPrefix+"veteran_upload.complete:2|c"+tags,
				docPrefix+"form_0781a.complete:1|c"+tags,
				docPrefix+"form_0781.failed.claims_evidence:1|c"+tags,
				docPrefix+"bdd_instructions.failed.benefits_gateway_service:1|c"+tags,
				docPrefix+"veteran_upload.processing_timeout:1|c"+tags,
				jobPrefix+"polling_error:2|c"+tags,
				"lighthouse526.polling_job.status_request_failed:1|c"+tags,
				jobPrefix+"exhausted:1|c"+tags,
				jobPrefix+"pending_documents_polled:1200|g"+tags,
				jobPrefix+"pending_documents_marked_completed:1000|g"+tags,
				jobPrefix+"pending_documents_marked_failed:37|g"+tags,
			))
		})
	})

	Context("when a cycle starts", func() {
		It("sends pending_documents_polled at once, without waiting for the aggregation flush", func() {
			client.PollingError()
			client.CycleStarted(42)

			// No Flush: CycleStarted sends what is summed so far itself.
			Eventually(agent.Lines).WithTimeout(statsd.AggregationInterval / 2).Should(ContainElement(jobPrefix + "pending_documents_polled:42|g" + tags))
		})
	})

	Context("when it is closed right after the last increments", func() {
		It("sends them before closing (shutdown loses nothing)", func() {
			client.DocumentCompleted("form_0781")
			client.PollingError()
			Expect(client.Close()).To(Succeed())

			Eventually(agent.Lines).Should(ConsistOf(
				docPrefix+"form_0781.complete:1|c"+tags,
				jobPrefix+"polling_error:1|c"+tags,
			))
		})
	})

	Context("when a failed step is spelled oddly", func() {
		It("keeps the key one well-formed line: lower-cased, anything else an underscore", func() {
			client.DocumentFailed("veteran_upload", "Bad|step:x.y#z\n")
			client.DocumentFailed("veteran_upload", "")
			Expect(client.Flush()).To(Succeed())

			Eventually(agent.Lines).Should(ConsistOf(
				docPrefix+"veteran_upload.failed.bad_step_x_y_z_:1|c"+tags,
				docPrefix+"veteran_upload.failed.unknown:1|c"+tags,
			))
		})
	})

	Context("when the agent is not listening", func() {
		It("counts the packets it could not send, and logs it", func() {
			closed, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
			Expect(err).NotTo(HaveOccurred())
			addr := closed.LocalAddr().String()
			Expect(closed.Close()).To(Succeed())

			reg := prometheus.NewRegistry()
			logs := gbytes.NewBuffer()
			c, err := statsd.New(statsd.Config{Addr: addr, Registerer: reg, Logger: slog.New(slog.NewTextHandler(logs, nil))})
			Expect(err).NotTo(HaveOccurred())
			DeferCleanup(c.Close)
			// Loopback answers the first packet with "port unreachable"; a
			// later write on the socket fails with "connection refused".
			Eventually(func() float64 {
				c.PollingError()
				_ = c.Flush()
				return counterValue(reg, "form526_worker_statsd_send_errors_total")
			}).Should(BeNumerically(">", 0))
			Expect(logs).To(gbytes.Say("StatsD packets could not be sent"))
		})
	})
})

var _ = Describe("A disabled client", func() {
	It("is nil when STATSD_ADDR is empty, and does nothing, allocating nothing", func() {
		c, err := statsd.New(statsd.Config{})
		Expect(err).NotTo(HaveOccurred())
		Expect(c).To(BeNil())

		allocs := testing.AllocsPerRun(100, func() {
			c.DocumentCompleted("veteran_upload")
			c.DocumentFailed("form_0781", "CLAIMS_EVIDENCE")
			c.DocumentProcessingTimeout("bdd_instructions")
			c.PollingError()
			c.StatusRequestFailed()
			c.Exhausted()
			c.CycleStarted(1)
			c.CycleFinished(2, 3)
		})
		Expect(allocs).To(BeZero())
		Expect(c.Flush()).To(Succeed())
		Expect(c.Close()).To(Succeed())
	})
})

var _ = Describe("Configuration checks", func() {
	DescribeTable("refuses a bad address",
		func(addr, reason string) {
			_, err := statsd.New(statsd.Config{Addr: addr})
			Expect(err).To(MatchError(ContainSubstring(reason)))
		},
		Entry("no port", "127.0.0.1", "must be host:port"),
		Entry("no host", ":8125", "names no host"),
		Entry("port not a number", "127.0.0.1:statsd", "port must be a number"),
		Entry("port out of range", "127.0.0.1:70000", "port must be a number"),
		Entry("a unix socket", "unix:///var/run/datadog/dsd.socket", "must be host:port"),
	)

	DescribeTable("refuses a bad tag",
		func(tag, reason string) {
			Expect(config.ValidateStatsDTag(tag)).To(MatchError(ContainSubstring(reason)))
			_, err := statsd.New(statsd.Config{Addr: "127.0.0.1:8125", Tags: []string{"env:prod", tag}})
			Expect(err).To(MatchError(SatisfyAll(ContainSubstring("tag 2"), ContainSubstring(reason))))
		},
		Entry("empty", "", "empty tag"),
		Entry("a space", "service:lighthouse 526", "whitespace"),
		Entry("a newline", "env:prod\n", "whitespace"),
		Entry("a pipe", "env:prod|c", "'|'"),
		Entry("a hash", "env:#prod", "'#'"),
		Entry("a comma", "env:prod,x", "','"),
	)

	It("accepts key:value and bare tags", func() {
		Expect(config.ValidateStatsDTag("env:prod")).To(Succeed())
		Expect(config.ValidateStatsDTag("team:benefits-documents")).To(Succeed())
		Expect(config.ValidateStatsDTag("canary")).To(Succeed())
	})
})

var _ = Describe("The keys", func() {
	It("are the original's, for every document type", func() {
		Expect(statsd.DocumentTypes).To(ConsistOf("veteran_upload", "bdd_instructions", "form_0781", "form_0781a"))
		Expect(statsd.CompleteKey("form_0781a")).To(Equal("api.form526.lighthouse_document_upload_processing_status.form_0781a.complete"))
		Expect(statsd.FailedKey("veteran_upload", "CLAIMS_EVIDENCE")).To(Equal("api.form526.lighthouse_document_upload_processing_status.veteran_upload.failed.claims_evidence"))
		Expect(statsd.ProcessingTimeoutKey("bdd_instructions")).To(Equal("api.form526.lighthouse_document_upload_processing_status.bdd_instructions.processing_timeout"))
		Expect(statsd.KeyPollingError).To(Equal("worker.lighthouse.poll_form526_document_uploads.polling_error"))
		Expect(statsd.KeyExhausted).To(Equal("worker.lighthouse.poll_form526_document_uploads.exhausted"))
		Expect(statsd.KeyPendingDocumentsPolled).To(Equal("worker.lighthouse.poll_form526_document_uploads.pending_documents_polled"))
		Expect(statsd.KeyPendingDocumentsMarkedCompleted).To(Equal("worker.lighthouse.poll_form526_document_uploads.pending_documents_marked_completed"))
		Expect(statsd.KeyPendingDocumentsMarkedFailed).To(Equal("worker.lighthouse.poll_form526_document_uploads.pending_documents_marked_failed"))
	})
})

// counterValue reads a counter registered on reg, 0 when not there yet.
func counterValue(reg *prometheus.Registry, name string) float64 {
	GinkgoHelper()
	families, err := reg.Gather()
	Expect(err).NotTo(HaveOccurred())
	for _, f := range families {
		if f.GetName() == name {
			return f.GetMetric()[0].GetCounter().GetValue()
		}
	}
	return 0
}
