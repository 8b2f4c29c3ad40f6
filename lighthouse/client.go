// Package lighthouse is a client of the Lighthouse Benefits Documents API v1:
// OAuth client credentials with a private_key_jwt assertion, the document
// upload and upload status endpoints, and a request budget shared by every
// process through Redis. It knows nothing of the database.
//
// Redis keys (all under Config.RedisPrefix):
//
//	<prefix>token        the cached access token (TTL: expires_in minus a margin)
//	<prefix>token:lock   held while one process fetches a token
//	<prefix>ratelimit    the GCRA state of the shared budget
//	<prefix>pause        set after a Lighthouse 429; no process calls until it expires
//	                     (never longer than Config.MaxRetryAfter)
package lighthouse

import (
	"bytes"
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/singleflight"
)

// Defaults applied by NewClient to zero Config fields.
const (
	DefaultTimeout            = 65 * time.Second // the original's Lighthouse timeout
	DefaultRateLimitPerMinute = 60
	DefaultRedisPrefix        = "lighthouse526:"
)

// Body size limits: a status answer for 100 ids is far below 10 MiB; error
// bodies are only kept for their first lines.
const (
	maxBodyBytes  = 10 << 20
	maxErrorBytes = 64 << 10
)

// Config is the client's configuration; the config package fills it.
type Config struct {
	BaseURL            string          // API base incl. /services/benefits-documents/v1
	TokenURL           string          // where the assertion is POSTed
	AudClaimURL        string          // the aud of the client assertion (the Okta token URL)
	ClientID           string          // iss and sub of the assertion
	PrivateKey         *rsa.PrivateKey // signs the assertion
	KeyID              string          // optional kid header of the assertion
	Timeout            time.Duration   // per HTTP request; default DefaultTimeout
	RateLimitPerMinute int             // budget shared by every process; default 60
	// RateLimitBurst is how many calls may leave at once after an idle spell;
	// default 1: calls leave evenly spaced, so no fixed minute of Lighthouse's
	// gateway sees more than the budget (a burst after idling spills into 429s).
	RateLimitBurst   int
	MaxRateLimitWait time.Duration // waits up to this long in-process for the budget; 0 = never wait
	// MaxRetryAfter caps the pause a 429 sets for every process (its
	// Retry-After or RateLimit-Reset); default DefaultMaxRetryAfter.
	MaxRetryAfter time.Duration
	RedisPrefix   string // prefix of this product's Redis keys; default "lighthouse526:"
}

// Option customises a Client.
type Option func(*Client)

// WithHTTPClient replaces the HTTP client (its Timeout is kept; Config.Timeout
// still bounds each request through its context).
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.http = hc } }

// WithRegisterer registers the client's metrics on reg. Without it they go
// to a private registry, never the global default one.
func WithRegisterer(reg prometheus.Registerer) Option { return func(c *Client) { c.reg = reg } }

// WithLogger sets the logger: token refreshes at debug; a 429's refused
// wait and repaired status entries at warn.
func WithLogger(l *slog.Logger) Option { return func(c *Client) { c.log = l } }

// WithClock sets the clock used for assertion times and token expiry.
func WithClock(now func() time.Time) Option { return func(c *Client) { c.now = now } }

// Client calls Lighthouse. It is safe for concurrent use.
type Client struct {
	cfg     Config
	base    *url.URL
	rdb     redis.UniversalClient
	http    *http.Client
	reg     prometheus.Registerer
	log     *slog.Logger
	now     func() time.Time
	m       *metrics
	limiter *redis_rate.Limiter
	flight  singleflight.Group
	flights tokenFlights
	sealer  *tokenSealer
	// life ends at Close; callers counts the token calls in progress.
	life    context.Context
	stop    context.CancelFunc
	callers sync.WaitGroup
}

