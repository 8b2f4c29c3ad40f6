package config_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/vagov/lighthouse526/config"
)

var _ = Describe("The Go runtime's memory limit", func() {
	It("is the runtime's default when no container limit is given", func() {
		cfg, err := config.Load(nil)
		Expect(err).NotTo(HaveOccurred())
		Expect(cfg.GoMemoryLimit()).To(BeZero())
	})

	It("is 90% of CONTAINER_MEMORY_LIMIT (128Mi: 115.2 MiB)", func() {
		cfg, err := config.Load([]string{"CONTAINER_MEMORY_LIMIT=134217728"})
		Expect(err).NotTo(HaveOccurred())
		Expect(config.GoMemLimitPercent).To(Equal(90))
		Expect(cfg.GoMemoryLimit()).To(Equal(int64(120795955)))
	})

	It("is left to GOMEMLIMIT when that is set (the runtime applied it)", func() {
		cfg, err := config.Load([]string{"CONTAINER_MEMORY_LIMIT=134217728", "GOMEMLIMIT=100MiB"})
		Expect(err).NotTo(HaveOccurred())
		Expect(cfg.GoMemoryLimit()).To(BeZero())
	})

	DescribeTable("refuses a limit the worker cannot run in, or no number of bytes",
		func(value, reason string) {
			_, err := config.Load([]string{"CONTAINER_MEMORY_LIMIT=" + value})
			Expect(problemVars(err)).To(ConsistOf("CONTAINER_MEMORY_LIMIT"))
			Expect(err).To(MatchError(ContainSubstring(reason)))
		},
		Entry("under 32 MiB", "16777216", "from 33554432 (32 MiB)"),
		Entry("over 1 TiB", "2199023255552", "to 1099511627776 (1 TiB)"),
		Entry("negative", "-134217728", "from 33554432"),
		Entry("a Kubernetes quantity", "128Mi", "not a valid"),
	)
})
