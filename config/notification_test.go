package config_test

import (
	"time"

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

var _ = Describe("Who decides the failure emails (FAILURE_NOTIFICATIONS_ENABLED)", func() {
	It("is VA.gov's Flipper flag when unset, read at most a minute old", func() {
		for _, environ := range [][]string{nil, {"FAILURE_NOTIFICATIONS_ENABLED="}, {"FAILURE_NOTIFICATIONS_ENABLED= "}} {
			cfg, err := config.Load(environ)
			Expect(err).NotTo(HaveOccurred())
			Expect(cfg.FailureEmails).To(Equal(config.FailureEmailsFlipper), "%q", environ)
			Expect(cfg.FailureNotificationsFlagMaxAge).To(Equal(time.Minute))
			Expect(cfg.EmailsPossible()).To(BeTrue())
		}
	})

	DescribeTable("is forced by true or false, for places without Flipper",
		func(value string, want config.FailureEmails) {
			cfg, err := config.Load([]string{"FAILURE_NOTIFICATIONS_ENABLED=" + value})
			Expect(err).NotTo(HaveOccurred())
			Expect(cfg.FailureEmails).To(Equal(want))
			Expect(cfg.EmailsPossible()).To(Equal(want == config.FailureEmailsOn))
		},
		Entry("true", "true", config.FailureEmailsOn),
		Entry("false", "false", config.FailureEmailsOff),
		Entry("1, as a boolean variable takes it", "1", config.FailureEmailsOn),
		Entry("FALSE", "FALSE", config.FailureEmailsOff),
	)

	It("refuses anything else, and a flag age that cannot work, naming each", func() {
		_, err := config.Load([]string{"FAILURE_NOTIFICATIONS_ENABLED=flipper", "FAILURE_NOTIFICATIONS_FLAG_MAX_AGE=500ms"})
		Expect(problemVars(err)).To(ConsistOf("FAILURE_NOTIFICATIONS_ENABLED", "FAILURE_NOTIFICATIONS_FLAG_MAX_AGE"))
		Expect(err.Error()).To(ContainSubstring("FAILURE_NOTIFICATIONS_ENABLED: must be true or false, or unset to follow Flipper's flag"))
		Expect(err.Error()).To(ContainSubstring("FAILURE_NOTIFICATIONS_FLAG_MAX_AGE: must be between 1s and 10m0s, got 500ms"))

		_, err = config.Load([]string{"FAILURE_NOTIFICATIONS_FLAG_MAX_AGE=1h"})
		Expect(problemVars(err)).To(ConsistOf("FAILURE_NOTIFICATIONS_FLAG_MAX_AGE"))
		cfg, err := config.Load([]string{"FAILURE_NOTIFICATIONS_FLAG_MAX_AGE=2s"})
		Expect(err).NotTo(HaveOccurred())
		Expect(cfg.FailureNotificationsFlagMaxAge).To(Equal(2 * time.Second))
	})
})

var _ = Describe("RequireEmailTarget", func() {
	DescribeTable("refuses emails to Sidekiq without SIDEKIQ_REDIS_URL, where they would be lost",
		func(environ []string, refused bool) {
			cfg, err := config.Load(environ)
			Expect(err).NotTo(HaveOccurred())
			err = cfg.RequireEmailTarget()
			if !refused {
				Expect(err).NotTo(HaveOccurred())
				return
			}
			Expect(problemVars(err)).To(ConsistOf("SIDEKIQ_REDIS_URL"))
			Expect(err.Error()).To(ContainSubstring("SIDEKIQ_REDIS_URL: required with NOTIFICATION_TARGET=sidekiq when failure emails can be sent"))
			Expect(err.Error()).To(ContainSubstring("or set FAILURE_NOTIFICATIONS_ENABLED=false"))
		},
		Entry("the flag may be on (Flipper decides)", nil, true),
		Entry("the emails forced on", []string{"FAILURE_NOTIFICATIONS_ENABLED=true"}, true),
		Entry("the emails forced off", []string{"FAILURE_NOTIFICATIONS_ENABLED=false"}, false),
		Entry("Sidekiq's Redis named", []string{"SIDEKIQ_REDIS_URL=redis://sidekiq.internal:6379/0"}, false),
		Entry("the worker's own tasks instead", []string{"NOTIFICATION_TARGET=asynq", "FAILURE_NOTIFICATIONS_ENABLED=true"}, false),
	)
})
