package datadog_test

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/DataDog/datadog-api-client-go/v2/api/datadogV1"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/vagov/lighthouse526/lighthouse/fake"
	"github.com/vagov/lighthouse526/tasks"
	"github.com/vagov/lighthouse526/vagov/statsd"
)

var _ = Describe("the monitors and the dashboard against what the shipped settings send", func() {
	var (
		monitors  []monitorFile
		dashboard used
		worker    shipped
		stats     sent              // StatsD: every key the client sends, with its tags
		checked   sent              // the OpenMetrics check of the worker's pods
		promNames map[string]string // Datadog name → Prometheus name, for checked
		metrics   []string          // every metric name the worker sends Datadog
	)

	BeforeEach(func() {
		var err error
		monitors, err = loadMonitors("monitors")
		Expect(err).NotTo(HaveOccurred())
		_, err = loadDashboard("dashboard.json")
		Expect(err).NotTo(HaveOccurred())
		dashboard, err = dashboardQueries("dashboard.json")
		Expect(err).NotTo(HaveOccurred())

		worker = workerAsShipped()
		stats = sent{}
		if tags, sends := worker.statsdTags(); sends {
			stats = sentStatsD(tags)
		}
		check, ok := worker.openMetricsAnnotation()
		if !ok {
			check = &openMetricsCheck{Instances: []openMetricsInstance{{Namespace: "lighthouse526"}}}
		}
		checked, promNames, err = sentOpenMetrics(check, worker.agentTags())
		Expect(err).NotTo(HaveOccurred())
		metrics = append(stats.names(), checked.names()...)
	})

	It("queries only metrics the worker sends and log messages it writes", func() {
		for _, m := range monitors {
			u, err := monitorQueries(m.Monitor)
			Expect(err).NotTo(HaveOccurred(), m.Name)
			Expect(unknown(u.Metrics, metrics)).To(BeEmpty(), "%s queries metrics no shipped setting sends", m.Name)
			Expect(unknown(u.Phrases, tasks.LogMessages())).To(BeEmpty(), "%s matches log messages the code does not write", m.Name)
		}
		Expect(unknown(dashboard.Metrics, metrics)).To(BeEmpty(), "the dashboard charts metrics no shipped setting sends")
		Expect(unknown(dashboard.Phrases, tasks.LogMessages())).To(BeEmpty(), "the dashboard lists log messages the code does not write")
	})

	It("queries each metric under tags the shipped settings put on it, scoped by env", func() {
		for _, m := range monitors {
			Expect(unsent(m.Monitor, stats, checked)).To(BeEmpty(), m.Name)
		}
	})

	It("matches logs the agent collects, under tags it puts on them, scoped by env", func() {
		Expect(worker.collectsLogs()).To(BeTrue(), "the worker's pods have no ad.datadoghq.com/<container>.logs annotation")
		for _, m := range monitors {
			if m.Monitor.Type != datadogV1.MONITORTYPE_LOG_ALERT {
				continue
			}
			search, err := logSearch(m.Monitor.Query)
			Expect(err).NotTo(HaveOccurred())
			tags := searchTags(search)
			Expect(tags).To(ContainElement(HavePrefix("env:")), "%s: not scoped by env", m.Name)
			Expect(worker.agentTags()).To(ContainElements(tags), "%s filters on tags the worker's logs do not carry", m.Name)
		}
	})

	It("collects with the worker pods' OpenMetrics check what openmetrics.yaml says", func() {
		annotated, ok := worker.openMetricsAnnotation()
		Expect(ok).To(BeTrue(), "the worker's pods have no ad.datadoghq.com/%s.checks annotation with an openmetrics check", worker.c.Name)
		file, err := loadOpenMetricsCheck("openmetrics.yaml")
		Expect(err).NotTo(HaveOccurred())
		Expect(annotated.Instances).To(Equal(file.Instances))
	})

	It("charts every StatsD key on the dashboard, the cycle gauges included", func() {
		Expect(unknown(stats.names(), dashboard.Metrics)).To(BeEmpty())
	})

	It("never sums over the replicas a gauge each replica keeps", func() {
		for _, q := range dashboard.Scoped {
			if checked[q.Name].Kind == "gauge" {
				Expect(q.Aggregator).NotTo(Equal("sum"), "%s: every replica reports it; a sum counts it once per replica", q.Name)
			}
		}
		for _, m := range monitors {
			for _, q := range scopedMetrics(m.Monitor.Query) {
				if checked[q.Name].Kind == "gauge" {
					Expect(q.Aggregator).NotTo(Equal("sum"), "%s: %s", m.Name, q.Name)
				}
			}
		}
	})

	It("adds sparse counters with default_zero, so one that never reports leaves the sum defined", func() {
		for _, m := range monitors {
			Expect(sumsWithoutDefaultZero(m.Monitor.Query)).To(BeEmpty(), m.Name)
		}
	})

	It("alerts on silence where silence is the failure, and has no threshold that never fires without it", func() {
		for _, m := range monitors {
			o := m.Monitor.Options
			for _, q := range scopedMetrics(m.Monitor.Query) {
				kind := stats[q.Name].Kind
				if kind == "" {
					kind = checked[q.Name].Kind
				}
				if kind == "g" || kind == "gauge" {
					Expect(o).NotTo(BeNil(), m.Name)
					Expect(o.GetNotifyNoData()).To(BeTrue(), "%s: a gauge that stops is the worker or the agent stopping", m.Name)
					Expect(o.GetNoDataTimeframe()).To(BeNumerically(">", 0), m.Name)
				}
			}
			if neverCrossed(m.Monitor.Query) {
				Expect(o.GetNotifyNoData()).To(BeTrue(), "%s: its threshold never fires, and it does not alert on no data", m.Name)
			}
		}
	})

	It("has an anomaly monitor per document type and failed step", func() {
		for _, t := range statsd.DocumentTypes {
			for _, s := range []string{fake.StepClaimsEvidence, fake.StepBGS} {
				key := statsd.FailedKey(t, s)
				Expect(stats).To(HaveKey(key))
				m := monitorsOn(monitors, key)
				Expect(m).To(HaveLen(1), key)
				Expect(m[0].Monitor.Query).To(ContainSubstring("anomalies(sum:"+key+"{"), key)
				Expect(m[0].Monitor.Query).To(ContainSubstring("direction='above'"), key)
				Expect(m[0].Monitor.Query).To(ContainSubstring("count_default_zero='true'"), key)
			}
		}
	})

	It("has a monitor on each polling job counter and on the processing timeouts of every type", func() {
		Expect(monitorsOn(monitors, statsd.KeyPollingError)).To(HaveLen(1))
		Expect(monitorsOn(monitors, statsd.KeyExhausted)).To(HaveLen(1))
		Expect(monitorsOn(monitors, statsd.KeyStatusRequestFailed)).To(HaveLen(1))
		for _, t := range statsd.DocumentTypes {
			Expect(monitorsOn(monitors, statsd.ProcessingTimeoutKey(t))).To(HaveLen(1), t)
			Expect(monitorsOn(monitors, statsd.FailedKey(t, ""))).To(HaveLen(1), t)
		}
	})

	It("alerts when no cycle of this worker sent its gauge for two hours, whatever other services send", func() {
		m := monitorsOn(monitors, statsd.KeyPendingDocumentsPolled)
		Expect(m).To(HaveLen(1))
		o := m[0].Monitor.Options
		Expect(o).NotTo(BeNil())
		Expect(o.GetNotifyNoData()).To(BeTrue())
		Expect(o.GetNoDataTimeframe()).To(BeNumerically("==", 120))
		Expect(m[0].Monitor.Query).To(HavePrefix("max(last_2h):"))
		q := scopedMetrics(m[0].Monitor.Query)
		Expect(q).To(HaveLen(1))
		Expect(q[0].Tags).To(ContainElement(HavePrefix("service:")), "the Ruby job's gauges (another service) would keep it quiet")
	})

	It("alerts on follow-ups left in the outbox through the OpenMetrics check", func() {
		var outbox []string
		for dd, prom := range promNames {
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
			"sum(last_1h):sum:"+strings.Replace(statsd.KeyExhausted, "exhausted", "retries_exhausted", 1)+"{env:prod}.as_count() > 0",
			datadogV1.MONITORTYPE_QUERY_ALERT), false),
		Entry("a reworded log message", *datadogV1.NewMonitor(
			`logs("\"Lighthouse::Form526DocumentUploadPollingJob retries ran out (a reworded message)\" env:prod").index("*").rollup("count").last("1h") > 0`,
			datadogV1.MONITORTYPE_LOG_ALERT), false),
		Entry("a log search with no message", *datadogV1.NewMonitor(
			`logs("service:lighthouse526 status:warn").index("*").rollup("count").last("1h") > 0`,
			datadogV1.MONITORTYPE_LOG_ALERT), true),
		Entry("a monitor type the spec does not check", *datadogV1.NewMonitor(
			`events("sources:lighthouse").rollup("count").last("1h") > 0`,
			datadogV1.MONITORTYPE_EVENT_V2_ALERT), true),
	)

	DescribeTable("catches a metric sent, but not under the tags queried",
		func(query, want string) {
			m := *datadogV1.NewMonitor(query, datadogV1.MONITORTYPE_QUERY_ALERT)
			Expect(unsent(m, stats, checked)).To(ContainElement(ContainSubstring(want)))
		},
		Entry("every environment", "sum(last_1h):sum:"+statsd.KeyExhausted+"{*}.as_count() > 0", "not scoped by env"),
		Entry("an environment the worker is not in", "sum(last_1h):sum:"+statsd.KeyExhausted+"{env:staging}.as_count() > 0", "env:staging"),
		Entry("a service tag StatsD does not carry", "sum(last_1h):sum:"+statsd.KeyExhausted+"{env:prod,service:vets-api}.as_count() > 0", "service:vets-api"),
		Entry("a Prometheus metric the check does not collect", "max(last_15m):max:lighthouse526.form526_document_upload_cycles_skipped.count{env:prod} > 0", "no shipped setting sends"),
	)

	It("catches counters summed without default_zero", func() {
		q := "sum(last_1h):sum:" + statsd.FailedKey("form_0781", "") + "{env:prod}.as_count() + default_zero(sum:" + statsd.FailedKey("form_0781a", "") + "{env:prod}.as_count()) > 0"
		Expect(sumsWithoutDefaultZero(q)).To(ConsistOf(statsd.FailedKey("form_0781", "")))
	})
})

