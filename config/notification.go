package config

import (
	"strconv"
	"strings"
	"time"
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

// FailureEmails says who decides whether a failed upload's veteran is
// emailed (FAILURE_NOTIFICATIONS_ENABLED).
type FailureEmails string

const (
	// FailureEmailsFlipper: VA.gov's Flipper flag decides at each failure,
	// as the original's Flipper.enabled? did (the variable unset).
	FailureEmailsFlipper FailureEmails = "flipper"
	// FailureEmailsOn and FailureEmailsOff force the decision, where there
	// is no Flipper (true, false).
	FailureEmailsOn  FailureEmails = "on"
	FailureEmailsOff FailureEmails = "off"
)

// Bounds of FAILURE_NOTIFICATIONS_FLAG_MAX_AGE: shorter would query
// Flipper's tables for nearly every batch, longer would keep emailing long
// after an operator turned the flag off.
const (
	MinFlagMaxAge = time.Second
	MaxFlagMaxAge = 10 * time.Minute
)

// EmailsPossible reports whether a failure may be emailed: the flag can be
// on (Flipper decides), or the emails are forced on.
func (c *Config) EmailsPossible() bool {
	return c.FailureEmails != FailureEmailsOff
}

// failureEmails resolves FAILURE_NOTIFICATIONS_ENABLED and checks the flag's
// cache age.
func (v *validator) failureEmails(c *Config) {
	switch raw := strings.TrimSpace(c.FailureNotificationsEnabled); raw {
	case "":
		c.FailureEmails = FailureEmailsFlipper
	default:
		on, err := strconv.ParseBool(raw)
		if err != nil {
			v.add("FAILURE_NOTIFICATIONS_ENABLED", "must be true or false, or unset to follow Flipper's flag")
			break
		}
		c.FailureEmails = FailureEmailsOff
		if on {
			c.FailureEmails = FailureEmailsOn
		}
	}
	v.durationRange("FAILURE_NOTIFICATIONS_FLAG_MAX_AGE", c.FailureNotificationsFlagMaxAge, MinFlagMaxAge, MaxFlagMaxAge)
}

// RequireEmailTarget refuses what would lose emails silently (`worker run`
// and `worker poll` check it before they start): with emails possible and
// NOTIFICATION_TARGET=sidekiq, SIDEKIQ_REDIS_URL must name VA.gov's Sidekiq
// Redis. Without it the jobs would go into the worker's own Redis, be
// marked sent, and be run by no Sidekiq.
func (c *Config) RequireEmailTarget() error {
	if !c.EmailsPossible() || c.NotificationTarget != NotificationTargetSidekiq || c.SidekiqRedisURL != "" {
		return nil
	}
	why := "FAILURE_NOTIFICATIONS_ENABLED is unset, so Flipper's flag decides and may turn the emails on"
	if c.FailureEmails == FailureEmailsOn {
		why = "FAILURE_NOTIFICATIONS_ENABLED=true"
	}
	return &Error{Problems: []Problem{{
		Var: "SIDEKIQ_REDIS_URL",
		Reason: "required with NOTIFICATION_TARGET=sidekiq when failure emails can be sent (" + why + "): " +
			"set it to the Redis of VA.gov's Sidekiq (Settings.redis.sidekiq.url; the same URL as REDIS_URL if they share one), " +
			"or set FAILURE_NOTIFICATIONS_ENABLED=false",
	}}}
}

// RequireDrainTarget refuses `worker outbox drain` what RequireEmailTarget
// refuses `worker run`, whatever FAILURE_NOTIFICATIONS_ENABLED says now:
// the outbox's entries are emails already decided, and with
// NOTIFICATION_TARGET=sidekiq and no SIDEKIQ_REDIS_URL the drain would push
// them into the worker's own Redis, mark them sent, and no Sidekiq would
// run them.
func (c *Config) RequireDrainTarget() error {
	if c.NotificationTarget != NotificationTargetSidekiq || c.SidekiqRedisURL != "" {
		return nil
	}
	return &Error{Problems: []Problem{{
		Var: "SIDEKIQ_REDIS_URL",
		Reason: "required with NOTIFICATION_TARGET=sidekiq to drain the outbox, whose entries are failure emails already decided: " +
			"set it to the Redis of VA.gov's Sidekiq (Settings.redis.sidekiq.url; the same URL as REDIS_URL if they share one)",
	}}}
}

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
