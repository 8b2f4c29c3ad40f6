// Package config turns the process environment into one validated Config.
//
// Every setting has an environment variable (the names are a contract with
// operators and other services) and, where one makes sense, a default. Load
// reports every offending variable in one error, never only the first, and no
// error or printed form of a Config ever contains a secret.
package config

import (
	"crypto/rsa"
	"time"

	"github.com/robfig/cron/v3"
)

// Config is the resolved configuration of every subcommand of the worker.
type Config struct {
	// Postgres.
	DatabaseURL        string        `env:"DATABASE_URL" envDefault:"postgres://postgres@127.0.0.1:5432/lighthouse_uploads?sslmode=disable"`
	DBMaxOpenConns     int           `env:"DB_MAX_OPEN_CONNS" envDefault:"10"`
	DBMaxIdleConns     int           `env:"DB_MAX_IDLE_CONNS" envDefault:"5"`
	DBConnMaxLifetime  time.Duration `env:"DB_CONN_MAX_LIFETIME" envDefault:"30m"`
	DBStatementTimeout time.Duration `env:"DB_STATEMENT_TIMEOUT" envDefault:"30s"`
	// DatabaseSchema, when set, is the Postgres schema of the worker's own
	// tables (created by `worker migrate`); VA.gov's stay where they are
	// (public). Every connection's search_path is "<schema>, public".
	DatabaseSchema string `env:"DATABASE_SCHEMA"`

	// Redis.
	RedisURL            string   `env:"REDIS_URL" envDefault:"redis://127.0.0.1:6379/0"`
	RedisSentinelAddrs  []string `env:"REDIS_SENTINEL_ADDRS" envSeparator:","`
	RedisSentinelMaster string   `env:"REDIS_SENTINEL_MASTER"`
	RedisKeyPrefix      string   `env:"REDIS_KEY_PREFIX" envDefault:"lighthouse526:"`

	// Lighthouse Benefits Documents API.
	LighthouseHost        string        `env:"LIGHTHOUSE_HOST" envDefault:"https://sandbox-api.va.gov"`
	LighthouseTokenURL    string        `env:"LIGHTHOUSE_TOKEN_URL"`
	LighthouseClientID    string        `env:"LIGHTHOUSE_CLIENT_ID"`
	LighthouseRSAKey      string        `env:"LIGHTHOUSE_RSA_KEY"`
	LighthouseAudClaimURL string        `env:"LIGHTHOUSE_AUD_CLAIM_URL" envDefault:"https://deptva-eval.okta.com/oauth2/ausi3ui83fLa68IJv2p7/v1/token"`
	LighthouseKeyID       string        `env:"LIGHTHOUSE_KEY_ID"`
	LighthouseTimeout     time.Duration `env:"LIGHTHOUSE_TIMEOUT" envDefault:"65s"`
	LighthouseRateLimit   int           `env:"LIGHTHOUSE_RATE_LIMIT_PER_MINUTE" envDefault:"60"`
	// LighthouseRateBudget is how many of the key's calls a minute this
	// worker may spend, leaving the rest to VA.gov's own uploads on the same
	// key: 1 to LIGHTHOUSE_RATE_LIMIT_PER_MINUTE; unset, DefaultRateBudget
	// (or the limit, when lower). The shared limiter enforces it, and an
	// adaptive cycle hands on no more batches than its share of it.
	LighthouseRateBudget int `env:"LIGHTHOUSE_RATE_BUDGET"`
	// A batch waits in-process for the shared budget up to this long; past
	// it, the task is rescheduled without using up a retry.
	LighthouseMaxRateLimitWait time.Duration `env:"LIGHTHOUSE_MAX_RATE_LIMIT_WAIT" envDefault:"5s"`
	// The longest pause a Lighthouse 429 may set for every process (its
	// Retry-After or RateLimit-Reset); a longer ask is logged, counted and
	// waited this long instead.
	LighthouseMaxRetryAfter time.Duration `env:"LIGHTHOUSE_MAX_RETRY_AFTER" envDefault:"5m"`

	// Polling. POLL_STRATEGY's default is DefaultPollStrategy; POLL_CRON's,
	// unset or empty, depends on the strategy (DefaultPollCron).
	PollStrategy      Strategy      `env:"POLL_STRATEGY"`
	PollCron          string        `env:"POLL_CRON"`
	PollWindow        time.Duration `env:"POLL_WINDOW" envDefault:"1h"`
	PollWindowGrace   time.Duration `env:"POLL_WINDOW_GRACE" envDefault:"5m"`
	PollBatchSize     int           `env:"POLL_BATCH_SIZE" envDefault:"100"`
	ProcessingTimeout time.Duration `env:"PROCESSING_TIMEOUT" envDefault:"24h"`
	// The adaptive schedule (POLL_STRATEGY=adaptive): how often to poll an
	// upload by its age (ParseLadder; unset, DefaultLadder),
	// and the longest any pending upload waits between polls.
	PollLadder string        `env:"POLL_LADDER"`
	PollFloor  time.Duration `env:"POLL_FLOOR" envDefault:"24h"`

	// PollCronAllowSubMinute lets POLL_CRON fire more often than once a
	// minute (@every 30s): for local runs, never in production.
	PollCronAllowSubMinute bool `env:"POLL_CRON_ALLOW_SUBMINUTE" envDefault:"false"`

	// Queue.
	QueueName         string        `env:"QUEUE_NAME" envDefault:"lighthouse_document_status"`
	WorkerQueues      string        `env:"WORKER_QUEUES"`
	WorkerConcurrency int           `env:"WORKER_CONCURRENCY" envDefault:"10"`
	ShutdownTimeout   time.Duration `env:"SHUTDOWN_TIMEOUT" envDefault:"30s"`

	// Failure follow-up. FAILURE_NOTIFICATIONS_ENABLED unset: each failure's
	// email is decided by VA.gov's Flipper flag, read at most
	// FAILURE_NOTIFICATIONS_FLAG_MAX_AGE ago; true or false forces the
	// decision (places without Flipper). Load resolves FailureEmails.
	FailureNotificationsEnabled    string        `env:"FAILURE_NOTIFICATIONS_ENABLED"`
	FailureNotificationsFlagMaxAge time.Duration `env:"FAILURE_NOTIFICATIONS_FLAG_MAX_AGE" envDefault:"1m"`
	NotificationQueue              string        `env:"NOTIFICATION_QUEUE" envDefault:"default"`
	// Where the relay sends them: "sidekiq" pushes VA.gov's email jobs onto
	// its Sidekiq (SIDEKIQ_*), "asynq" enqueues this worker's tasks on
	// NOTIFICATION_QUEUE for a Go consumer.
	NotificationTarget string `env:"NOTIFICATION_TARGET" envDefault:"sidekiq"`
	SidekiqRedisURL    string `env:"SIDEKIQ_REDIS_URL"` // empty: the worker's own Redis (REDIS_URL or Sentinel)
	SidekiqQueue       string `env:"SIDEKIQ_QUEUE" envDefault:"default"`
	SidekiqNamespace   string `env:"SIDEKIQ_NAMESPACE"` // redis-namespace of the Sidekiq application, without the colon

	// Observability.
	MetricsAddr string `env:"METRICS_ADDR" envDefault:"127.0.0.1:9464"`
	LogLevel    string `env:"LOG_LEVEL" envDefault:"info"`
	// LogFormat is the envelope of every log line: LogFormatSemanticLogger
	// (vets-api's rails_semantic_logger JSON, which its Datadog facets and
	// monitors read), LogFormatSlog (slog's JSON) or LogFormatText (slog's
	// text, for people).
	LogFormat string `env:"LOG_FORMAT" envDefault:"semantic_logger"`
	// semantic_logger's application and environment of every line (the
	// environment left out when empty).
	LogApplication string `env:"LOG_APPLICATION" envDefault:"lighthouse526-worker"`
	LogEnvironment string `env:"LOG_ENVIRONMENT"`
	// The original's StatsD keys, to the Datadog agent (DogStatsD, UDP
	// host:port; empty: off), with optional constant tags (env:prod,...).
	// STATSD_ADDR=none turns StatsD off without the start-up warning that an
	// unset one gives (StatsDAgentAddr).
	StatsDAddr string   `env:"STATSD_ADDR"`
	StatsDTags []string `env:"STATSD_TAGS" envSeparator:","`
	// Datadog's unified service tags: env, service and version on every
	// StatsD line (StatsDTagList).
	DDEnv     string `env:"DD_ENV"`
	DDService string `env:"DD_SERVICE"`
	DDVersion string `env:"DD_VERSION"`

	// The container's memory limit in bytes (Kubernetes: a resourceFieldRef
	// of limits.memory): the Go runtime's soft memory limit is set to
	// GoMemLimitPercent of it (GoMemoryLimit), unless GOMEMLIMIT is set,
	// which the runtime reads itself and which then wins.
	ContainerMemoryLimit int64  `env:"CONTAINER_MEMORY_LIMIT"`
	GoMemLimit           string `env:"GOMEMLIMIT"`

	// Every HTTP server of the worker (enqueue API, monitor, metrics): a
	// client that trickles its headers or body is cut off at the read
	// timeouts, a slow reader at the write timeout, and an idle keep-alive
	// connection is closed after the idle timeout.
	HTTPReadHeaderTimeout time.Duration `env:"HTTP_READ_HEADER_TIMEOUT" envDefault:"5s"`
	HTTPReadTimeout       time.Duration `env:"HTTP_READ_TIMEOUT" envDefault:"30s"`
	HTTPWriteTimeout      time.Duration `env:"HTTP_WRITE_TIMEOUT" envDefault:"60s"`
	HTTPIdleTimeout       time.Duration `env:"HTTP_IDLE_TIMEOUT" envDefault:"2m"`

	// HTTP enqueue API (`worker api`, `worker run --api`). Callers present a
	// bearer JWT signed with the RS256 key pair of API_JWT_PUBLIC_KEY and/or
	// the HS256 secret; iss, aud and exp are checked.
	APIAddr             string `env:"API_ADDR" envDefault:"127.0.0.1:9470"`
	APIJWTPublicKey     string `env:"API_JWT_PUBLIC_KEY"`
	APIJWTHS256Secret   string `env:"API_JWT_HS256_SECRET"`
	APIJWTIssuer        string `env:"API_JWT_ISSUER"`
	APIJWTAudience      string `env:"API_JWT_AUDIENCE"`
	APIJWTRequiredScope string `env:"API_JWT_REQUIRED_SCOPE"`
	// Tokens whose exp lies further than this after their iat (or after now)
	// are refused: a leaked long-lived token is a standing key.
	APIJWTMaxLifetime time.Duration `env:"API_JWT_MAX_LIFETIME" envDefault:"1h"`
	// POST /v1/polls calls one caller (token subject) may make a minute: the
	// Lighthouse budget is shared by every caller and the worker's cycles.
	APIPollsPerMinute int `env:"API_POLLS_PER_MINUTE" envDefault:"10"`

	// asynqmon web UI (`worker monitor`): basic auth or a bearer token, or
	// MONITOR_AUTH=none on a loopback address only.
	MonitorAddr string `env:"MONITOR_ADDR" envDefault:"127.0.0.1:9480"`
	// MonitorOpsAddr, when set, is where `worker monitor` also serves
	// /healthz, /readyz and /metrics, unauthenticated: for probes when the
	// UI listens on loopback only.
	MonitorOpsAddr        string `env:"MONITOR_OPS_ADDR"`
	MonitorReadOnly       bool   `env:"MONITOR_READ_ONLY" envDefault:"true"`
	MonitorUsername       string `env:"MONITOR_USERNAME"`
	MonitorPassword       string `env:"MONITOR_PASSWORD"`
	MonitorToken          string `env:"MONITOR_TOKEN"`
	MonitorAuth           string `env:"MONITOR_AUTH"`
	MonitorPrometheusAddr string `env:"MONITOR_PROMETHEUS_ADDR"`
	// The monitor speaks plain HTTP: credentials on a non-loopback address
	// need TLS in front of it, which MONITOR_INSECURE=true declares.
	MonitorInsecure bool `env:"MONITOR_INSECURE" envDefault:"false"`
	// Failed logins one client address may make a minute before the monitor
	// answers it 429.
	MonitorLoginFailuresPerMinute int `env:"MONITOR_LOGIN_FAILURES_PER_MINUTE" envDefault:"5"`

	// Derived by Load; not read from the environment.
	LighthouseBaseURL    string          `env:"-"`
	PollSchedule         cron.Schedule   `env:"-"` // POLL_CRON, parsed by ParseSchedule
	Ladder               Ladder          `env:"-"` // POLL_LADDER, parsed
	LighthousePrivateKey *rsa.PrivateKey `env:"-"`
	FailureEmails        FailureEmails   `env:"-"` // FAILURE_NOTIFICATIONS_ENABLED, resolved
	Queues               map[string]int  `env:"-"`
	APIPublicKey         *rsa.PublicKey  `env:"-"`
}

