package config

import (
	"strings"

	"github.com/redis/go-redis/v9"
)

// Notification targets (NOTIFICATION_TARGET): where the outbox relay sends
// the failure follow-ups.
const (
	// NotificationTargetSidekiq pushes VA.gov's email jobs onto its Sidekiq,
	// as the original did.
	NotificationTargetSidekiq = "sidekiq"
	// NotificationTargetAsynq enqueues this worker's follow-up tasks, for
	// deployments with a Go consumer.
	NotificationTargetAsynq = "asynq"
)

// notificationTarget checks NOTIFICATION_TARGET and the SIDEKIQ_* settings.
// The Sidekiq ones are checked whatever the target, so a typo is caught
// before someone switches to it.
func (v *validator) notificationTarget(c *Config) {
	v.oneOf("NOTIFICATION_TARGET", c.NotificationTarget, NotificationTargetSidekiq, NotificationTargetAsynq)
	if c.SidekiqRedisURL != "" {
		if _, err := redis.ParseURL(c.SidekiqRedisURL); err != nil {
			// Never echo the value: it may carry a password.
			v.add("SIDEKIQ_REDIS_URL", "not a redis:// or rediss:// URL")
		}
	}
	if c.SidekiqQueue == "" || strings.ContainsAny(c.SidekiqQueue, " \t\n{}") {
		v.add("SIDEKIQ_QUEUE", "must be a non-empty name without spaces or braces")
	}
	if strings.ContainsAny(c.SidekiqNamespace, " \t\n{}") || strings.HasSuffix(c.SidekiqNamespace, ":") {
		v.add("SIDEKIQ_NAMESPACE", "must be the namespace as Sidekiq's configuration names it: no spaces, braces or trailing colon")
	}
}
