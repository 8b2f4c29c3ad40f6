package config

import (
	"strings"
	"unicode"

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
	if c.SidekiqQueue == "" || strings.ContainsAny(c.SidekiqQueue, " \t\n{}") || hasControl(c.SidekiqQueue) {
		v.add("SIDEKIQ_QUEUE", "must be a non-empty name without spaces, braces or control characters")
	}
	ns := c.SidekiqNamespace
	switch {
	case strings.ContainsAny(ns, " \t\n{}") || strings.HasSuffix(ns, ":") || hasControl(ns):
		v.add("SIDEKIQ_NAMESPACE", "must be the namespace as Sidekiq's configuration names it: no spaces, braces, control characters or trailing colon")
	case inAsynqKeys(ns):
		// <ns>:queues is asynq's own set of queues when ns is "asynq".
		v.add("SIDEKIQ_NAMESPACE", "must not be asynq or inside asynq's namespace (its keys are asynq:*): the email jobs would be written into asynq's own keys")
	case c.RedisKeyPrefix != "" && strings.HasPrefix(ns+":", c.RedisKeyPrefix):
		v.add("SIDEKIQ_NAMESPACE", "must not be inside REDIS_KEY_PREFIX (%q), the worker's own keys", c.RedisKeyPrefix)
	}
}

// inAsynqKeys reports whether keys under the namespace or prefix p ("p:...")
// can be asynq's own (asynq:*), whatever their case (Redis keys are case
// sensitive, but a name of asynq's in another case is a slip worth a stop).
func inAsynqKeys(p string) bool {
	return strings.HasPrefix(strings.ToLower(p), "asynq")
}

// hasControl reports whether s holds a control character (ESC, NUL, a
// newline...), which a name printed to a terminal or a log must not carry.
func hasControl(s string) bool {
	return strings.IndexFunc(s, unicode.IsControl) >= 0
}
