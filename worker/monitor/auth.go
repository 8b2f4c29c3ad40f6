package monitor

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/vagov/lighthouse526/worker/allowance"
)

// Auth says who may open the monitor (asynqmon): HTTP basic auth with
// Username and Password, or a bearer Token, or both. With neither, None must
// be set (the caller checks the address is loopback).
type Auth struct {
	Username, Password string
	Token              string
	None               bool
	// Throttle, when set, answers 429 to a client address after too many
	// failed logins.
	Throttle *LoginThrottle
	// Logger gets every failed and throttled login; default discards.
	Logger *slog.Logger
}

// LoginThrottle limits failed logins per client address (the connection's,
// never a forwarded header a client could make up): FailuresPerMinute at once,
// then one more per 60/FailuresPerMinute seconds. The state lives in Redis
// under KeyPrefix, shared by every monitor replica. Behind a proxy every
// client shares its address, so a guesser locks everyone out for a while:
// that is the price of never letting guessing go fast.
type LoginThrottle struct {
	Redis             redis.UniversalClient
	KeyPrefix         string // REDIS_KEY_PREFIX
	FailuresPerMinute int
}

// userKey holds who an authenticated monitor request is from.
type userKey struct{}

// User is who made a monitor request: the basic auth user, "token"
// for the bearer token, or "anonymous" when authentication is off.
func User(ctx context.Context) string {
	if u, ok := ctx.Value(userKey{}).(string); ok {
		return u
	}
	return "anonymous"
}

// Wrap puts next behind the configured authentication. Credentials are
// compared in constant time (through SHA-256 digests, so their length leaks
// nothing either).
func (a Auth) Wrap(next http.Handler) (http.Handler, error) {
	basic := a.Username != "" && a.Password != ""
	bearer := a.Token != ""
	if !basic && !bearer && !a.None {
		return nil, errors.New("monitor: needs basic auth credentials or a token")
	}
	if a.None {
		return next, nil
	}
	if a.Logger == nil {
		a.Logger = slog.New(slog.DiscardHandler)
	}
	throttle, err := a.Throttle.build()
	if err != nil {
		return nil, err
	}
	user, pass, token := digest(a.Username), digest(a.Password), digest(a.Token)
	challenge := `Bearer realm="lighthouse526 monitor"`
	if basic {
		challenge = `Basic realm="lighthouse526 monitor", charset="UTF-8"`
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		who, scheme, userKnown := "", "", false
		if u, p, has := r.BasicAuth(); has && basic {
			scheme = "basic"
			userKnown = equal(user, digest(u)) == 1
			if userKnown && equal(pass, digest(p)) == 1 {
				who = a.Username
			}
		}
		if s, tok, has := strings.Cut(r.Header.Get("Authorization"), " "); has && bearer && strings.EqualFold(s, "Bearer") {
			scheme = "bearer"
			if equal(token, digest(strings.TrimSpace(tok))) == 1 {
				who = "token"
			}
		}
		if scheme != "" && throttle != nil {
			if wait, err := throttle.wait(r.Context(), clientAddr(r)); err != nil || wait > 0 {
				a.refuseThrottled(w, r, wait, err)
				return
			}
		}
		if who == "" {
			if scheme != "" {
				a.Logger.WarnContext(r.Context(), "monitor login failed", "remote_addr", clientAddr(r), "scheme", scheme, "user_known", userKnown)
				if throttle != nil {
					throttle.fail(r.Context(), clientAddr(r), a.Logger)
				}
			}
			w.Header().Set("WWW-Authenticate", challenge)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), userKey{}, who)))
	}), nil
}

func (a Auth) refuseThrottled(w http.ResponseWriter, r *http.Request, wait time.Duration, err error) {
	if err != nil {
		a.Logger.WarnContext(r.Context(), "monitor login throttle unavailable: refusing logins until Redis answers", "error", err.Error())
		http.Error(w, "the monitor cannot check logins right now: retry later", http.StatusServiceUnavailable)
		return
	}
	secs := int(math.Ceil(wait.Seconds()))
	a.Logger.WarnContext(r.Context(), "monitor login throttled", "remote_addr", clientAddr(r), "retry_after_seconds", secs)
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	http.Error(w, fmt.Sprintf("too many failed logins from this address: retry after %d s", secs), http.StatusTooManyRequests)
}

// throttle is a LoginThrottle's allowance of failed logins per address.
type throttle struct{ failures *allowance.PerMinute }

func (t *LoginThrottle) build() (*throttle, error) {
	if t == nil {
		return nil, nil
	}
	a, err := allowance.New("LoginThrottle", "FailuresPerMinute", t.Redis, t.KeyPrefix, "monitor:login_failures:", t.FailuresPerMinute)
	if err != nil {
		return nil, fmt.Errorf("monitor: %w", err)
	}
	return &throttle{failures: a}, nil
}

// wait says how long addr must wait before its next login is checked
// (0: now). It spends nothing.
func (t *throttle) wait(ctx context.Context, addr string) (time.Duration, error) {
	wait, err := t.failures.Wait(ctx, addr)
	if err != nil {
		return 0, fmt.Errorf("login throttle: %w", err)
	}
	return wait, nil
}

// fail spends one of addr's failures.
func (t *throttle) fail(ctx context.Context, addr string, log *slog.Logger) {
	if _, err := t.failures.Take(ctx, addr); err != nil {
		log.WarnContext(ctx, "could not count a failed monitor login", "error", err.Error())
	}
}

// clientAddr is the connection's remote IP.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func digest(s string) []byte {
	d := sha256.Sum256([]byte(s))
	return d[:]
}

func equal(a, b []byte) int { return subtle.ConstantTimeCompare(a, b) }