// NewClient validates cfg, applies defaults and builds a Client.
func NewClient(cfg Config, rdb redis.UniversalClient, opts ...Option) (*Client, error) {
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.RateLimitPerMinute == 0 {
		cfg.RateLimitPerMinute = DefaultRateLimitPerMinute
	}
	if cfg.RateLimitBurst <= 0 {
		cfg.RateLimitBurst = 1
	}
	if cfg.RedisPrefix == "" {
		cfg.RedisPrefix = DefaultRedisPrefix
	}
	if cfg.MaxRetryAfter == 0 {
		cfg.MaxRetryAfter = DefaultMaxRetryAfter
	}
	base, err := cfg.validate(rdb)
	if err != nil {
		return nil, err
	}
	c := &Client{cfg: cfg, base: base, rdb: rdb, now: time.Now}
	for _, opt := range opts {
		opt(c)
	}
	if c.http == nil {
		c.http = &http.Client{Timeout: cfg.Timeout}
	}
	if c.reg == nil {
		c.reg = prometheus.NewRegistry()
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	c.m = newMetrics(c.reg)
	c.limiter = NewRedisLimiter(rdb)
	if c.sealer, err = newTokenSealer(cfg.PrivateKey); err != nil {
		return nil, err
	}
	c.life, c.stop = context.WithCancel(context.Background())
	return c, nil
}

func (cfg Config) validate(rdb redis.UniversalClient) (*url.URL, error) {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	base, err := absoluteURL(cfg.BaseURL)
	if err != nil {
		bad("lighthouse: BaseURL: %w", err)
	}
	if _, err := absoluteURL(cfg.TokenURL); err != nil {
		bad("lighthouse: TokenURL: %w", err)
	}
	if _, err := absoluteURL(cfg.AudClaimURL); err != nil {
		bad("lighthouse: AudClaimURL: %w", err)
	}
	if strings.TrimSpace(cfg.ClientID) == "" {
		bad("lighthouse: ClientID is empty")
	}
	if cfg.PrivateKey == nil {
		bad("lighthouse: PrivateKey is nil")
	} else if err := cfg.PrivateKey.Validate(); err != nil {
		bad("lighthouse: PrivateKey is invalid: %w", err)
	}
	if cfg.Timeout < 0 {
		bad("lighthouse: Timeout %s is negative", cfg.Timeout)
	}
	if cfg.RateLimitPerMinute < 0 {
		bad("lighthouse: RateLimitPerMinute %d is negative", cfg.RateLimitPerMinute)
	}
	if cfg.MaxRetryAfter < time.Second {
		bad("lighthouse: MaxRetryAfter %s is under a second", cfg.MaxRetryAfter)
	}
	if cfg.MaxRateLimitWait < 0 {
		bad("lighthouse: MaxRateLimitWait %s is negative", cfg.MaxRateLimitWait)
	}
	if rdb == nil {
		bad("lighthouse: a Redis client is required (token cache and shared rate limit)")
	}
	return base, errors.Join(errs...)
}

func absoluteURL(s string) (*url.URL, error) {
	if s == "" {
		return nil, errors.New("is empty")
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("is not a URL: %w", err)
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("%q is not an absolute http(s) URL", s)
	}
	return u, nil
}

// endpointURL joins a path relative to the base URL (which has no trailing
// slash requirement).
func (c *Client) endpointURL(path string) string {
	u := *c.base
	u.Path = strings.TrimSuffix(u.Path, "/") + "/" + strings.TrimPrefix(path, "/")
	u.RawPath = ""
	return u.String()
}

// apiCall describes one API request. body is called once per attempt so the
// request can be sent again after a token refresh.
type apiCall struct {
	endpoint string
	method   string
	path     string
	body     func() (io.Reader, string, error) // reader, content type
}

// do sends an API call: shared budget, token, request, one retry with a new
// token on 401. It returns the 2xx body or a typed error.
func (c *Client) do(ctx context.Context, call apiCall) ([]byte, error) {
	if err := c.admit(ctx); err != nil {
		return nil, err
	}
	tok, err := c.token(ctx)
	if err != nil {
		return nil, err
	}
	status, hdr, body, err := c.send(ctx, call, tok)
	if err != nil {
		return nil, err
	}
	if status == http.StatusUnauthorized {
		if tok, err = c.refreshAfter401(ctx, tok); err != nil {
			return nil, err
		}
		if err := c.admit(ctx); err != nil { // the second attempt is a call too
			return nil, err
		}
		if status, hdr, body, err = c.send(ctx, call, tok); err != nil {
			return nil, err
		}
	}
	switch {
	case status == http.StatusTooManyRequests:
		return nil, c.remoteLimited(ctx, hdr)
	case status < 200 || status > 299:
		return nil, newAPIError(call.endpoint, status, body)
	}
	return body, nil
}

// send makes one HTTP attempt and reads the body (10 MiB on 2xx, 64 KiB else).
func (c *Client) send(ctx context.Context, call apiCall, tok string) (int, http.Header, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	var body io.Reader
	var contentType string
	if call.body != nil {
		var err error
		if body, contentType, err = call.body(); err != nil {
			return 0, nil, nil, err
		}
	}
	req, err := http.NewRequestWithContext(ctx, call.method, c.endpointURL(call.path), body)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("lighthouse: %s: %w", call.endpoint, err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", "Bearer "+tok)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return c.roundTrip(req, call.endpoint)
}

// roundTrip sends req, records metrics and reads the body.
func (c *Client) roundTrip(req *http.Request, endpoint string) (int, http.Header, []byte, error) {
	start := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		c.m.duration.WithLabelValues(endpoint).Observe(time.Since(start).Seconds())
		c.m.responses.WithLabelValues(endpoint, "error").Inc()
		return 0, nil, nil, fmt.Errorf("lighthouse: %s: %w", endpoint, err)
	}
	defer resp.Body.Close()
	limit := int64(maxErrorBytes)
	if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		limit = maxBodyBytes
	}
	body, err := readBody(resp, limit)
	c.m.duration.WithLabelValues(endpoint).Observe(time.Since(start).Seconds())
	if err != nil {
		c.m.responses.WithLabelValues(endpoint, "error").Inc()
		return 0, nil, nil, fmt.Errorf("lighthouse: %s: reading HTTP %d body: %w", endpoint, resp.StatusCode, err)
	}
	c.m.responses.WithLabelValues(endpoint, codeClass(resp.StatusCode)).Inc()
	return resp.StatusCode, resp.Header, body, nil
}

// readBody reads at most limit bytes of the body into a buffer sized once
// from Content-Length when the server sent one (a thousand-status answer is
// about half a megabyte: io.ReadAll, starting from 512 bytes, would regrow
// and copy it about ten times).
func readBody(resp *http.Response, limit int64) ([]byte, error) {
	var buf bytes.Buffer
	if n := resp.ContentLength; n > 0 && n <= limit {
		buf.Grow(int(n) + bytes.MinRead)
	}
	_, err := buf.ReadFrom(io.LimitReader(resp.Body, limit))
	return buf.Bytes(), err
}

// key returns a Redis key under the configured prefix.
func (c *Client) key(name string) string { return c.cfg.RedisPrefix + name }
