// Package allowance is an allowance of n a minute per key, kept in Redis so
// that every replica shares it: the enqueue API's poll cap (worker/api) spends
// it per token subject, the monitor's login throttle (worker/monitor) per
// failed login's address.
package allowance

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"

	"github.com/vagov/lighthouse526/lighthouse"
)

// PerMinute is n a minute per key (GCRA, redis_rate): the whole minute's
// allowance may be used at once, then one more per 60/n seconds.
type PerMinute struct {
	limiter *redis_rate.Limiter
	prefix  string
	limit   redis_rate.Limit
}

// New is the allowance of setting what (whose rate field is rateField), under
// keyPrefix+keySpace, or an error naming what it lacks.
func New(what, rateField string, rdb redis.UniversalClient, keyPrefix, keySpace string, n int) (*PerMinute, error) {
	if rdb == nil || keyPrefix == "" || n < 1 {
		return nil, fmt.Errorf("%s needs Redis, KeyPrefix and %s ≥ 1", what, rateField)
	}
	return &PerMinute{
		limiter: lighthouse.NewRedisLimiter(rdb),
		prefix:  keyPrefix + keySpace,
		limit:   redis_rate.Limit{Rate: n, Burst: n, Period: time.Minute},
	}, nil
}

// Take spends one of key's allowance, or says how long to wait (whole
// seconds) when none is left.
func (t *PerMinute) Take(ctx context.Context, key string) (time.Duration, error) {
	return t.TakeN(ctx, key, 1)
}

// ErrOverAllowance is TakeN's error for n larger than a whole minute's
// allowance: waiting would never let it through.
var ErrOverAllowance = errors.New("more than a minute's allowance at once")

// TakeN spends n of key's allowance at once, or none and says how long to
// wait (whole seconds) until n are left.
func (t *PerMinute) TakeN(ctx context.Context, key string, n int) (time.Duration, error) {
	if n > t.limit.Burst {
		return 0, fmt.Errorf("%d of %d a minute: %w", n, t.limit.Rate, ErrOverAllowance)
	}
	res, err := t.limiter.AllowN(ctx, t.prefix+key, t.limit, n)
	if err != nil {
		return 0, err
	}
	if res.Allowed > 0 {
		return 0, nil
	}
	return time.Duration(math.Ceil(res.RetryAfter.Seconds())) * time.Second, nil
}

// PerMinute is the allowance a minute.
func (t *PerMinute) PerMinute() int { return t.limit.Rate }

// Wait says how long key must wait before one more may be taken (0: now),
// at least a second when it must. It spends nothing: a cost-0 look at the
// GCRA state, whose Remaining is how many key has left.
func (t *PerMinute) Wait(ctx context.Context, key string) (time.Duration, error) {
	res, err := t.limiter.AllowN(ctx, t.prefix+key, t.limit, 0)
	if err != nil {
		return 0, err
	}
	if res.Remaining >= 1 {
		return 0, nil
	}
	// One is allowed again once the state has drained by one emission
	// interval below the full burst.
	interval := t.limit.Period / time.Duration(t.limit.Rate)
	return max(res.ResetAfter-t.limit.Period+interval, time.Second), nil
}
