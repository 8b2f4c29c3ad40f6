// Package runner is how the asynq server runs the task types: retry delays
// and the failure rule, the task middleware (each task's logger with
// task_type, task_id, queue and retry; the task metrics), the exhaustion
// handler and archive sweeper, the cron scheduler, and asynq's logger.
package runner

import (
	"errors"
	"math/rand/v2"
	"time"

	"github.com/hibiken/asynq"

	"github.com/vagov/lighthouse526/lighthouse"
)

// IsFailure is the server's asynq.Config.IsFailure: rate-limit waits (a
// *lighthouse.RateLimitError: the shared budget is spent, or Lighthouse
// answered 429) are not failures and use up no retry.
func IsFailure(err error) bool {
	var rl *lighthouse.RateLimitError
	return !errors.As(err, &rl)
}

// Backoff of failed attempts: 20s, 40s, 80s, 160s, then 5 minutes, each with
// ±20% jitter. With MaxRetry 6 a batch's retries end about 15 minutes after
// its first attempt, well before the next hourly cycle.
const (
	backoffBase = 20 * time.Second
	backoffCap  = 5 * time.Minute
)

// RetryDelay is the server's asynq.Config.RetryDelayFunc.
func RetryDelay(n int, err error, _ *asynq.Task) time.Duration {
	var rl *lighthouse.RateLimitError
	if errors.As(err, &rl) {
		// Spread the waiters a little so they do not all return at once.
		return rl.Wait + time.Duration(rand.Int64N(int64(time.Second)))
	}
	d := backoffCap
	if n < 8 && backoffBase<<n < backoffCap {
		d = backoffBase << n
	}
	jitter := time.Duration(rand.Int64N(int64(d)*2/5)) - d/5
	return d + jitter
}
