package datadog_test

import (
	"github.com/DataDog/datadog-api-client-go/v2/api/datadogV1"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("decoding into the Datadog API client's models", func() {
	It("decodes every monitor and the dashboard with nothing left unparsed", func() {
		monitors, err := loadMonitors("monitors")
		Expect(err).NotTo(HaveOccurred())
		Expect(monitors).To(HaveLen(18))
		for _, m := range monitors {
			Expect(m.Monitor.Name).NotTo(BeNil(), m.Name)
			Expect(m.Monitor.Message).NotTo(BeNil(), m.Name)
			Expect(*m.Monitor.Message).To(ContainSubstring("deploy/prometheus/runbook.md, row "+m.Name+"."), m.Name)
		}
		d, err := loadDashboard("dashboard.json")
		Expect(err).NotTo(HaveOccurred())
		Expect(d.Widgets).NotTo(BeEmpty())
	})

	DescribeTable("refuses what a model does not understand",
		func(doc string, into any, want string) {
			Expect(decodeStrict([]byte(doc), into)).To(MatchError(ContainSubstring(want)))
		},
		Entry("an unknown top-level monitor field",
			`{"name":"m","type":"query alert","query":"avg(last_5m):avg:a{*} > 1","querry":"x"}`,
			&datadogV1.Monitor{}, "$.AdditionalProperties"),
		Entry("an unknown field in the monitor's options",
			`{"name":"m","type":"query alert","query":"avg(last_5m):avg:a{*} > 1","options":{"thresholds":{"critical":1},"notify_nodata":true}}`,
			&datadogV1.Monitor{}, "$.Options.AdditionalProperties"),
		Entry("an unknown field in the thresholds",
			`{"name":"m","type":"query alert","query":"avg(last_5m):avg:a{*} > 1","options":{"thresholds":{"critcal":1}}}`,
			&datadogV1.Monitor{}, "$.Options.Thresholds.AdditionalProperties"),
		Entry("a monitor type that does not exist",
			`{"name":"m","type":"metric alarm","query":"avg(last_5m):avg:a{*} > 1"}`,
			&datadogV1.Monitor{}, "$.UnparsedObject"),
		Entry("a widget type that does not exist, deep in a group",
			`{"title":"d","layout_type":"ordered","widgets":[{"definition":{"type":"group","layout_type":"ordered","widgets":[{"definition":{"type":"timeseriez","requests":[]}}]}}]}`,
			&datadogV1.Dashboard{}, "UnparsedObject"),
		Entry("an unknown field in a widget's query",
			`{"title":"d","layout_type":"ordered","widgets":[{"definition":{"type":"timeseries","requests":[{"queries":[{"data_source":"metrics","name":"q1","query":"sum:a{*}","agregator":"sum"}]}]}}]}`,
			&datadogV1.Dashboard{}, "AdditionalProperties"),
	)
})
