package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"gorm.io/gorm"

	"github.com/vagov/lighthouse526/config"
	"github.com/vagov/lighthouse526/db"
	"github.com/vagov/lighthouse526/lighthouse"
	"github.com/vagov/lighthouse526/polling"
	"github.com/vagov/lighthouse526/runner"
	"github.com/vagov/lighthouse526/tasks"
	"github.com/vagov/lighthouse526/vagov/flipper"
	"github.com/vagov/lighthouse526/vagov/statsd"
)

// app is the wired product: what `run`, `poll` and the specs share.
type app struct {
	cfg        *config.Config
	logger     *slog.Logger
	reg        *prometheus.Registry
	db         *gorm.DB
	rdb        redis.UniversalClient
	client     *asynq.Client
	lighthouse *lighthouse.Client
	metrics    *polling.Metrics
	// taskTypeMetrics are the task types' own: rejected payloads.
	taskTypeMetrics *tasks.Metrics
	// taskMetrics are the task server's: every task's runs and the
	// exhausted polling tasks.
	taskMetrics *runner.Metrics
	// sidekiqRedis is the Sidekiq application's Redis when SIDEKIQ_REDIS_URL
	// names one other than the worker's own.
	sidekiqRedis redis.UniversalClient

	relay      *polling.Relay
	updater    *polling.StatusUpdater
	cycle      *polling.Cycle
	batch      *polling.BatchPoller
	exhaustion *runner.Exhaustion
}

// newApp connects to Postgres, Redis and Lighthouse and builds the handlers.
func newApp(ctx context.Context, cfg *config.Config, logger *slog.Logger, role string) (*app, error) {
	a := &app{cfg: cfg, logger: logger, reg: newRegistry()}
	var err error
	if a.db, err = openDB(ctx, cfg, logger, "lighthouse526-"+role); err != nil {
		return nil, err
	}
	if err = requireMigrated(ctx, a.db); err != nil {
		a.close()
		return nil, err
	}
	if a.rdb, err = newRedis(cfg); err != nil {
		a.close()
		return nil, err
	}
	if a.lighthouse, err = newLighthouse(cfg, a.rdb, a.reg, logger); err != nil {
		a.close()
		return nil, err
	}
	a.client = asynq.NewClientFromRedisClient(a.rdb)
	a.metrics = polling.NewMetrics(a.reg)
	a.taskMetrics = runner.NewMetrics(a.reg)
	a.taskTypeMetrics = tasks.NewMetrics(a.reg)
	if a.metrics.StatsD, err = statsd.New(statsd.Config{Addr: cfg.StatsDAgentAddr(), Tags: cfg.StatsDTagList(), Logger: logger, Registerer: a.reg}); err != nil {
		a.close()
		return nil, err
	}
	now := func() time.Time { return time.Now().UTC() }

	target, err := a.notificationTarget()
	if err != nil {
		a.close()
		return nil, err
	}
	a.relay = &polling.Relay{DB: a.db, Target: target, Metrics: a.metrics, Logger: logger, Now: now}
	emails, err := a.failureEmails(ctx)
	if err != nil {
		a.close()
		return nil, err
	}
	a.updater = &polling.StatusUpdater{
		DB: a.db, Metrics: a.metrics, Now: now,
		ProcessingTimeout: cfg.ProcessingTimeout,
		Emails:            emails,
	}
	a.cycle = &polling.Cycle{
		DB: a.db, Metrics: a.metrics, Now: now,
		BatchSize: cfg.PollBatchSize, Window: cfg.PollWindow, Grace: cfg.PollWindowGrace,
		StaleAfter: 30 * time.Minute,
		KeepCycles: keepCycles,
	}
	if cfg.PollStrategy == config.StrategyAdaptive {
		a.cycle.Adaptive = adaptive(cfg)
		a.updater.Schedule = &a.cycle.Adaptive.Schedule
	}
	a.batch = &polling.BatchPoller{Lighthouse: a.lighthouse, Updater: a.updater, Relay: a.relay}
	a.exhaustion = &runner.Exhaustion{Redis: a.rdb, KeyPrefix: cfg.RedisKeyPrefix, DB: a.db, Metrics: a.taskMetrics, Polling: a.metrics, Logger: logger, Now: now}
	return a, nil
}

