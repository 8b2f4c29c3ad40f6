package tasks_test

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
	sdDoc    = "api.form526.lighthouse_document_upload_processing_status."
	sdJob    = "worker.lighthouse.poll_form526_document_uploads."
	sdTags   = "|#env:test,service:lighthouse526"
	sdGauges = sdJob + "pending_documents_"
)

// listenStatsD starts an agent stand-in for the spec.
func listenStatsD() *statsdtest.Listener {
	GinkgoHelper()
	agent, err := statsdtest.Listen()
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(agent.Close)
	return agent
}

// sendStatsDTo gives o's metrics a StatsD client of agent, closed (and so
// flushed) when the spec ends.
func sendStatsDTo(o *observed, agent *statsdtest.Listener) {
	GinkgoHelper()
	c, err := statsd.New(statsd.Config{Addr: agent.Addr(), Tags: []string{"env:test", "service:lighthouse526"}})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(c.Close)
	o.Metrics.StatsD = c
}

// flushedLines flushes o's client and returns every line the agent has.
func flushedLines(o *observed, agent *statsdtest.Listener) func() []string {
	return func() []string {
		Expect(o.Metrics.StatsD.Flush()).To(Succeed())
		return agent.Lines()
	}
}

// gaugeLines returns the pending_documents_* lines the agent has.
func gaugeLines(agent *statsdtest.Listener) func() []string {
	return func() []string { return agent.LinesWithPrefix(sdGauges) }
}

// expectGauges asserts the three gauge lines of one cycle, each received
// exactly once.
func expectGauges(agent *statsdtest.Listener, polled, completed, failed int) {
	GinkgoHelper()
	want := []any{
		sdGauges + "polled:" + strconv.Itoa(polled) + "|g" + sdTags,
		sdGauges + "marked_completed:" + strconv.Itoa(completed) + "|g" + sdTags,
		sdGauges + "marked_failed:" + strconv.Itoa(failed) + "|g" + sdTags,
	}
	Eventually(gaugeLines(agent)).Should(ConsistOf(want...))
	Consistently(gaugeLines(agent)).WithTimeout(300 * time.Millisecond).Should(ConsistOf(want...))
}
