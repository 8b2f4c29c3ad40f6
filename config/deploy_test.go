package config_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/vagov/lighthouse526/config"
)

var _ = Describe("What deployments read of the configuration", func() {
	It("names every variable Load reads, the ones the printed configuration lists", func() {
		cfg, err := config.Load(nil)
		Expect(err).NotTo(HaveOccurred())
		var printed []string
		for _, kv := range cfg.Redacted() {
			printed = append(printed, kv[0])
		}
		Expect(config.EnvNames()).To(Equal(printed))
		Expect(config.EnvNames()).To(ContainElements("DATABASE_URL", "METRICS_ADDR", "SHUTDOWN_TIMEOUT"))
	})

	It("counts as secret the values the printed configuration redacts or masks, and no others", func() {
		for _, name := range []string{"LIGHTHOUSE_RSA_KEY", "API_JWT_HS256_SECRET", "MONITOR_PASSWORD", "MONITOR_TOKEN", "DATABASE_URL", "REDIS_URL", "SIDEKIQ_REDIS_URL"} {
			Expect(config.IsSecret(name)).To(BeTrue(), name)
		}
		for _, name := range []string{"LIGHTHOUSE_CLIENT_ID", "LIGHTHOUSE_HOST", "METRICS_ADDR", "SHUTDOWN_TIMEOUT", "MONITOR_USERNAME"} {
			Expect(config.IsSecret(name)).To(BeFalse(), name)
		}
	})
})
