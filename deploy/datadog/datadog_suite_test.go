// Package datadog_test checks the Datadog monitors and dashboard of this
// directory against the Datadog API client's models and against what the
// shipped settings send: every file decodes into datadogV1.Monitor or
// datadogV1.Dashboard with no field left unparsed at any level; every
// metric a monitor or widget queries is sent, under the tags it filters on,
// by the worker as deploy/kubernetes runs it: a StatsD key read off the
// lines of the real client (every method called) with the tags config makes
// of the manifests' STATSD_* and DD_* settings, or a Prometheus metric of
// polling.NewMetrics or runner.NewMetrics collected by the OpenMetrics check
// of the worker pods' Autodiscovery annotation, tagged from their
// tags.datadoghq.com labels; every monitor is scoped by env; sparse sums use
// default_zero; gauges alert on silence; every log message a query matches
// is one of tasks.LogMessages; and deploy/prometheus keeps a counterpart and
// a runbook line for every monitor. A key, metric, tag or log message
// renamed in the code or the manifests fails it.
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
