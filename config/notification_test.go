package config_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/vagov/lighthouse526/config"
)

var _ = Describe("The failure follow-up target", func() {
	It("is VA.gov's Sidekiq by default, on its default queue, through the worker's own Redis", func() {
		cfg, err := config.Load(nil)
		Expect(err).NotTo(HaveOccurred())
		Expect(cfg.NotificationTarget).To(Equal(config.NotificationTargetSidekiq))
		Expect(cfg.SidekiqQueue).To(Equal("default"))
		Expect(cfg.SidekiqRedisURL).To(BeEmpty())
		Expect(cfg.SidekiqNamespace).To(BeEmpty())
	})

	It("takes asynq, another Redis, a queue and a namespace", func() {
		cfg, err := config.Load([]string{"NOTIFICATION_TARGET=asynq", "SIDEKIQ_REDIS_URL=redis://:pw@sidekiq.internal:6379/2",
			"SIDEKIQ_QUEUE=mailers", "SIDEKIQ_NAMESPACE=vets-api"})
		Expect(err).NotTo(HaveOccurred())
		Expect(cfg.NotificationTarget).To(Equal(config.NotificationTargetAsynq))
		Expect(cfg.SidekiqRedisURL).To(Equal("redis://:pw@sidekiq.internal:6379/2"))
		Expect(cfg.SidekiqQueue).To(Equal("mailers"))
		Expect(cfg.SidekiqNamespace).To(Equal("vets-api"))
	})

	It("names every invalid setting, without echoing the Redis URL", func() {
		_, err := config.Load([]string{"NOTIFICATION_TARGET=email", "SIDEKIQ_REDIS_URL=http://user:s3cret@host",
			"SIDEKIQ_QUEUE=a queue", "SIDEKIQ_NAMESPACE=ns:"})
		Expect(problemVars(err)).To(ConsistOf("NOTIFICATION_TARGET", "SIDEKIQ_REDIS_URL", "SIDEKIQ_QUEUE", "SIDEKIQ_NAMESPACE"))
		Expect(err.Error()).NotTo(ContainSubstring("s3cret"))
		Expect(err.Error()).To(ContainSubstring(`NOTIFICATION_TARGET: must be one of sidekiq|asynq, got "email"`))
	})

	It("masks the password of SIDEKIQ_REDIS_URL when printed", func() {
		cfg, err := config.Load([]string{"SIDEKIQ_REDIS_URL=redis://:s3cret@sidekiq.internal:6379/2"})
		Expect(err).NotTo(HaveOccurred())
		Expect(cfg.String()).NotTo(ContainSubstring("s3cret"))
		Expect(cfg.String()).To(ContainSubstring("SIDEKIQ_REDIS_URL=redis://:xxxxx@sidekiq.internal:6379/2"))
	})
})
