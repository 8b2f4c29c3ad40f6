package config

import (
	"crypto/rsa"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"
	"github.com/golang-jwt/jwt/v5"
	"github.com/redis/go-redis/v9"
)

// MaxPollFloor bounds POLL_FLOOR and POLL_WINDOW: a pending upload is polled
// at least weekly, whatever the settings say.
const MaxPollFloor = 7 * 24 * time.Hour

// MaxPollBatchSize bounds POLL_BATCH_SIZE, and every batch task's payload
// (tasks.StatusBatchPayload), whoever enqueued it. Its default is 100, the size the
// original ran in production for years; Lighthouse documents no limit, and
// its rate limit (60 calls a minute per consumer) makes larger calls poll
// more documents a minute, so up to a thousand may be set where the key's
// budget is short (README: the call size). A batch refused as too large
// (413), or one over 100 ids that times out or gets a 504, is asked for
// again in halves (tasks.StatusBatchHandler).
const MaxPollBatchSize = 1000

// DefaultPollBatchSize is POLL_BATCH_SIZE's default (its envDefault tag),
// named for the bench, which runs at the product's default.
const DefaultPollBatchSize = 100

// Error lists every invalid variable of one Load, each with its reason.
type Error struct {
	Problems []Problem
}

// Problem is one invalid variable.
type Problem struct {
	Var    string
	Reason string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("invalid configuration: ")
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%s: %s", p.Var, p.Reason)
	}
	return b.String()
}

// FromEnv loads the configuration from the process environment.
func FromEnv() (*Config, error) {
	return Load(os.Environ())
}

// Load resolves a Config from environ ("KEY=value" entries, as os.Environ
// returns them), applying defaults, and validates every field. It returns an
// *Error naming every offending variable.
func Load(environ []string) (*Config, error) {
	vars := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			vars[k] = v
		}
	}
	var cfg Config
	v := &validator{vars: vars}
	if err := env.ParseWithOptions(&cfg, env.Options{Environment: vars}); err != nil {
		v.parseErrors(err)
	}
	v.validate(&cfg)
	if len(v.problems) > 0 {
		sort.SliceStable(v.problems, func(i, j int) bool { return v.problems[i].Var < v.problems[j].Var })
		return nil, &Error{Problems: v.problems}
	}
	return &cfg, nil
}

type validator struct {
	problems []Problem
	failed   map[string]bool
	// vars is the environment Load read: whether a variable was set at all.
	vars map[string]string
}

func (v *validator) add(name, format string, args ...any) {
	if v.failed == nil {
		v.failed = map[string]bool{}
	}
	if v.failed[name] {
		return
	}
	v.failed[name] = true
	v.problems = append(v.problems, Problem{Var: name, Reason: fmt.Sprintf(format, args...)})
}

// parseErrors maps the env library's per-field errors to variable names.
func (v *validator) parseErrors(err error) {
	var agg env.AggregateError
	if !errors.As(err, &agg) {
		v.add("environment", "%v", err)
		return
	}
	for _, e := range agg.Errors {
		var pe env.ParseError
		if errors.As(e, &pe) {
			v.add(envName(pe.Name), "not a valid %s", kindName(pe.Type))
			continue
		}
		v.add("environment", "%v", e)
	}
}

func envName(field string) string {
	f, ok := reflect.TypeOf(Config{}).FieldByName(field)
	if !ok {
		return field
	}
	return f.Tag.Get("env")
}

func kindName(t reflect.Type) string {
	switch {
	case t == nil:
		return "value"
	case t.String() == "time.Duration":
		return "duration (e.g. 20s, 1h)"
	case t.Kind() == reflect.Bool:
		return "boolean (true or false)"
	case t.Kind() == reflect.Int:
		return "whole number"
	default:
		return t.String()
	}
}

