package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/hibiken/asynq/x/metrics"

	"github.com/vagov/lighthouse526/runner"
)

// Background loop periods of `worker run`.
const (
	relayInterval        = 30 * time.Second
	archiveSweepInterval = time.Minute
)

func runWorker(ctx context.Context, args []string, stdout, _ io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	noScheduler := fs.Bool("no-scheduler", false, "do not enqueue cron cycles from this replica (tasks are still processed)")
	serveAPI := fs.Bool("api", false, "also serve the HTTP enqueue API on API_ADDR")
	if err := parseFlags(fs, args, stdout, "run [--no-scheduler] [--api]", 0); err != nil {
		return err
	}
	cfg, err := loadConfig()
	if err != nil {
		return err
	}
	if *serveAPI {
		if err := cfg.RequireAPI(); err != nil {
			return &exitError{code: 2, err: err}
		}
	}
	if err := cfg.RequireEmailTarget(); err != nil {
		return &exitError{code: 2, err: err}
	}
	logger := newLogger(cfg)
	if cfg.StatsDAddr == "" {
		logger.Warn("STATSD_ADDR is not set: none of the original's StatsD metrics are sent, so Datadog's dashboards and monitors on them see nothing; set it to the Datadog agent's host:port, or to none to say so")
	}
	a, err := newApp(ctx, cfg, logger, "worker")
	if err != nil {
		return err
	}
	defer a.close()
	var apiSrv *http.Server
	if *serveAPI {
		api, err := newAPIServer(cfg, a.client, a.rdb, logger, a.reg)
		if err != nil {
			return err
		}
		apiSrv = newHTTPServer(cfg, cfg.APIAddr, api, logger)
	}

	inspector := asynq.NewInspectorFromRedisClient(a.rdb)
	a.reg.MustRegister(metrics.NewQueueMetricsCollector(inspector))

	srv := a.newServer()
	if err := srv.Start(a.mux()); err != nil {
		return fmt.Errorf("start asynq server: %w", err)
	}

	loops, stopLoops := context.WithCancel(ctx)
	var wg sync.WaitGroup
	goLoop := func(f func(context.Context)) {
		wg.Add(1)
		go func() { defer wg.Done(); f(loops) }()
	}
	if !*noScheduler {
		// Load parsed POLL_CRON and refused a schedule that never fires or
		// fires more often than once a minute, as `worker config` does.
		sched := &runner.Scheduler{Client: a.client, Queue: cfg.QueueName, Schedule: cfg.PollSchedule, Logger: logger, Now: time.Now}
		goLoop(func(ctx context.Context) { _ = sched.Run(ctx) })
	}
	goLoop(func(ctx context.Context) { a.relay.Run(ctx, relayInterval) })
	goLoop(func(ctx context.Context) {
		a.exhaustion.WatchArchived(ctx, inspector, cfg.QueueName, archiveSweepInterval)
	})

	httpSrv := newHTTPServer(cfg, cfg.MetricsAddr, a.opsHandler(), logger)
	httpErr := make(chan error, 2)
	if cfg.MetricsAddr != "" {
		go func() { httpErr <- httpSrv.ListenAndServe() }()
	}
	if apiSrv != nil {
		go func() { httpErr <- apiSrv.ListenAndServe() }()
		fmt.Fprintf(stdout, "enqueue API on http://%s/v1/\n", cfg.APIAddr)
	}
	logger.Info("worker started", "version", version, "queues", cfg.Queues, "concurrency", cfg.WorkerConcurrency, "poll_strategy", cfg.PollStrategy, "poll_cron", cfg.PollCron, "failure_emails", cfg.FailureEmails, "metrics_addr", cfg.MetricsAddr, "scheduler", !*noScheduler)
	fmt.Fprintf(stdout, "worker running; metrics on http://%s/metrics\n", cfg.MetricsAddr)

	var runErr error
	select {
	case <-ctx.Done():
	case err := <-httpErr:
		if !errors.Is(err, http.ErrServerClosed) {
			runErr = fmt.Errorf("http server: %w", err)
		}
	}
	logger.Info("worker shutting down: in-flight tasks finish or go back to the queue", "shutdown_timeout", cfg.ShutdownTimeout.String())
	stopLoops()
	srv.Shutdown()
	wg.Wait()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = httpSrv.Shutdown(shutdownCtx)
	if apiSrv != nil {
		_ = apiSrv.Shutdown(shutdownCtx)
	}
	logger.Info("worker stopped")
	return runErr
}

// opsHandler serves /metrics, /healthz (the process is alive) and /readyz
// (Redis and Postgres answer).
func (a *app) opsHandler() http.Handler {
	return opsMux(a.reg, redisReady(a.rdb), postgresReady(a.db))
}
