package config_test

import (
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/vagov/lighthouse526/config"
)

// semantic_logger's application and environment go into every log line:
// refused at start like SIDEKIQ_NAMESPACE when they hold a control character
// or invalid UTF-8, or are absurdly long; the value is never echoed.
var _ = Describe("LOG_APPLICATION and LOG_ENVIRONMENT", func() {
	DescribeTable("refuses what no log line should carry, naming the variable and the limit",
		func(setting, limit string) {
			name, value, _ := strings.Cut(setting, "=")
			_, err := config.Load([]string{setting})
			Expect(problemVars(err)).To(ConsistOf(name))
			Expect(problem(err, name)).To(ContainSubstring(limit))
			Expect(problem(err, name)).NotTo(ContainSubstring(value))
		},
		Entry(nil, "LOG_APPLICATION=vets\x1b[31mapi", "without control characters"),
		Entry(nil, "LOG_APPLICATION=vets-api\n{\"level\":\"fatal\"}", "without control characters"),
		Entry(nil, "LOG_APPLICATION=a\u0085b", "without control characters"),
		Entry(nil, "LOG_APPLICATION=caf\xe9", "UTF-8"),
		Entry("LOG_APPLICATION of 101 bytes", "LOG_APPLICATION="+strings.Repeat("x", config.MaxLogNameBytes+1), "at most 100 bytes, got 101"),
		Entry(nil, "LOG_ENVIRONMENT=prod\x00", "without control characters"),
		Entry(nil, "LOG_ENVIRONMENT=prod\tuction", "without control characters"),
		Entry("LOG_ENVIRONMENT of 1 MiB", "LOG_ENVIRONMENT="+strings.Repeat("p", 1<<20), "at most 100 bytes, got 1048576"),
	)

	DescribeTable("accepts names as vets-api's",
		func(environ ...string) {
			cfg, err := config.Load(environ)
			Expect(err).NotTo(HaveOccurred())
			Expect(cfg.LogApplication).NotTo(BeEmpty())
		},
		Entry("the defaults", nil...),
		Entry("vets-api's", "LOG_APPLICATION=vets-api", "LOG_ENVIRONMENT=production"),
		Entry("a name of 100 bytes, spaces and non-ASCII letters", "LOG_APPLICATION="+strings.Repeat("é", 49)+"  ", "LOG_ENVIRONMENT=staging west"),
	)
})
