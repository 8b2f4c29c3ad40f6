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

// capper is a PollCap ready to use.
type capper struct {
	limiter *redis_rate.Limiter
	prefix  string
	limit   redis_rate.Limit
}

func (p *PollCap) build() (*capper, error) {
	if p == nil {
		return nil, nil
	}
	if p.Redis == nil || p.PerMinute < 1 || p.KeyPrefix == "" {
		return nil, fmt.Errorf("api: PollCap needs Redis, KeyPrefix and PerMinute ≥ 1")
	}
	return &capper{
		limiter: lighthouse.NewRedisLimiter(p.Redis),
		prefix:  p.KeyPrefix + "api:polls:",
		// The whole minute's allowance may be used at once; then one more
		// per 60/PerMinute seconds.
		limit: redis_rate.Limit{Rate: p.PerMinute, Burst: p.PerMinute, Period: time.Minute},
	}, nil
}

// allow takes one poll of subject's allowance, or says how long to wait.
func (c *capper) allow(ctx context.Context, subject string) (time.Duration, error) {
	res, err := c.limiter.Allow(ctx, c.prefix+subject, c.limit)
	if err != nil {
		return 0, fmt.Errorf("poll cap: %w", err)
	}
	if res.Allowed > 0 {
		return 0, nil
	}
	return time.Duration(math.Ceil(res.RetryAfter.Seconds())) * time.Second, nil
}
