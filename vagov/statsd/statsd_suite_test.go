package statsd_test

import (
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestStatsD(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "StatsD")
}