// unsent lists what a metric monitor queries that the shipped settings do
// not send: a metric no setting sends, a scope without env, a tag the
// metric does not carry.
func unsent(m datadogV1.Monitor, stats, checked sent) []string {
	if m.Type == datadogV1.MONITORTYPE_LOG_ALERT {
		return nil
	}
	var out []string
	for _, q := range scopedMetrics(m.Query) {
		s, ok := stats[q.Name]
		if !ok {
			s, ok = checked[q.Name]
		}
		if !ok {
			out = append(out, q.Name+": no shipped setting sends it")
			continue
		}
		if !slices.ContainsFunc(q.Tags, func(t string) bool { return strings.HasPrefix(t, "env:") }) {
			out = append(out, q.Name+": not scoped by env")
		}
		for _, t := range q.Tags {
			if !slices.Contains(s.Tags, t) {
				out = append(out, fmt.Sprintf("%s{%s}: sent with %v", q.Name, t, s.Tags))
			}
		}
	}
	return out
}

// sumsWithoutDefaultZero lists the metrics of a query that adds several
// but are not each wrapped in default_zero().
func sumsWithoutDefaultZero(q string) []string {
	all := scopedMetrics(q)
	if len(all) < 2 {
		return nil
	}
	var out []string
	for _, s := range all {
		wrapped := regexp.MustCompile(`default_zero\((?:sum|avg|max|min):` + regexp.QuoteMeta(s.Name) + `\{`)
		if !wrapped.MatchString(q) {
			out = append(out, s.Name)
		}
	}
	return out
}

// neverCrossed reports a threshold no count or gauge of the worker can
// cross: below zero.
func neverCrossed(q string) bool {
	return regexp.MustCompile(`<\s*0(\.0*)?\s*$`).MatchString(q)
}

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