// API paths under LIGHTHOUSE_HOST, from the API's published facts.
const (
	lighthouseAPIPath   = "/services/benefits-documents/v1"
	lighthouseTokenPath = "/oauth2/benefits-documents/system/v1/token"
)

// DefaultPollStrategy is POLL_STRATEGY's default: fixed, the original's
// cadence, until `worker simulate` shows adaptive better on latency and no
// worse on calls (README: POLL_STRATEGY).
const DefaultPollStrategy = StrategyFixed

// DefaultRateBudget is LIGHTHOUSE_RATE_BUDGET's default: half of the key's
// default 60 calls a minute, the other half left to VA.gov's own uploads.
const DefaultRateBudget = 30

// DefaultPollCron is POLL_CRON's default under strategy s: hourly at minute
// 15 (the original's cadence) under fixed, every minute under adaptive, so
// that an upload due is polled within a minute.
func DefaultPollCron(s Strategy) string {
	if s == StrategyAdaptive {
		return "* * * * *"
	}
	return "15 * * * *"
}

// LighthouseCallsPerMinute is what the shared limiter lets every process of
// this worker spend together: the budget, never more than the key's limit.
func (c *Config) LighthouseCallsPerMinute() int {
	return min(c.LighthouseRateBudget, c.LighthouseRateLimit)
}

// LighthouseConfigured reports whether enough is set to call Lighthouse.
func (c *Config) LighthouseConfigured() bool {
	return c.LighthouseClientID != "" && c.LighthousePrivateKey != nil
}