func (v *validator) validate(c *Config) {
	v.postgresURL(c.DatabaseURL)
	if c.DatabaseSchema != "" && (!schemaName.MatchString(c.DatabaseSchema) || strings.HasPrefix(c.DatabaseSchema, "pg_")) {
		v.add("DATABASE_SCHEMA", "must be a lower-case identifier (a letter or _, then letters, digits or _; at most 63; not pg_*)")
	}
	v.intRange("DB_MAX_OPEN_CONNS", c.DBMaxOpenConns, 1, 1000)
	v.intRange("DB_MAX_IDLE_CONNS", c.DBMaxIdleConns, 0, 1000)
	v.durationRange("DB_CONN_MAX_LIFETIME", c.DBConnMaxLifetime, time.Second, 24*time.Hour)
	// Under 100 ms every batch write (tens of milliseconds at 100 ids,
	// more under load) would be cut off.
	v.durationRange("DB_STATEMENT_TIMEOUT", c.DBStatementTimeout, 100*time.Millisecond, time.Hour)

	if _, err := redis.ParseURL(c.RedisURL); err != nil {
		v.add("REDIS_URL", "not a redis:// or rediss:// URL")
	}
	if len(c.RedisSentinelAddrs) > 0 && c.RedisSentinelMaster == "" {
		v.add("REDIS_SENTINEL_MASTER", "required when REDIS_SENTINEL_ADDRS is set")
	}
	for _, a := range c.RedisSentinelAddrs {
		if _, _, err := net.SplitHostPort(a); err != nil {
			v.add("REDIS_SENTINEL_ADDRS", "each address must be host:port")
		}
	}
	if c.RedisKeyPrefix == "" || inAsynqKeys(c.RedisKeyPrefix) || hasControl(c.RedisKeyPrefix) {
		v.add("REDIS_KEY_PREFIX", "must be set, without control characters, and must not be inside asynq's own namespace")
	}

	if base, ok := v.httpURL("LIGHTHOUSE_HOST", c.LighthouseHost, true); ok {
		c.LighthouseBaseURL = strings.TrimRight(base, "/") + lighthouseAPIPath
		if c.LighthouseTokenURL == "" {
			c.LighthouseTokenURL = strings.TrimRight(base, "/") + lighthouseTokenPath
		}
	}
	v.httpURL("LIGHTHOUSE_TOKEN_URL", c.LighthouseTokenURL, false)
	v.httpURL("LIGHTHOUSE_AUD_CLAIM_URL", c.LighthouseAudClaimURL, false)
	if c.LighthouseRSAKey != "" {
		key, reason := parseRSAKey(c.LighthouseRSAKey)
		if reason != "" {
			v.add("LIGHTHOUSE_RSA_KEY", "%s", reason)
		}
		c.LighthousePrivateKey = key
	}
	v.durationRange("LIGHTHOUSE_TIMEOUT", c.LighthouseTimeout, time.Second, 5*time.Minute)
	v.intRange("LIGHTHOUSE_RATE_LIMIT_PER_MINUTE", c.LighthouseRateLimit, 1, 100000)
	if _, set := v.vars["LIGHTHOUSE_RATE_BUDGET"]; !set {
		c.LighthouseRateBudget = min(DefaultRateBudget, max(c.LighthouseRateLimit, 1))
	}
	v.intRange("LIGHTHOUSE_RATE_BUDGET", c.LighthouseRateBudget, 1, c.LighthouseRateLimit)
	v.durationRange("LIGHTHOUSE_MAX_RATE_LIMIT_WAIT", c.LighthouseMaxRateLimitWait, 0, time.Minute)
	// Lighthouse's limit is per minute: a longer pause than an hour is never
	// what it means, and would stop every replica's polling that long.
	v.durationRange("LIGHTHOUSE_MAX_RETRY_AFTER", c.LighthouseMaxRetryAfter, time.Second, time.Hour)

	v.pollStrategy(c)
	if sched, err := ParseSchedule(c.PollCron, c.PollCronAllowSubMinute, time.Now()); err != nil {
		v.add("POLL_CRON", "%v", err)
	} else {
		c.PollSchedule = sched
	}
	v.durationRange("POLL_WINDOW", c.PollWindow, time.Second, MaxPollFloor)
	if c.PollWindowGrace < 0 || c.PollWindowGrace >= c.PollWindow {
		v.add("POLL_WINDOW_GRACE", "must be at least 0 and shorter than POLL_WINDOW")
	}
	v.intRange("POLL_BATCH_SIZE", c.PollBatchSize, 1, MaxPollBatchSize)
	v.durationRange("POLL_FLOOR", c.PollFloor, MinInterval, MaxPollFloor)
	v.durationRange("PROCESSING_TIMEOUT", c.ProcessingTimeout, time.Minute, 30*24*time.Hour)

	v.queueName("QUEUE_NAME", c.QueueName)
	v.queueName("NOTIFICATION_QUEUE", c.NotificationQueue)
	v.notificationTarget(c)
	v.failureEmails(c)
	c.Queues = v.queues(c.WorkerQueues, c.QueueName)
	v.intRange("WORKER_CONCURRENCY", c.WorkerConcurrency, 1, 1000)
	v.durationRange("SHUTDOWN_TIMEOUT", c.ShutdownTimeout, time.Second, time.Hour)

	if c.MetricsAddr != "" {
		if _, _, err := net.SplitHostPort(c.MetricsAddr); err != nil {
			v.add("METRICS_ADDR", "must be host:port (or empty to disable)")
		}
	}
	v.oneOf("LOG_LEVEL", c.LogLevel, "debug", "info", "warn", "error")
	v.logFormat(c.LogFormat)
	v.logName("LOG_APPLICATION", c.LogApplication)
	v.logName("LOG_ENVIRONMENT", c.LogEnvironment)
	v.statsd(c)
	v.memory(c)
	v.api(c)
	v.monitor(c)
	v.hardening(c)
}

