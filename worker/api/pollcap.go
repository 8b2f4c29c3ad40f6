package api

import (
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/vagov/lighthouse526/worker/allowance"
)

// PollCap caps POST /v1/polls per caller: every poll spends calls of the
// Lighthouse budget that the worker's own cycles and every other caller
// share, so one token (one subject) cannot spend it all. It counts the
// Lighthouse calls a poll costs, not requests: a poll of n request ids is
// ceil(n / BatchSize) calls (one token subject once queued 311 batches a
// minute in 10 requests of 2,999 ids), a poll of a submission one (its few
// uploads fit one batch). The GCRA state lives in Redis under KeyPrefix,
// shared by every API replica, keyed by the token's subject (never the
// token itself, which would put a credential in Redis and give a caller a
// fresh budget with every token it mints).
type PollCap struct {
	Redis     redis.UniversalClient
	KeyPrefix string // REDIS_KEY_PREFIX
	PerMinute int    // calls' worth of polls a minute (API_POLLS_PER_MINUTE)
	// BatchSize is the request ids one call asks about (POLL_BATCH_SIZE);
	// default the product's 100.
	BatchSize int
}

// defaultPollCapBatch is PollCap.BatchSize's default: POLL_BATCH_SIZE's.
const defaultPollCapBatch = 100

func (p *PollCap) batchSize() int {
	if p.BatchSize <= 0 {
		return defaultPollCapBatch
	}
	return p.BatchSize
}

// calls is what a poll of ids request ids (0: a submission) costs.
func (p *PollCap) calls(ids int) int {
	size := p.batchSize()
	return max(1, (ids+size-1)/size)
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
