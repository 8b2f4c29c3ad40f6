package statsd_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gbytes"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vagov/lighthouse526/vagov/statsd"
	"github.com/vagov/lighthouse526/vagov/statsd/statsdtest"
)

var _ = Describe("An agent address that does not resolve", func() {
	var (
		reg  *prometheus.Registry
		logs *gbytes.Buffer
	)

	BeforeEach(func() {
		reg = prometheus.NewRegistry()
		logs = gbytes.NewBuffer()
	})

	Context("when the host name is unknown to DNS", func() {
		It("starts the client all the same, says so once, counts each attempt and drops the metrics", func() {
			// .invalid never resolves (RFC 6761).
			c, err := statsd.New(statsd.Config{
				Addr: "datadog-agent.invalid:8125", Registerer: reg,
				Logger: slog.New(slog.NewJSONHandler(logs, nil)),
			})
			Expect(err).NotTo(HaveOccurred())
			Expect(c).NotTo(BeNil())
			DeferCleanup(c.Close)

			Expect(counterValue(reg, "form526_worker_statsd_resolve_failures_total")).To(BeNumerically(">=", 1))
			Eventually(logs).Should(gbytes.Say(`"msg":"StatsD address does not resolve: retrying in the background`))
			Expect(logs.Contents()).To(ContainSubstring(`"statsd_addr":"datadog-agent.invalid:8125"`))

			c.PollingError()
			c.DocumentCompleted("veteran_upload")
			Expect(c.Flush()).To(Succeed())
			Eventually(func() float64 { return counterValue(reg, "form526_worker_statsd_send_errors_total") }).
				Should(BeNumerically(">", 0), "the dropped packet is counted as one not sent")
			Expect(string(logs.Contents())).NotTo(ContainSubstring("StatsD packets could not be sent"),
				"no second warning for the same cause")
		})
	})

	Context("when the name resolves after a few attempts", func() {
		It("retries in the background, then sends to it, having said it once each way", func() {
			agent, err := statsdtest.Listen()
			Expect(err).NotTo(HaveOccurred())
			DeferCleanup(agent.Close)
			_, port, err := net.SplitHostPort(agent.Addr())
			Expect(err).NotTo(HaveOccurred())

			var attempts atomic.Int32
			lookup := func(_ context.Context, host string) ([]net.IPAddr, error) {
				defer GinkgoRecover()
				Expect(host).To(Equal("agent.node.example"))
				if attempts.Add(1) < 4 {
					return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
				}
				return []net.IPAddr{{IP: net.ParseIP("::1")}, {IP: net.IPv4(127, 0, 0, 1)}}, nil
			}
			cfg := statsd.WithLookup(statsd.Config{
				Addr: "agent.node.example:" + port, Tags: []string{"env:test"}, Registerer: reg,
				Logger: slog.New(slog.NewJSONHandler(logs, nil)),
			}, lookup, 20*time.Millisecond)
			c, err := statsd.New(cfg)
			Expect(err).NotTo(HaveOccurred())
			DeferCleanup(c.Close)

			Eventually(logs).WithTimeout(5 * time.Second).Should(gbytes.Say(`StatsD address resolved: StatsD metrics are sent from now on","statsd_addr":"agent.node.example:` + port + `","attempts":4`))
			Expect(counterValue(reg, "form526_worker_statsd_resolve_failures_total")).To(Equal(3.0))
			Expect(attempts.Load()).To(Equal(int32(4)), "no attempt after it resolved")

			c.Exhausted()
			Expect(c.Flush()).To(Succeed())
			Eventually(agent.Lines).Should(ConsistOf("worker.lighthouse.poll_form526_document_uploads.exhausted:1|c|#env:test"))
		})
	})

	Context("when it is closed while still retrying", func() {
		It("stops the retries and returns", func() {
			var attempts atomic.Int32
			lookup := func(context.Context, string) ([]net.IPAddr, error) {
				attempts.Add(1)
				return nil, errors.New("no such host")
			}
			c, err := statsd.New(statsd.WithLookup(statsd.Config{Addr: "agent.invalid:8125"}, lookup, 10*time.Millisecond))
			Expect(err).NotTo(HaveOccurred())
			Eventually(attempts.Load).Should(BeNumerically(">=", 3))
			Expect(c.Close()).To(Succeed())
			after := attempts.Load()
			Consistently(attempts.Load, 100*time.Millisecond).Should(Equal(after))
		})
	})
})

var _ = Describe("Unified service tags", func() {
	Context("when the process's DD_ENV, DD_SERVICE and DD_VERSION are the tags given too", func() {
		It("sends each once (datadog-go adds them from the environment itself)", func() {
			GinkgoT().Setenv("DD_ENV", "staging")
			GinkgoT().Setenv("DD_SERVICE", "lighthouse526")
			GinkgoT().Setenv("DD_VERSION", "")
			agent, err := statsdtest.Listen()
			Expect(err).NotTo(HaveOccurred())
			DeferCleanup(agent.Close)
			c, err := statsd.New(statsd.Config{Addr: agent.Addr(), Tags: []string{"team:benefits", "env:staging", "service:lighthouse526", "version:abc123"}})
			Expect(err).NotTo(HaveOccurred())
			DeferCleanup(c.Close)
			c.PollingError()
			Expect(c.Flush()).To(Succeed())
			Eventually(agent.Lines).Should(HaveLen(1))
			_, tags, ok := strings.Cut(agent.Lines()[0], "|#")
			Expect(ok).To(BeTrue())
			Expect(strings.Split(tags, ",")).To(ConsistOf("team:benefits", "version:abc123", "env:staging", "service:lighthouse526"))
		})
	})
})
