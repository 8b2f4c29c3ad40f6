package spec_test

import (
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"
)

// semantic_logger's application and environment are written into every log
// line: one with a control character (a terminal escape, a line break that
// forges a second line) or of absurd length is refused at start, exit 2,
// naming the variable and the limit, as SIDEKIQ_NAMESPACE is
// (spec/hostile_test.go).
var _ = Describe("LOG_APPLICATION and LOG_ENVIRONMENT at start", func() {
	DescribeTable("refused by worker config and worker run alike, exit 2, naming the variable and the limit, never echoed",
		func(setting, why string) {
			w := newWorld()
			_, value, _ := strings.Cut(setting, "=")
			for _, cmd := range []string{"config", "run"} {
				session := w.start([]string{cmd}, setting, "METRICS_ADDR="+freeAddr())
				Eventually(session).WithTimeout(30*time.Second).Should(gexec.Exit(2), "worker %s", cmd)
				Expect(string(session.Err.Contents())).To(ContainSubstring(why), "worker %s", cmd)
				Expect(string(session.Err.Contents())).NotTo(ContainSubstring(value), "worker %s", cmd)
			}
			Expect(w.fake.Requests()).To(BeEmpty(), "nothing polled")
		},
		Entry(nil, "LOG_APPLICATION=vets-api\x1b[2J", "LOG_APPLICATION: must be printable UTF-8 text without control characters"),
		Entry(nil, "LOG_ENVIRONMENT=production\n{\"level\":\"fatal\",\"message\":\"forged\"}", "LOG_ENVIRONMENT: must be printable UTF-8 text without control characters"),
		Entry("LOG_ENVIRONMENT of 4 KiB", "LOG_ENVIRONMENT="+strings.Repeat("p", 4096), "LOG_ENVIRONMENT: must be at most 100 bytes, got 4096"),
	)
})
