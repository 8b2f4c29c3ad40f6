package api

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"

	"github.com/vagov/lighthouse526/lighthouse"
)

// PollCap caps POST /v1/polls per caller: every poll spends calls of the
// Lighthouse budget that the worker's own cycles and every other caller
// share, so one token (one subject) cannot spend it all. The GCRA state
// lives in Redis under KeyPrefix, shared by every API replica, keyed by the
// token's subject (never the token itself, which would put a credential in
// Redis and give a caller a fresh budget with every token it mints).
type PollCap struct {
	Redis     redis.UniversalClient
	KeyPrefix string // REDIS_KEY_PREFIX
	PerMinute int
}

func (p *PollCap) build() (*perMinute, error) {
	if p == nil {
		return nil, nil
	}
	return newPerMinute("PollCap", "PerMinute", p.Redis, p.KeyPrefix, "api:polls:", p.PerMinute)
}

// perMinute is an allowance of n a minute per key, kept in Redis (GCRA,
// redis_rate) so that every replica shares it: the whole minute's allowance
// may be used at once, then one more per 60/n seconds. The poll cap spends
// it per token subject, the login throttle per failed login's address.
type perMinute struct {
	limiter *redis_rate.Limiter
	prefix  string
	limit   redis_rate.Limit
}

// newPerMinute is the allowance of setting what (whose rate field is
// rateField), under keyPrefix+keySpace, or an error naming what it lacks.
func newPerMinute(what, rateField string, rdb redis.UniversalClient, keyPrefix, keySpace string, n int) (*perMinute, error) {
	if rdb == nil || keyPrefix == "" || n < 1 {
		return nil, fmt.Errorf("api: %s needs Redis, KeyPrefix and %s ≥ 1", what, rateField)
	}
	return &perMinute{
		limiter: lighthouse.NewRedisLimiter(rdb),
		prefix:  keyPrefix + keySpace,
		limit:   redis_rate.Limit{Rate: n, Burst: n, Period: time.Minute},
	}, nil
}

// allow takes one poll of subject's allowance, or says how long to wait.
func (t *perMinute) allow(ctx context.Context, subject string) (time.Duration, error) {
	res, err := t.limiter.Allow(ctx, t.prefix+subject, t.limit)
	if err != nil {
		return 0, fmt.Errorf("poll cap: %w", err)
	}
	if res.Allowed > 0 {
		return 0, nil
	}
	return time.Duration(math.Ceil(res.RetryAfter.Seconds())) * time.Second, nil
}
