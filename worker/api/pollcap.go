package api

import (
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/vagov/lighthouse526/worker/allowance"
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

func (p *PollCap) build() (*allowance.PerMinute, error) {
	if p == nil {
		return nil, nil
	}
	a, err := allowance.New("PollCap", "PerMinute", p.Redis, p.KeyPrefix, "api:polls:", p.PerMinute)
	if err != nil {
		return nil, fmt.Errorf("api: %w", err)
	}
	return a, nil
}
