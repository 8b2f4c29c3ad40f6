package api

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
)

// MonitorAuth says who may open the monitor (asynqmon): HTTP basic auth with
// Username and Password, or a bearer Token, or both. With neither, None must
// be set (the caller checks the address is loopback).
type MonitorAuth struct {
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

// monitorUserKey holds who an authenticated monitor request is from.
type monitorUserKey struct{}

// MonitorUser is who made a monitor request: the basic auth user, "token"
// for the bearer token, or "anonymous" when authentication is off.
func MonitorUser(ctx context.Context) string {
	if u, ok := ctx.Value(monitorUserKey{}).(string); ok {
		return u
	}
	return "anonymous"
}

// Wrap puts next behind the configured authentication. Credentials are
// compared in constant time (through SHA-256 digests, so their length leaks
// nothing either).
func (a MonitorAuth) Wrap(next http.Handler) (http.Handler, error) {
	basic := a.Username != "" && a.Password != ""
	bearer := a.Token != ""
	if !basic && !bearer && !a.None {
		return nil, errors.New("api: the monitor needs basic auth credentials or a token")
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
			if wait, err := throttle.blocked(r.Context(), clientAddr(r)); err != nil || wait > 0 {
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
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), monitorUserKey{}, who)))
	}), nil
}

func (a MonitorAuth) refuseThrottled(w http.ResponseWriter, r *http.Request, wait time.Duration, err error) {
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

func (t *LoginThrottle) build() (*perMinute, error) {
	if t == nil {
		return nil, nil
	}
	return newPerMinute("LoginThrottle", "FailuresPerMinute", t.Redis, t.KeyPrefix, "monitor:login_failures:", t.FailuresPerMinute)
}

// blocked says how long addr must wait before its next login is checked
// (0: now). It spends nothing: a cost-0 look at the GCRA state, whose
// Remaining is how many failures addr has left.
func (t *perMinute) blocked(ctx context.Context, addr string) (time.Duration, error) {
	res, err := t.limiter.AllowN(ctx, t.prefix+addr, t.limit, 0)
	if err != nil {
		return 0, fmt.Errorf("login throttle: %w", err)
	}
	if res.Remaining >= 1 {
		return 0, nil
	}
	// One failure is allowed again once the state has drained by one
	// emission interval below the full burst.
	interval := t.limit.Period / time.Duration(t.limit.Rate)
	return max(res.ResetAfter-t.limit.Period+interval, time.Second), nil
}

// fail spends one of addr's failures.
func (t *perMinute) fail(ctx context.Context, addr string, log *slog.Logger) {
	if _, err := t.limiter.Allow(ctx, t.prefix+addr, t.limit); err != nil {
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