// failureEmails decides, at each failure, whether its veteran is emailed
// (FAILURE_NOTIFICATIONS_ENABLED): unset, VA.gov's Flipper flag, read here
// once so that its state is logged at start and a flag that cannot be read
// (no permission on Flipper's tables) stops the start; true or false, that
// decision for every failure.
func (a *app) failureEmails(ctx context.Context) (polling.EmailFlag, error) {
	switch a.cfg.FailureEmails {
	case config.FailureEmailsOn:
		return polling.EmailsAlways(true), nil
	case config.FailureEmailsOff:
		return polling.EmailsAlways(false), nil
	}
	sqlDB, err := a.db.DB()
	if err != nil {
		return nil, err
	}
	flag := flipper.New(flipper.Config{
		DB: sqlDB, Feature: flipper.FailureEmailsFeature, MaxAge: a.cfg.FailureNotificationsFlagMaxAge,
		Logger: a.logger, Registerer: a.reg,
	})
	if _, err := flag.Read(ctx); err != nil {
		return nil, fmt.Errorf("%w (FAILURE_NOTIFICATIONS_ENABLED=true or false decides without Flipper)", err)
	}
	return flag, nil
}

// keepCycles is how long cycle rows are kept (a week of cron cycles: 168
// rows hourly, 10,080 a minute apart), for `worker poll --wait` and the
// operator looking into a recent cycle.
const keepCycles = 7 * 24 * time.Hour

// adaptive is the adaptive strategy's part of the cycle (POLL_STRATEGY).
func adaptive(cfg *config.Config) *polling.Adaptive {
	period := func(t time.Time) time.Duration { return cfg.PollSchedule.Next(t).Sub(t) }
	first := cfg.PollSchedule.Next(time.Now())
	return &polling.Adaptive{
		Schedule:        polling.Schedule{Ladder: cfg.Ladder, Floor: cfg.PollFloor},
		BudgetPerMinute: cfg.LighthouseCallsPerMinute(),
		Period:          period,
		Lease:           polling.LeaseFor(tasks.StatusBatchTimeout(), period(first)),
	}
}

// newServer is the asynq server of the process: retry policy, failure rule,
// exhaustion handler and logging of the tasks package.
func (a *app) newServer() *asynq.Server {
	return asynq.NewServerFromRedisClient(a.rdb, asynq.Config{
		Concurrency:     a.cfg.WorkerConcurrency,
		Queues:          a.cfg.Queues,
		IsFailure:       runner.IsFailure,
		RetryDelayFunc:  runner.RetryDelay,
		ErrorHandler:    asynq.ErrorHandlerFunc(a.exhaustion.HandleError),
		Logger:          runner.AsynqLogger(a.logger),
		LogLevel:        asynq.WarnLevel,
		ShutdownTimeout: a.cfg.ShutdownTimeout,
		HealthCheckFunc: func(err error) {
			if err != nil {
				a.logger.Warn("asynq cannot reach Redis", "error", err.Error())
			}
		},
	})
}

// mux routes every task type this worker handles.
func (a *app) mux() *asynq.ServeMux {
	mux := asynq.NewServeMux()
	mux.Use(runner.Instrument(a.taskMetrics))
	mux.Handle(tasks.TypePolling, &tasks.PollingHandler{Cycle: a.cycle, Client: a.client, Queue: a.cfg.QueueName, Metrics: a.taskTypeMetrics, Logger: a.logger})
	mux.Handle(tasks.TypeStatusBatch, &tasks.StatusBatchHandler{Poller: a.batch, Metrics: a.taskTypeMetrics, Logger: a.logger})
	now := func() time.Time { return time.Now().UTC() }
	mux.Handle(tasks.TypeDocumentUploadTrack, &tasks.TrackHandler{DB: a.db, Metrics: a.taskTypeMetrics, Logger: a.logger, Now: now})
	mux.Handle(tasks.TypeDocumentUploadPollNow, &tasks.PollNowHandler{
		DB: a.db, Cycle: a.cycle, Client: a.client, Queue: a.cfg.QueueName, Metrics: a.taskTypeMetrics, Logger: a.logger, Now: now,
	})
	return mux
}

func (a *app) close() {
	if a.metrics != nil {
		_ = a.metrics.StatsD.Close() // sends the last increments
	}
	if a.sidekiqRedis != nil {
		_ = a.sidekiqRedis.Close()
	}
	if a.lighthouse != nil {
		a.lighthouse.Close() // a token fetch in flight releases its lock
	}
	if a.client != nil {
		_ = a.client.Close()
	} else if a.rdb != nil {
		_ = a.rdb.Close()
	}
	if a.db != nil {
		_ = db.Close(a.db)
	}
}
