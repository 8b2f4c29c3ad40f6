package tasks

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/hibiken/asynq"

	"github.com/vagov/lighthouse526/lighthouse"
)

// RateLimitedError means the shared Lighthouse budget is spent for now. It is
// not a failure: the task runs again after Wait without using up a retry.
type RateLimitedError struct {
	Wait time.Duration
	Err  error
}

func (e *RateLimitedError) Error() string {
	return fmt.Sprintf("rate limited for %s: %v", e.Wait.Round(time.Millisecond), e.Err)
}

func (e *RateLimitedError) Unwrap() error { return e.Err }

// IsFailure is the server's asynq.Config.IsFailure: rate-limit waits are not
// failures.
func IsFailure(err error) bool {
	var rl *RateLimitedError
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
	var rl *RateLimitedError
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

// asRateLimited turns the client's rate-limit error into the task's.
func asRateLimited(err error) (*RateLimitedError, bool) {
	var rl *lighthouse.RateLimitError
	if errors.As(err, &rl) {
		return &RateLimitedError{Wait: rl.Wait, Err: err}, true
	}
	return nil, false
}
