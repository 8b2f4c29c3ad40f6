package config_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/vagov/lighthouse526/config"
)

var _ = Describe("The hardening settings", func() {
	It("defaults the HTTP servers' timeouts, the token lifetime and the caps", func() {
		cfg, err := config.Load(nil)
		Expect(err).NotTo(HaveOccurred())
		Expect(cfg.HTTPReadHeaderTimeout).To(Equal(5 * time.Second))
		Expect(cfg.HTTPReadTimeout).To(Equal(30 * time.Second))
		Expect(cfg.HTTPWriteTimeout).To(Equal(60 * time.Second))
		Expect(cfg.HTTPIdleTimeout).To(Equal(2 * time.Minute))
		Expect(cfg.APIJWTMaxLifetime).To(Equal(time.Hour))
		Expect(cfg.APIPollsPerMinute).To(Equal(10))
		Expect(cfg.MonitorLoginFailuresPerMinute).To(Equal(5))
		Expect(cfg.MonitorInsecure).To(BeFalse())
	})

	DescribeTable("refuses an unsafe value, naming the variable",
		func(want string, environ ...string) {
			_, err := config.Load(environ)
			Expect(problemVars(err)).To(ConsistOf(want))
		},
		Entry("a zero read timeout", "HTTP_READ_TIMEOUT", "HTTP_READ_TIMEOUT=0s"),
		Entry("a negative header timeout", "HTTP_READ_HEADER_TIMEOUT", "HTTP_READ_HEADER_TIMEOUT=-1s"),
		Entry("a header timeout past the read timeout", "HTTP_READ_HEADER_TIMEOUT", "HTTP_READ_HEADER_TIMEOUT=1m", "HTTP_READ_TIMEOUT=10s"),
		Entry("a zero idle timeout", "HTTP_IDLE_TIMEOUT", "HTTP_IDLE_TIMEOUT=0s"),
		Entry("a zero write timeout", "HTTP_WRITE_TIMEOUT", "HTTP_WRITE_TIMEOUT=0s"),
		Entry("a token lifetime over a day", "API_JWT_MAX_LIFETIME", "API_JWT_MAX_LIFETIME=48h"),
		Entry("no poll cap", "API_POLLS_PER_MINUTE", "API_POLLS_PER_MINUTE=0"),
		Entry("a monitor password under 16 characters", "MONITOR_PASSWORD",
			"MONITOR_USERNAME=ops", "MONITOR_PASSWORD=fifteen-chars!!"),
		Entry("a monitor token under 16 characters", "MONITOR_TOKEN", "MONITOR_TOKEN=short-token"),
		Entry("basic auth on a non-loopback address over plain HTTP", "MONITOR_INSECURE",
			"MONITOR_USERNAME=ops", "MONITOR_PASSWORD="+strongPassword, "MONITOR_ADDR=0.0.0.0:9480"),
		Entry("a token on a non-loopback address over plain HTTP", "MONITOR_INSECURE",
			"MONITOR_TOKEN="+strongToken, "MONITOR_ADDR=10.1.2.3:9480"),
		Entry("no login throttle", "MONITOR_LOGIN_FAILURES_PER_MINUTE", "MONITOR_LOGIN_FAILURES_PER_MINUTE=0"),
	)

	It("accepts a strong 16-character password, and a non-loopback monitor when MONITOR_INSECURE=true says TLS ends in front", func() {
		_, err := config.Load([]string{"MONITOR_USERNAME=ops", "MONITOR_PASSWORD=" + strongPassword})
		Expect(err).NotTo(HaveOccurred())
		_, err = config.Load([]string{
			"MONITOR_USERNAME=ops", "MONITOR_PASSWORD=" + strongPassword,
			"MONITOR_ADDR=0.0.0.0:9480", "MONITOR_INSECURE=true",
		})
		Expect(err).NotTo(HaveOccurred())
	})
})
