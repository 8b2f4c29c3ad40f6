package lighthouse

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/redis/go-redis/v9"
)

const (
	assertionType     = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
	tokenScope        = "documents.read documents.write"
	assertionLifetime = 300 * time.Second // the most the token endpoint accepts
	tokenLockPoll     = 100 * time.Millisecond
)

// cachedToken is what the Redis token key holds, sealed (tokenSealer).
// ExpiresAt is by the client's clock (so an injected clock governs expiry);
// the key's TTL is only a backstop.
type cachedToken struct {
	AccessToken string    `json:"access_token"`
	ExpiresAt   time.Time `json:"expires_at"`
}

// lockReleaseWait bounds how long a caller that gave up waits for the
// cancelled fetch to release its lock.
const lockReleaseWait = 5 * time.Second

// errClosed is a token call on a closed client.
var errClosed = errors.New("lighthouse: the client is closed")

// token returns a valid access token: from Redis when cached, else fetched
// once per process (singleflight) and, across processes, by the holder of a
// short Redis lock while the others wait for the cache.
func (c *Client) token(ctx context.Context) (string, error) {
	if c.life.Err() != nil {
		return "", errClosed
	}
	c.callers.Add(1)
	defer c.callers.Done()
	if tok, ok, err := c.cachedToken(ctx); err != nil || ok {
		return tok, err
	}
	fctx := c.joinFlight(ctx)
	ch := c.flight.DoChan("token", func() (any, error) {
		return c.fetchShared(fctx)
	})
	select {
	case <-ctx.Done():
		if c.leaveFlight() {
			// The fetch is cancelled: let it release the lock before the
			// caller (maybe a process on its way out) goes on.
			t := time.NewTimer(lockReleaseWait)
			defer t.Stop()
			select {
			case <-ch:
			case <-t.C:
			}
		}
		return "", fmt.Errorf("lighthouse: token: %w", ctx.Err())
	case r := <-ch:
		c.leaveFlight()
		if r.Err != nil {
			return "", r.Err
		}
		return r.Val.(string), nil
	}
}

// refreshAfter401 drops the token the API refused (unless another caller
// already replaced it) and returns a newer one.
func (c *Client) refreshAfter401(ctx context.Context, stale string) (string, error) {
	raw, err := c.rdb.Get(ctx, c.key("token")).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return "", fmt.Errorf("lighthouse: token cache: %w", err)
	}
	if ct, ok := c.openToken([]byte(raw)); ok && ct.AccessToken == stale {
		if err := deleteIfEqual.Run(ctx, c.rdb, []string{c.key("token")}, raw).Err(); err != nil && !errors.Is(err, redis.Nil) {
			return "", fmt.Errorf("lighthouse: token cache: %w", err)
		}
	}
	return c.token(ctx)
}

// openToken reads a cached value; one that does not decrypt or decode is
// not a token.
func (c *Client) openToken(raw []byte) (cachedToken, bool) {
	var ct cachedToken
	if len(raw) == 0 {
		return ct, false
	}
	plain, err := c.sealer.open(raw, c.key("token"))
	if err != nil || json.Unmarshal(plain, &ct) != nil || ct.AccessToken == "" {
		return ct, false
	}
	return ct, true
}

func (c *Client) cachedToken(ctx context.Context) (string, bool, error) {
	raw, err := c.rdb.Get(ctx, c.key("token")).Bytes()
	if errors.Is(err, redis.Nil) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("lighthouse: token cache: %w", err)
	}
	ct, ok := c.openToken(raw)
	if !ok || !c.now().Before(ct.ExpiresAt) {
		return "", false, nil
	}
	return ct.AccessToken, true, nil
}

// fetchShared fetches a token unless another process is doing so, in which
// case it waits (up to the lock's TTL: one request timeout) for that process
// to cache it. The lock is a hint, not a guarantee: a second fetch is
// harmless, only wasteful. Its value is this fetch's own, so a fetch releases
// only its own lock, even one that outlived its TTL.
func (c *Client) fetchShared(ctx context.Context) (string, error) {
	// A flight that just ended may have cached one.
	if tok, ok, err := c.cachedToken(ctx); err != nil || ok {
		return tok, err
	}
	lock := c.key("token:lock")
	tokenLockTTL := c.cfg.Timeout
	holder := make([]byte, 16)
	_, _ = rand.Read(holder)
	got, err := c.rdb.SetNX(ctx, lock, hex.EncodeToString(holder), tokenLockTTL).Result()
	if err != nil {
		return "", fmt.Errorf("lighthouse: token lock: %w", err)
	}
	if got {
		defer func() {
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), lockReleaseWait)
			defer cancel()
			_ = deleteIfEqual.Run(rctx, c.rdb, []string{lock}, hex.EncodeToString(holder)).Err()
		}()
		return c.fetchToken(ctx)
	}
	deadline := time.NewTimer(tokenLockTTL)
	defer deadline.Stop()
	tick := time.NewTicker(tokenLockPoll)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("lighthouse: token: %w", ctx.Err())
		case <-deadline.C:
			return c.fetchToken(ctx) // the holder died or is slow: fetch our own
		case <-tick.C:
			if tok, ok, err := c.cachedToken(ctx); err != nil || ok {
				return tok, err
			}
		}
	}
}