// pollStrategy resolves POLL_STRATEGY, POLL_LADDER and POLL_CRON's default,
// which depends on the strategy.
func (v *validator) pollStrategy(c *Config) {
	if c.PollStrategy == "" {
		c.PollStrategy = DefaultPollStrategy
	}
	if s, err := ParseStrategy(string(c.PollStrategy)); err != nil {
		v.add("POLL_STRATEGY", "%v", err)
	} else {
		c.PollStrategy = s
	}
	if strings.TrimSpace(c.PollCron) == "" {
		c.PollCron = DefaultPollCron(c.PollStrategy)
	}
	if strings.TrimSpace(c.PollLadder) == "" {
		c.PollLadder = DefaultLadder
	}
	if l, err := ParseLadder(c.PollLadder); err != nil {
		v.add("POLL_LADDER", "%v", err)
	} else {
		c.Ladder = l
	}
}

// MinHS256SecretBytes is the shortest API_JWT_HS256_SECRET accepted (RFC 7518
// 3.2: a key of the hash's size at least).
const MinHS256SecretBytes = 32

func (v *validator) api(c *Config) {
	v.hostPort("API_ADDR", c.APIAddr)
	if c.APIJWTPublicKey != "" {
		key, reason := parseRSAPublicKey(c.APIJWTPublicKey)
		if reason != "" {
			v.add("API_JWT_PUBLIC_KEY", "%s", reason)
		}
		c.APIPublicKey = key
	}
	if c.APIJWTHS256Secret != "" && len(c.APIJWTHS256Secret) < MinHS256SecretBytes {
		v.add("API_JWT_HS256_SECRET", "must be at least %d bytes", MinHS256SecretBytes)
	} else {
		v.secret("API_JWT_HS256_SECRET", c.APIJWTHS256Secret, 0, MinHS256SecretBits)
	}
}

