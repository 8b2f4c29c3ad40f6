package lighthouse

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
)

// defaultRemotePause is how long every process holds off after a 429 that
// carries neither Retry-After nor RateLimit-Reset.
const defaultRemotePause = 60 * time.Second

// DefaultMaxRetryAfter is Config.MaxRetryAfter's default: the longest pause
// a 429 may set. Lighthouse's limit is per minute (its RateLimit-Reset is at
// most 60 s), so a longer ask is a fault or an attack: one 429 with
// "Retry-After: 99999999999" once paused every replica for centuries.
const DefaultMaxRetryAfter = 5 * time.Minute

// admit lets one API call go, or returns a *RateLimitError. Two gates, both
// shared by every process through Redis: the pause a Lighthouse 429 set, then
// the GCRA budget of RateLimitPerMinute. A wait up to MaxRateLimitWait is
// spent here (ctx-aware) instead of returned.
func (c *Client) admit(ctx context.Context) error {
	for {
		wait, remote, err := c.reserve(ctx)
		if err != nil {
			return err
		}
		if wait <= 0 {
			return nil
		}
		source := "local"
		if remote {
			source = "remote"
		}
		c.m.rateLimited.WithLabelValues(source).Inc()
		if wait > c.cfg.MaxRateLimitWait {
			return &RateLimitError{Wait: wait, Remote: remote}
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("lighthouse: waiting for the rate limit: %w", ctx.Err())
		case <-t.C:
		}
	}
}

// reserve takes one unit of the budget, or says how long to wait and
// whether the wait comes from Lighthouse (remote) or our budget.
func (c *Client) reserve(ctx context.Context) (time.Duration, bool, error) {
	pause, err := c.rdb.PTTL(ctx, c.key("pause")).Result()
	if err != nil {
		return 0, false, fmt.Errorf("lighthouse: rate limit pause: %w", err)
	}
	if pause > c.cfg.MaxRetryAfter {
		// Set by a build without the cap, or by hand: it never holds
		// polling longer than the cap (LT: only ever shortened, so the
		// replicas that see it at once agree).
		if err := c.rdb.ExpireLT(ctx, c.key("pause"), c.cfg.MaxRetryAfter).Err(); err != nil {
			return 0, false, fmt.Errorf("lighthouse: rate limit pause: %w", err)
		}
		pause = c.cfg.MaxRetryAfter
	}
	if pause > 0 { // -1/-2 mean no expiry/no key
		return pause, true, nil
	}
	res, err := c.limiter.Allow(ctx, c.key("ratelimit"), redis_rate.Limit{
		Rate:   c.cfg.RateLimitPerMinute,
		Period: time.Minute,
		Burst:  c.cfg.RateLimitBurst,
	})
	if err != nil {
		return 0, false, fmt.Errorf("lighthouse: rate limit: %w", err)
	}
	if res.Allowed == 0 {
		return max(res.RetryAfter, time.Millisecond), false, nil
	}
	return 0, false, nil
}

// remoteLimited records a Lighthouse 429 as a pause every process honours and
// returns the error for it.
func (c *Client) remoteLimited(ctx context.Context, h http.Header) error {
	wait, asked := retryAfter(h, c.now())
	if wait > c.cfg.MaxRetryAfter {
		c.m.retryAfterCapped.Inc()
		c.log.WarnContext(ctx, "Lighthouse asked to wait longer than LIGHTHOUSE_MAX_RETRY_AFTER; waiting that long instead",
			"header", asked.name, "header_value", excerpt([]byte(asked.value), 100),
			"asked_seconds", wait.Seconds(), "max_retry_after", c.cfg.MaxRetryAfter.String())
		wait = c.cfg.MaxRetryAfter
	}
	c.m.rateLimited.WithLabelValues("remote").Inc()
	until := strconv.FormatInt(c.now().Add(wait).UnixMilli(), 10)
	if err := c.rdb.Set(ctx, c.key("pause"), until, wait).Err(); err != nil {
		return fmt.Errorf("lighthouse: rate limit pause: %w", err)
	}
	return &RateLimitError{Wait: wait, Remote: true}
}

