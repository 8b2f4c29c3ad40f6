package spectest

import (
	"strconv"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/vagov/lighthouse526/vagov/statsd"
	"github.com/vagov/lighthouse526/vagov/statsd/statsdtest"
)

// The original's StatsD keys, as the Datadog agent receives them: a UDP
// socket reads every packet and the specs assert the exact lines.
const (
	SDDoc    = "api.form526.lighthouse_document_upload_processing_status."
	SDJob    = "worker.lighthouse.poll_form526_document_uploads."
	SDTags   = "|#env:test,service:lighthouse526"
	SDGauges = SDJob + "pending_documents_"
)

// ListenStatsD starts an agent stand-in for the spec.
func ListenStatsD() *statsdtest.Listener {
	GinkgoHelper()
	agent, err := statsdtest.Listen()
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(agent.Close)
	return agent
}

// SendStatsDTo gives o's metrics a StatsD client of agent, closed (and so
// flushed) when the spec ends.
func SendStatsDTo(o *Observed, agent *statsdtest.Listener) {
	GinkgoHelper()
	c, err := statsd.New(statsd.Config{Addr: agent.Addr(), Tags: []string{"env:test", "service:lighthouse526"}})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(c.Close)
	o.Metrics.StatsD = c
}

// FlushedLines flushes o's client and returns every line the agent has.
func FlushedLines(o *Observed, agent *statsdtest.Listener) func() []string {
	return func() []string {
		Expect(o.Metrics.StatsD.Flush()).To(Succeed())
		return agent.Lines()
	}
}

// GaugeLines returns the pending_documents_* lines the agent has.
func GaugeLines(agent *statsdtest.Listener) func() []string {
	return func() []string { return agent.LinesWithPrefix(SDGauges) }
}

// ExpectGauges asserts the three gauge lines of one cycle, each received
// exactly once.
func ExpectGauges(agent *statsdtest.Listener, polled, completed, failed int) {
	GinkgoHelper()
	want := []any{
		SDGauges + "polled:" + strconv.Itoa(polled) + "|g" + SDTags,
		SDGauges + "marked_completed:" + strconv.Itoa(completed) + "|g" + SDTags,
		SDGauges + "marked_failed:" + strconv.Itoa(failed) + "|g" + SDTags,
	}
	Eventually(GaugeLines(agent)).Should(ConsistOf(want...))
	Consistently(GaugeLines(agent)).WithTimeout(300 * time.Millisecond).Should(ConsistOf(want...))
}