func (v *validator) monitor(c *Config) {
	v.hostPort("MONITOR_ADDR", c.MonitorAddr)
	if c.MonitorOpsAddr != "" {
		v.hostPort("MONITOR_OPS_ADDR", c.MonitorOpsAddr)
		if c.MonitorOpsAddr == c.MonitorAddr {
			v.add("MONITOR_OPS_ADDR", "must not be MONITOR_ADDR")
		}
	}
	if (c.MonitorUsername == "") != (c.MonitorPassword == "") {
		v.add("MONITOR_PASSWORD", "set MONITOR_USERNAME and MONITOR_PASSWORD together, or neither")
	}
	switch c.MonitorAuth {
	case "":
	case "none":
		if c.MonitorUsername != "" || c.MonitorToken != "" {
			v.add("MONITOR_AUTH", "none contradicts MONITOR_USERNAME or MONITOR_TOKEN being set")
		} else if !isLoopback(c.MonitorAddr) {
			v.add("MONITOR_AUTH", "none is allowed only when MONITOR_ADDR is a loopback address")
		}
	default:
		v.add("MONITOR_AUTH", "must be empty or none, got %q", c.MonitorAuth)
	}
	v.httpURL("MONITOR_PROMETHEUS_ADDR", c.MonitorPrometheusAddr, false)
}

func (v *validator) hostPort(name, addr string) {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		v.add(name, "must be host:port")
	}
}

// isLoopback reports whether a host:port listens on loopback only.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// RequireAPI reports what serving the enqueue API needs and lacks: a key to
// verify tokens with, and the issuer and audience they must name.
func (c *Config) RequireAPI() error {
	v := &validator{}
	if c.APIPublicKey == nil && c.APIJWTHS256Secret == "" {
		v.add("API_JWT_PUBLIC_KEY", "required to serve the API (or API_JWT_HS256_SECRET)")
	}
	if c.APIJWTIssuer == "" {
		v.add("API_JWT_ISSUER", "required to serve the API")
	}
	if c.APIJWTAudience == "" {
		v.add("API_JWT_AUDIENCE", "required to serve the API")
	}
	if len(v.problems) > 0 {
		return &Error{Problems: v.problems}
	}
	return nil
}

// RequireMonitor refuses to serve the monitor without authentication, unless
// MONITOR_AUTH=none was set on a loopback address (checked by Load).
func (c *Config) RequireMonitor() error {
	if c.MonitorUsername != "" || c.MonitorToken != "" || c.MonitorAuth == "none" {
		return nil
	}
	return &Error{Problems: []Problem{{
		Var:    "MONITOR_USERNAME",
		Reason: "the monitor needs MONITOR_USERNAME and MONITOR_PASSWORD, or MONITOR_TOKEN (or MONITOR_AUTH=none on a loopback MONITOR_ADDR)",
	}}}
}

// schemaName is an unquoted Postgres identifier, so it needs no quoting in
// search_path or CREATE SCHEMA (pg_* is reserved for the system's schemas).
var schemaName = regexp.MustCompile(`^(?:[a-z_][a-z0-9_]{0,62})$`)

func (v *validator) postgresURL(raw string) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" {
		// Never echo the value: it may carry a password.
		v.add("DATABASE_URL", "not a postgres:// URL with a host")
		return
	}
	if strings.TrimPrefix(u.Path, "/") == "" {
		v.add("DATABASE_URL", "names no database")
	}
}

func (v *validator) httpURL(name, raw string, required bool) (string, bool) {
	if raw == "" {
		if required {
			v.add(name, "required")
		}
		return "", false
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		v.add(name, "not an absolute http(s) URL")
		return "", false
	}
	if u.User != nil {
		v.add(name, "must not carry credentials")
		return "", false
	}
	return raw, true
}

func (v *validator) intRange(name string, n, lo, hi int) {
	if n < lo || n > hi {
		v.add(name, "must be between %d and %d, got %d", lo, hi, n)
	}
}