// tokenResponse is the token endpoint's body, success or error.
type tokenResponse struct {
	AccessToken      string `json:"access_token"`
	TokenType        string `json:"token_type"`
	ExpiresIn        int64  `json:"expires_in"`
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description"`
}

// fetchToken posts a fresh assertion to the token endpoint and caches the
// access token in Redis. Token calls do not spend the API budget.
func (c *Client) fetchToken(ctx context.Context) (string, error) {
	c.m.tokenFetch.Inc()
	assertion, err := c.assertion()
	if err != nil {
		return "", err
	}
	form := url.Values{
		"grant_type":            {"client_credentials"},
		"client_assertion_type": {assertionType},
		"client_assertion":      {assertion},
		"scope":                 {tokenScope},
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.cfg.TokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return "", fmt.Errorf("lighthouse: token: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	issued := c.now()
	status, _, body, err := c.roundTrip(req, endpointToken)
	if err != nil {
		c.m.tokenErrors.WithLabelValues("transport").Inc()
		return "", err
	}
	var tr tokenResponse
	jsonErr := json.Unmarshal(body, &tr)
	if status != http.StatusOK {
		te := &TokenError{StatusCode: status, Code: tr.Error, Description: tr.ErrorDescription}
		if jsonErr != nil || (te.Code == "" && te.Description == "") {
			te.Description = excerpt(body, 200)
		}
		te.Hint = tokenHint(te)
		c.m.tokenErrors.WithLabelValues(tokenErrorLabel(te.Code)).Inc()
		return "", te
	}
	if jsonErr != nil || tr.AccessToken == "" || tr.ExpiresIn <= 0 {
		c.m.tokenErrors.WithLabelValues("other").Inc()
		return "", fmt.Errorf("lighthouse: token: 200 without an access_token and expires_in: %w", ErrMalformedResponse)
	}
	lifetime := time.Duration(tr.ExpiresIn) * time.Second
	usable := lifetime - tokenMargin(lifetime)
	// Caching the token in Redis is the point: every process shares it,
	// sealed (tokenSealer). It never reaches a log, an error or a metric.
	ct, _ := json.Marshal(cachedToken{AccessToken: tr.AccessToken, ExpiresAt: issued.Add(usable)}) //nolint:gosec // G117: see above

	if err := c.rdb.Set(ctx, c.key("token"), c.sealer.seal(ct, c.key("token")), usable).Err(); err != nil {
		return "", fmt.Errorf("lighthouse: token cache: %w", err)
	}
	c.log.Debug("lighthouse token refreshed", "expires_in_seconds", tr.ExpiresIn)
	return tr.AccessToken, nil
}

// tokenMargin is how long before expires_in the token is refreshed: 30s, or
// 10% of short lifetimes.
func tokenMargin(lifetime time.Duration) time.Duration {
	if lifetime < 300*time.Second {
		return lifetime / 10
	}
	return 30 * time.Second
}

// assertion builds the signed private_key_jwt client assertion.
func (c *Client) assertion() (string, error) {
	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		return "", fmt.Errorf("lighthouse: token: jti: %w", err)
	}
	now := c.now()
	claims := jwt.RegisteredClaims{
		Issuer:    c.cfg.ClientID,
		Subject:   c.cfg.ClientID,
		Audience:  jwt.ClaimStrings{c.cfg.AudClaimURL},
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(now.Add(assertionLifetime)),
		ID:        hex.EncodeToString(jti),
	}
	t := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	if c.cfg.KeyID != "" {
		t.Header["kid"] = c.cfg.KeyID
	}
	s, err := t.SignedString(c.cfg.PrivateKey)
	if err != nil {
		return "", fmt.Errorf("lighthouse: token: signing the assertion: %w", err)
	}
	return s, nil
}

// tokenHint says which setting to fix for a token endpoint error.
func tokenHint(e *TokenError) string {
	switch {
	case e.Code == "invalid_client" && strings.Contains(strings.ToLower(e.Description), "audience"):
		return "the assertion's aud is wrong: check LIGHTHOUSE_AUD_CLAIM_URL (the Okta token URL)"
	case e.Code == "invalid_client":
		return "check LIGHTHOUSE_CLIENT_ID, LIGHTHOUSE_RSA_KEY and LIGHTHOUSE_KEY_ID match the registered client, and the host clock is not skewed"
	case e.Code == "invalid_scope":
		return "scopes documents.read documents.write are not granted to this client: ask Lighthouse to grant them"
	case e.StatusCode == http.StatusNotFound:
		return "no token endpoint at this URL: check LIGHTHOUSE_TOKEN_URL"
	case retryableStatus(e.StatusCode):
		return "token endpoint unavailable or rate limited: retry later"
	}
	return "check LIGHTHOUSE_TOKEN_URL and the client registration"
}
