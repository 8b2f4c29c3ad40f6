package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"strings"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"
	"gorm.io/gorm"

	"github.com/vagov/lighthouse526/config"
	"github.com/vagov/lighthouse526/db"
	"github.com/vagov/lighthouse526/lighthouse"
	"github.com/vagov/lighthouse526/polling"
	"github.com/vagov/lighthouse526/runner"
	"github.com/vagov/lighthouse526/tasks"
	"github.com/vagov/lighthouse526/vagov/semanticlogger"
	"github.com/vagov/lighthouse526/vagov/sidekiq"
)

// loadConfig reads the environment; an invalid one exits with code 2. It
// gives the Go runtime its share of the container's memory limit
// (CONTAINER_MEMORY_LIMIT), unless GOMEMLIMIT set one.
func loadConfig() (*config.Config, error) {
	cfg, err := config.FromEnv()
	if err != nil {
		return nil, &exitError{code: 2, err: err}
	}
	if limit := cfg.GoMemoryLimit(); limit > 0 {
		debug.SetMemoryLimit(limit)
	}
	return cfg, nil
}

// newLogger builds the process logger, on stderr, and routes go-redis's
// own messages to it.
func newLogger(cfg *config.Config) *slog.Logger {
	logger := buildLogger(cfg, os.Stderr)
	redis.SetLogger(redisLogger{logger})
	return logger
}

// buildLogger is the logger of LOG_FORMAT writing to w: by default vets-api's
// envelope (rails_semantic_logger's JSON, vagov/semanticlogger), which its
// Datadog facets and log monitors read; slog's JSON or text otherwise.
func buildLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	switch cfg.LogFormat {
	case config.LogFormatSlog, config.LogFormatText:
		opts := &slog.HandlerOptions{Level: level, ReplaceAttr: semanticlogger.SlogLevelNames}
		var h slog.Handler = slog.NewJSONHandler(w, opts)
		if cfg.LogFormat == config.LogFormatText {
			h = slog.NewTextHandler(w, opts)
		}
		return slog.New(runner.TaskAttrs(h)).With("service", cfg.LogApplication)
	default:
		return slog.New(runner.TaskAttrs(semanticlogger.NewHandler(w, &semanticlogger.Options{
			Level:       level,
			Application: cfg.LogApplication,
			Environment: cfg.LogEnvironment,
		})))
	}
}

// openDB opens Postgres with the configured pool.
func openDB(ctx context.Context, cfg *config.Config, logger *slog.Logger, app string) (*gorm.DB, error) {
	return db.Open(ctx, db.Options{
		URL:              cfg.DatabaseURL,
		MaxOpenConns:     cfg.DBMaxOpenConns,
		MaxIdleConns:     cfg.DBMaxIdleConns,
		ConnMaxLifetime:  cfg.DBConnMaxLifetime,
		StatementTimeout: cfg.DBStatementTimeout,
		Logger:           logger,
		ApplicationName:  app,
		Schema:           cfg.DatabaseSchema,
	})
}

// requireMigrated refuses to start against a schema that lacks migrations,
// or lacks (or mistypes) a table or column the worker reads and writes: one
// message names every such problem, before anything runs.
func requireMigrated(ctx context.Context, gdb *gorm.DB) error {
	m, err := db.NewMigrator(gdb)
	if err != nil {
		return err
	}
	pending, err := m.HasPending(ctx)
	if err != nil {
		return fmt.Errorf("check migrations: %w", err)
	}
	if pending {
		return fmt.Errorf("the database has migrations pending: run `worker migrate up` first")
	}
	return db.CheckSchema(ctx, gdb)
}

// redisLogger routes go-redis's own messages (pool dial failures) to slog.
type redisLogger struct{ l *slog.Logger }

func (r redisLogger) Printf(ctx context.Context, format string, v ...any) {
	r.l.WarnContext(ctx, fmt.Sprintf(format, v...), "component", "go-redis")
}

// newRedis builds the one Redis client every part of the process shares (asynq
// included): a Sentinel failover client when REDIS_SENTINEL_ADDRS is set,
// else a client for REDIS_URL (rediss:// gives TLS).
func newRedis(cfg *config.Config) (redis.UniversalClient, error) {
	opts, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		return nil, fmt.Errorf("REDIS_URL: not a redis:// or rediss:// URL")
	}
	if len(cfg.RedisSentinelAddrs) > 0 {
		return redisFailover(cfg, opts).MakeRedisClient().(redis.UniversalClient), nil
	}
	return redis.NewClient(opts), nil
}