func (v *validator) durationRange(name string, d, lo, hi time.Duration) {
	if d < lo || d > hi {
		v.add(name, "must be between %s and %s, got %s", lo, hi, d)
	}
}

func (v *validator) oneOf(name, got string, allowed ...string) {
	for _, a := range allowed {
		if got == a {
			return
		}
	}
	v.add(name, "must be one of %s, got %q", strings.Join(allowed, "|"), got)
}

// The values of LOG_FORMAT.
const (
	LogFormatSemanticLogger = "semantic_logger"
	LogFormatSlog           = "slog"
	LogFormatText           = "text"
)

// logFormat refuses a LOG_FORMAT that names no envelope; "json", the former
// default (slog's JSON), is refused with what to say instead.
func (v *validator) logFormat(got string) {
	if got == "json" {
		v.add("LOG_FORMAT", "must be one of semantic_logger|slog|text, got \"json\": json was slog's JSON, now slog; the default is semantic_logger, vets-api's envelope")
		return
	}
	v.oneOf("LOG_FORMAT", got, LogFormatSemanticLogger, LogFormatSlog, LogFormatText)
}

func (v *validator) queueName(name, q string) {
	if q == "" || strings.ContainsAny(q, " \t\n:{}") || hasControl(q) {
		v.add(name, "must be a non-empty name without spaces, ':', braces or control characters")
	}
}

// queues parses WORKER_QUEUES ("name=weight,name=weight"); the product's own
// queue is always served.
func (v *validator) queues(raw, own string) map[string]int {
	qs := map[string]int{}
	if strings.TrimSpace(raw) == "" {
		qs[own] = 1
		return qs
	}
	for _, part := range strings.Split(raw, ",") {
		name, w, ok := strings.Cut(strings.TrimSpace(part), "=")
		weight, err := strconv.Atoi(w)
		if !ok || err != nil || weight < 1 || weight > 100 || name == "" || hasControl(name) {
			v.add("WORKER_QUEUES", "must be name=weight pairs separated by commas, weights 1-100")
			return nil
		}
		qs[name] = weight
	}
	if _, ok := qs[own]; !ok {
		v.add("WORKER_QUEUES", "must include QUEUE_NAME %q", own)
	}
	return qs
}

// parseRSAKey accepts the PEM text itself or a path to a PEM file. The reason
// it returns never contains the value.
func parseRSAKey(value string) (*rsa.PrivateKey, string) {
	pemText, reason := readPEM(value)
	if reason != "" {
		return nil, reason
	}
	key, err := jwt.ParseRSAPrivateKeyFromPEM(pemText)
	if err != nil {
		return nil, "not a PEM-encoded RSA private key (PKCS#1 or PKCS#8)"
	}
	if key.N.BitLen() < 2048 {
		return nil, "RSA key shorter than 2048 bits"
	}
	return key, ""
}

// parseRSAPublicKey accepts the PEM text (PKIX, PKCS#1 or a certificate) or a
// path to a PEM file.
func parseRSAPublicKey(value string) (*rsa.PublicKey, string) {
	pemText, reason := readPEM(value)
	if reason != "" {
		return nil, reason
	}
	key, err := jwt.ParseRSAPublicKeyFromPEM(pemText)
	if err != nil {
		return nil, "not a PEM-encoded RSA public key"
	}
	if key.N.BitLen() < 2048 {
		return nil, "RSA key shorter than 2048 bits"
	}
	return key, ""
}

// readPEM returns value itself when it is PEM text, else the contents of the
// file it names. The reason it returns never contains the value.
func readPEM(value string) ([]byte, string) {
	if strings.Contains(value, "-----BEGIN") {
		return []byte(value), ""
	}
	b, err := os.ReadFile(value)
	if err != nil {
		return nil, "neither PEM text nor a readable file"
	}
	return b, ""
}