// header is the response header a wait was read from, for the log of a
// wait refused as too long.
type header struct{ name, value string }

// maxHeaderSeconds is the longest wait retryAfter reads from a header as it
// is (about 292 years, time.Duration's range); a longer one reads as that.
const maxHeaderSeconds = int64(math.MaxInt64 / int64(time.Second))

// retryAfter reads how long a 429 asks us to wait, and from which header:
// Retry-After (seconds or an HTTP date), else RateLimit-Reset (seconds), else
// 60s. It reads the wait as asked, however long (saturated at
// maxHeaderSeconds); the caller caps it.
func retryAfter(h http.Header, now time.Time) (time.Duration, header) {
	if v := strings.TrimSpace(h.Get("Retry-After")); v != "" {
		if d, ok := headerSeconds(v); ok {
			return d, header{"Retry-After", v}
		}
		if t, err := http.ParseTime(v); err == nil && t.After(now) {
			d := t.Sub(now) // saturates at time.Duration's range
			return d, header{"Retry-After", v}
		}
	}
	if v := strings.TrimSpace(h.Get("RateLimit-Reset")); v != "" {
		if d, ok := headerSeconds(v); ok {
			return d, header{"RateLimit-Reset", v}
		}
	}
	return defaultRemotePause, header{}
}

// headerSeconds reads a positive whole number of seconds; one past
// time.Duration's range reads as maxHeaderSeconds.
func headerSeconds(v string) (time.Duration, bool) {
	s, err := strconv.ParseInt(v, 10, 64)
	var ne *strconv.NumError
	switch {
	case err == nil && s > 0:
	case errors.As(err, &ne) && errors.Is(ne.Err, strconv.ErrRange) && !strings.HasPrefix(v, "-"):
		s = maxHeaderSeconds
	default:
		return 0, false
	}
	return time.Duration(min(s, maxHeaderSeconds)) * time.Second, true
}

// NewRedisLimiter is a GCRA limiter (redis_rate) whose keys are exactly the
// keys it is given: redis_rate prepends "rate:" to every key, which would put
// them outside REDIS_KEY_PREFIX, the product's own namespace on a shared
// Redis. The enqueue API's poll cap and the monitor's login throttle use it.
func NewRedisLimiter(rdb redis.UniversalClient) *redis_rate.Limiter {
	return redis_rate.NewLimiter(unprefixed{rdb})
}

// unprefixed adapts Redis for redis_rate, which prepends "rate:" to every key:
// it strips that prefix so the limiter's key lives under our RedisPrefix with
// the rest of this product's keys.
type unprefixed struct{ redis.UniversalClient }

func strip(keys []string) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = strings.TrimPrefix(k, "rate:")
	}
	return out
}

func (u unprefixed) Eval(ctx context.Context, script string, keys []string, args ...any) *redis.Cmd {
	return u.UniversalClient.Eval(ctx, script, strip(keys), args...)
}

func (u unprefixed) EvalSha(ctx context.Context, sha1 string, keys []string, args ...any) *redis.Cmd {
	return u.UniversalClient.EvalSha(ctx, sha1, strip(keys), args...)
}

func (u unprefixed) EvalRO(ctx context.Context, script string, keys []string, args ...any) *redis.Cmd {
	return u.UniversalClient.EvalRO(ctx, script, strip(keys), args...)
}

func (u unprefixed) EvalShaRO(ctx context.Context, sha1 string, keys []string, args ...any) *redis.Cmd {
	return u.UniversalClient.EvalShaRO(ctx, sha1, strip(keys), args...)
}

func (u unprefixed) Del(ctx context.Context, keys ...string) *redis.IntCmd {
	return u.UniversalClient.Del(ctx, strip(keys)...)
}
