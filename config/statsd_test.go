package config_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/vagov/lighthouse526/config"
	"github.com/vagov/lighthouse526/vagov/statsd"
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

	It("take STATSD_ADDR=none as StatsD off on purpose", func() {
		cfg, err := config.Load([]string{"STATSD_ADDR=none"})
		Expect(err).NotTo(HaveOccurred())
		Expect(cfg.StatsDAgentAddr()).To(BeEmpty())
		Expect(cfg.StatsDOptedOut()).To(BeTrue())

		cfg, err = config.Load(nil)
		Expect(err).NotTo(HaveOccurred())
		Expect(cfg.StatsDAgentAddr()).To(BeEmpty())
		Expect(cfg.StatsDOptedOut()).To(BeFalse(), "unset is not a choice: worker run says so")
	})

	Context("with Datadog's unified service tags", func() {
		It("reads DD_ENV, DD_SERVICE and DD_VERSION as the env, service and version tags of every line", func() {
			cfg, err := config.Load([]string{"STATSD_TAGS=team:benefits", "DD_ENV=staging", "DD_SERVICE=lighthouse526", "DD_VERSION=1.4.2"})
			Expect(err).NotTo(HaveOccurred())
			Expect(cfg.StatsDTagList()).To(Equal([]string{"team:benefits", "env:staging", "service:lighthouse526", "version:1.4.2"}))
			Expect(cfg.String()).To(ContainSubstring("DD_ENV=staging\n"))
			Expect(config.EnvNames()).To(ContainElements("DD_ENV", "DD_SERVICE", "DD_VERSION"))
		})

		It("adds no tag that is not set", func() {
			cfg, err := config.Load([]string{"DD_SERVICE=lighthouse526"})
			Expect(err).NotTo(HaveOccurred())
			Expect(cfg.StatsDTagList()).To(Equal([]string{"service:lighthouse526"}))
		})

		DescribeTable("refuses a value that would break the line, or a tag set twice",
			func(env []string, name, reason string) {
				_, err := config.Load(env)
				Expect(problemVars(err)).To(ConsistOf(name))
				Expect(err).To(MatchError(ContainSubstring(reason)))
			},
			Entry("a space in DD_ENV", []string{"DD_ENV=prod east"}, "DD_ENV", "whitespace"),
			Entry("a pipe in DD_SERVICE", []string{"DD_SERVICE=lh|526"}, "DD_SERVICE", "'|'"),
			Entry("env in STATSD_TAGS beside DD_ENV", []string{"DD_ENV=prod", "STATSD_TAGS=env:prod"}, "STATSD_TAGS", "env:prod is DD_ENV's to set"),
		)
	})
})

// The address and tag rules are config's (ValidateStatsDAddr,
// ValidateStatsDTag), and the StatsD client checks its settings with them:
// config refuses at start exactly what the client would refuse, in the same
// words.
var _ = Describe("The StatsD rules", func() {
	DescribeTable("refuse at start what the client refuses",
		func(addr, tag string) {
			_, err := config.Load([]string{"STATSD_ADDR=" + addr, "STATSD_TAGS=" + tag})
			client, clientErr := statsd.New(statsd.Config{Addr: addr, Tags: []string{tag}})
			if clientErr == nil {
				Expect(client.Close()).To(Succeed())
				Expect(err).NotTo(HaveOccurred())
				return
			}
			Expect(err).To(HaveOccurred())
			for _, ruleErr := range []error{config.ValidateStatsDAddr(addr), config.ValidateStatsDTag(tag)} {
				if ruleErr != nil {
					Expect(err).To(MatchError(ContainSubstring(ruleErr.Error())))
					Expect(clientErr).To(MatchError(ContainSubstring(ruleErr.Error())))
				}
			}
		},
		Entry("good", "127.0.0.1:8125", "team:benefits"),
		Entry("a URL", "udp://127.0.0.1:8125", "team:benefits"),
		Entry("no host", ":8125", "team:benefits"),
		Entry("port 0", "127.0.0.1:0", "team:benefits"),
		Entry("port 65536", "127.0.0.1:65536", "team:benefits"),
		Entry("no port", "127.0.0.1", "team:benefits"),
		Entry("a tag with a space", "127.0.0.1:8125", "team:bene fits"),
		Entry("a tag with a pipe", "127.0.0.1:8125", "team|x"),
		Entry("a tag with a hash", "127.0.0.1:8125", "team#x"),
	)
})