// redisConnOpt is the configured Redis as asynq describes it, for asynqmon,
// which opens its own connections: Sentinel when REDIS_SENTINEL_ADDRS is set,
// else REDIS_URL, with the same credentials, database and TLS as newRedis.
func redisConnOpt(cfg *config.Config) (asynq.RedisConnOpt, error) {
	opts, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		return nil, fmt.Errorf("REDIS_URL: not a redis:// or rediss:// URL")
	}
	if len(cfg.RedisSentinelAddrs) > 0 {
		return redisFailover(cfg, opts), nil
	}
	return asynq.RedisClientOpt{
		Addr:      opts.Addr,
		Username:  opts.Username,
		Password:  opts.Password,
		DB:        opts.DB,
		TLSConfig: opts.TLSConfig,
	}, nil
}

// redisFailover is the Sentinel failover client of REDIS_SENTINEL_ADDRS and
// REDIS_SENTINEL_MASTER, with REDIS_URL's (opts) credentials, database and
// TLS: newRedis's client and asynqmon's alike.
func redisFailover(cfg *config.Config, opts *redis.Options) asynq.RedisFailoverClientOpt {
	return asynq.RedisFailoverClientOpt{
		MasterName:    cfg.RedisSentinelMaster,
		SentinelAddrs: cfg.RedisSentinelAddrs,
		Username:      opts.Username,
		Password:      opts.Password,
		DB:            opts.DB,
		TLSConfig:     opts.TLSConfig,
	}
}

// newRegistry is the process's one metrics registry, with Go and process
// collectors.
func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// newLighthouse builds the API client; it needs the client id and key.
func newLighthouse(cfg *config.Config, rdb redis.UniversalClient, reg prometheus.Registerer, logger *slog.Logger) (*lighthouse.Client, error) {
	var missing []string
	if cfg.LighthouseClientID == "" {
		missing = append(missing, "LIGHTHOUSE_CLIENT_ID")
	}
	if cfg.LighthousePrivateKey == nil {
		missing = append(missing, "LIGHTHOUSE_RSA_KEY")
	}
	if len(missing) > 0 {
		return nil, &exitError{code: 2, err: fmt.Errorf("invalid configuration: %s: required to call Lighthouse", strings.Join(missing, ", "))}
	}
	return lighthouse.NewClient(lighthouse.Config{
		BaseURL:            cfg.LighthouseBaseURL,
		TokenURL:           cfg.LighthouseTokenURL,
		AudClaimURL:        cfg.LighthouseAudClaimURL,
		ClientID:           cfg.LighthouseClientID,
		PrivateKey:         cfg.LighthousePrivateKey,
		KeyID:              cfg.LighthouseKeyID,
		Timeout:            cfg.LighthouseTimeout,
		RateLimitPerMinute: cfg.LighthouseCallsPerMinute(),
		MaxRateLimitWait:   cfg.LighthouseMaxRateLimitWait,
		MaxRetryAfter:      cfg.LighthouseMaxRetryAfter,
		RedisPrefix:        cfg.RedisKeyPrefix,
	}, rdb, lighthouse.WithRegisterer(reg), lighthouse.WithLogger(logger))
}

// notificationTarget is where the outbox relay sends the failure follow-ups
// (NOTIFICATION_TARGET): VA.gov's Sidekiq, on SIDEKIQ_REDIS_URL or else the
// worker's own Redis connection, or this worker's asynq tasks.
func (a *app) notificationTarget() (polling.NotificationTarget, error) {
	if a.cfg.NotificationTarget == config.NotificationTargetAsynq {
		return &tasks.AsynqTarget{Client: a.client, Queue: a.cfg.NotificationQueue}, nil
	}
	rdb := a.rdb
	if a.cfg.SidekiqRedisURL != "" {
		opts, err := redis.ParseURL(a.cfg.SidekiqRedisURL)
		if err != nil {
			return nil, fmt.Errorf("SIDEKIQ_REDIS_URL: not a redis:// or rediss:// URL")
		}
		a.sidekiqRedis = redis.NewClient(opts)
		rdb = a.sidekiqRedis
	}
	client, err := sidekiq.New(rdb, sidekiq.Options{
		Queue:        a.cfg.SidekiqQueue,
		Namespace:    a.cfg.SidekiqNamespace,
		MarkerPrefix: a.cfg.RedisKeyPrefix + "sidekiq:pushed:",
	})
	if err != nil {
		return nil, err
	}
	return &polling.SidekiqTarget{Client: client}, nil
}
