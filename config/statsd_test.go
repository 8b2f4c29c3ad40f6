package config_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/vagov/lighthouse526/config"
)

var _ = Describe("The StatsD variables", func() {
	It("leave StatsD off by default", func() {
		cfg, err := config.Load(nil)
		Expect(err).NotTo(HaveOccurred())
		Expect(cfg.StatsDAddr).To(BeEmpty())
		Expect(cfg.StatsDTags).To(BeEmpty())
	})

	It("read the agent's address and the constant tags", func() {
		cfg, err := config.Load([]string{"STATSD_ADDR=datadog-agent:8125", "STATSD_TAGS=env:prod,service:lighthouse526"})
		Expect(err).NotTo(HaveOccurred())
		Expect(cfg.StatsDAddr).To(Equal("datadog-agent:8125"))
		Expect(cfg.StatsDTags).To(Equal([]string{"env:prod", "service:lighthouse526"}))
		Expect(cfg.String()).To(ContainSubstring("STATSD_TAGS=env:prod,service:lighthouse526"))
	})

	DescribeTable("refuse a bad address, saying why",
		func(addr, reason string) {
			_, err := config.Load([]string{"STATSD_ADDR=" + addr})
			Expect(problemVars(err)).To(ConsistOf("STATSD_ADDR"))
			Expect(err).To(MatchError(ContainSubstring(reason)))
		},
		Entry("no port", "127.0.0.1", "must be host:port"),
		Entry("no host", ":8125", "names no host"),
		Entry("a port out of range", "127.0.0.1:0", "port must be a number from 1 to 65535"),
		Entry("a unix socket", "unix:///var/run/datadog/dsd.socket", "must be host:port"),
	)

	DescribeTable("refuse a bad tag, naming it",
		func(tags, reason string) {
			_, err := config.Load([]string{"STATSD_TAGS=" + tags})
			Expect(problemVars(err)).To(ConsistOf("STATSD_TAGS"))
			Expect(err).To(MatchError(ContainSubstring(reason)))
		},
		Entry("an empty tag", "env:prod,,service:x", "tag 2: empty tag"),
		Entry("a trailing comma", "env:prod,", "tag 2: empty tag"),
		Entry("a space", "env:prod, service:x", `tag 2: tag " service:x" contains whitespace`),
		Entry("a pipe", "env:prod|c", "contains '|', '#' or ','"),
		Entry("a hash", "team:#benefits", "contains '|', '#' or ','"),
	)
})
