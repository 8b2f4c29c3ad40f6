package datadog_test

import (
	"maps"
	"slices"
	"strings"

	"github.com/DataDog/datadog-api-client-go/v2/api/datadogV1"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/vagov/lighthouse526/lighthouse/fake"
	"github.com/vagov/lighthouse526/tasks"
	"github.com/vagov/lighthouse526/vagov/statsd"
)

var _ = Describe("the monitors and the dashboard against the code", func() {
	var (
		monitors  []monitorFile
		dashboard used
		metrics   []string          // every metric name the code makes for Datadog
		openNames map[string]string // Datadog name → Prometheus name, OpenMetrics check
	)

	BeforeEach(func() {
		var err error
		monitors, err = loadMonitors("monitors")
		Expect(err).NotTo(HaveOccurred())
		_, err = loadDashboard("dashboard.json")
		Expect(err).NotTo(HaveOccurred())
		dashboard, err = dashboardQueries("dashboard.json")
		Expect(err).NotTo(HaveOccurred())
		check, err := loadOpenMetricsCheck("openmetrics.yaml")
		Expect(err).NotTo(HaveOccurred())
		openNames, err = openMetricsNames(check)
		Expect(err).NotTo(HaveOccurred())
		metrics = append(statsdKeys(), slices.Collect(maps.Keys(openNames))...)
	})

	It("queries only metrics the worker sends and log messages it writes", func() {
		for _, m := range monitors {
			u, err := monitorQueries(m.Monitor)
			Expect(err).NotTo(HaveOccurred(), m.Name)
			Expect(unknown(u.Metrics, metrics)).To(BeEmpty(), "%s queries metrics the code does not send", m.Name)
			Expect(unknown(u.Phrases, tasks.LogMessages())).To(BeEmpty(), "%s matches log messages the code does not write", m.Name)
		}
		Expect(unknown(dashboard.Metrics, metrics)).To(BeEmpty(), "the dashboard charts metrics the code does not send")
		Expect(unknown(dashboard.Phrases, tasks.LogMessages())).To(BeEmpty(), "the dashboard lists log messages the code does not write")
	})

	It("charts every StatsD key on the dashboard, the cycle gauges included", func() {
		Expect(unknown(statsdKeys(), dashboard.Metrics)).To(BeEmpty())
	})

	It("has an anomaly monitor per document type and failed step", func() {
		for _, t := range statsd.DocumentTypes {
			for _, s := range []string{fake.StepClaimsEvidence, fake.StepBGS} {
				key := statsd.FailedKey(t, s)
				m := monitorsOn(monitors, key)
				Expect(m).To(HaveLen(1), key)
				Expect(m[0].Monitor.Query).To(ContainSubstring("anomalies(sum:"+key+"{"), key)
				Expect(m[0].Monitor.Query).To(ContainSubstring("direction='above'"), key)
			}
		}
	})

	It("has a monitor on each polling job counter and on the processing timeouts of every type", func() {
		Expect(monitorsOn(monitors, statsd.KeyPollingError)).To(HaveLen(1))
		Expect(monitorsOn(monitors, statsd.KeyExhausted)).To(HaveLen(1))
		for _, t := range statsd.DocumentTypes {
			Expect(monitorsOn(monitors, statsd.ProcessingTimeoutKey(t))).To(HaveLen(1), t)
			Expect(monitorsOn(monitors, statsd.FailedKey(t, ""))).To(HaveLen(1), t)
		}
	})

	It("alerts when no cycle finished for two hours: no data from the once-per-cycle gauge", func() {
		m := monitorsOn(monitors, statsd.KeyPendingDocumentsPolled)
		Expect(m).To(HaveLen(1))
		o := m[0].Monitor.Options
		Expect(o).NotTo(BeNil())
		Expect(o.GetNotifyNoData()).To(BeTrue())
		Expect(o.GetNoDataTimeframe()).To(BeNumerically("==", 120))
		Expect(m[0].Monitor.Query).To(HavePrefix("max(last_2h):"))
	})

	It("alerts on follow-ups left in the outbox through the OpenMetrics check", func() {
		var outbox []string
		for dd, prom := range openNames {
			if prom == "form526_document_upload_outbox_unsent" {
				outbox = append(outbox, dd)
			}
		}
		Expect(outbox).To(HaveLen(1))
		Expect(monitorsOn(monitors, outbox[0])).To(HaveLen(1))
	})

	It("matches log monitors on the original's and the worker's messages", func() {
		var logMonitors int
		for _, m := range monitors {
			if m.Monitor.Type != datadogV1.MONITORTYPE_LOG_ALERT {
				continue
			}
			logMonitors++
			u, err := monitorQueries(m.Monitor)
			Expect(err).NotTo(HaveOccurred())
			Expect(u.Phrases).NotTo(BeEmpty(), m.Name)
		}
		Expect(logMonitors).To(Equal(3))
	})

	DescribeTable("catches a query the code does not back",
		func(m datadogV1.Monitor, wantErr bool) {
			u, err := monitorQueries(m)
			if wantErr {
				Expect(err).To(HaveOccurred())
				return
			}
			Expect(err).NotTo(HaveOccurred())
			Expect(append(unknown(u.Metrics, metrics), unknown(u.Phrases, tasks.LogMessages())...)).NotTo(BeEmpty())
		},
		Entry("a renamed StatsD key", *datadogV1.NewMonitor(
			"sum(last_1h):sum:"+strings.Replace(statsd.KeyExhausted, "exhausted", "retries_exhausted", 1)+"{*}.as_count() > 0",
			datadogV1.MONITORTYPE_QUERY_ALERT), false),
		Entry("a reworded log message", *datadogV1.NewMonitor(
			`logs("\"Lighthouse::Form526DocumentUploadPollingJob retries ran out (a reworded message)\"").index("*").rollup("count").last("1h") > 0`,
			datadogV1.MONITORTYPE_LOG_ALERT), false),
		Entry("a log search with no message", *datadogV1.NewMonitor(
			`logs("service:lighthouse526 status:warn").index("*").rollup("count").last("1h") > 0`,
			datadogV1.MONITORTYPE_LOG_ALERT), true),
		Entry("a monitor type the spec does not check", *datadogV1.NewMonitor(
			`events("sources:lighthouse").rollup("count").last("1h") > 0`,
			datadogV1.MONITORTYPE_EVENT_V2_ALERT), true),
	)
})

// monitorsOn is the monitors whose query names metric.
func monitorsOn(monitors []monitorFile, metric string) []monitorFile {
	var out []monitorFile
	for _, m := range monitors {
		if slices.Contains(metricNames(m.Monitor.Query), metric) {
			out = append(out, m)
		}
	}
	return out
}
