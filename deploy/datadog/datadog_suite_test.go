// Package datadog_test checks the Datadog monitors and dashboard of this
// directory against the Datadog API client's models and against the code:
// every file decodes into datadogV1.Monitor or datadogV1.Dashboard with no
// field left unparsed at any level, every metric a monitor or widget
// queries is a StatsD key of vagov/statsd or a Prometheus metric of
// polling.NewMetrics or runner.NewMetrics collected by the OpenMetrics
// check, every log message a query matches is one of tasks.LogMessages, and
// deploy/prometheus keeps a counterpart and a runbook line for every monitor. A key, metric or log
// message renamed in the code fails it.
package datadog_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestDatadog(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Datadog monitors and dashboard")
}
