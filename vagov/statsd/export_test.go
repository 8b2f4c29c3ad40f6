package statsd

import (
	"context"
	"net"
	"time"
)

// WithLookup returns cfg resolving host names with lookup, and waiting
// first before the second attempt (the wait doubles from there).
func WithLookup(cfg Config, lookup func(ctx context.Context, host string) ([]net.IPAddr, error), first time.Duration) Config {
	cfg.lookup, cfg.retryWait = lookup, first
	return cfg
}
