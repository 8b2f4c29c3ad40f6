package spectest

import (
	"strconv"
	"strings"
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
	// The worker's own key for the failed calls the original did not count.
	SDRequestFailed = "lighthouse526.polling_job.status_request_failed"
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

// GaugeLines flushes the StatsD client of each of os, then returns the
// pending_documents_* lines the agent has. Flushing on every read matters:
// the replica whose write finishes a cycle sets the end gauges a moment
// after that write, so a spec that flushed once when it saw the cycle done
// could read before they were set, and they would then wait in the client
// for its next aggregation flush (statsd.AggregationInterval, 2 s), past
// Eventually's timeout.
func GaugeLines(agent *statsdtest.Listener, os ...*Observed) func() []string {
	return func() []string {
		for _, o := range os {
			Expect(o.Metrics.StatsD.Flush()).To(Succeed())
		}
		return agent.LinesWithPrefix(SDGauges)
	}
}

// GaugeLine is one pending_documents_* line as the agent receives it.
func GaugeLine(name string, n int) string {
	return SDGauges + name + ":" + strconv.Itoa(n) + "|g" + SDTags
}

// ExpectGauges asserts the three gauge lines of one cycle, each received
// exactly once, flushing the clients of os.
func ExpectGauges(agent *statsdtest.Listener, os []*Observed, polled, completed, failed int) {
	GinkgoHelper()
	want := []any{GaugeLine("polled", polled), GaugeLine("marked_completed", completed), GaugeLine("marked_failed", failed)}
	Eventually(GaugeLines(agent, os...)).Should(ConsistOf(want...))
	Consistently(GaugeLines(agent, os...)).WithTimeout(300 * time.Millisecond).Should(ConsistOf(want...))
}

// SumOf sums the values of the agent's counter lines of key (several
// clients, or several flushes, each send their own line).
func SumOf(agent *statsdtest.Listener, key string) int {
	n := 0
	for _, line := range agent.LinesWithPrefix(key + ":") {
		v, _, _ := strings.Cut(strings.TrimPrefix(line, key+":"), "|")
		i, err := strconv.Atoi(v)
		Expect(err).NotTo(HaveOccurred(), line)
		n += i
	}
	return n
}
