package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"

	"github.com/hibiken/asynq"
	"github.com/hibiken/asynqmon"
	"github.com/redis/go-redis/v9"

	"github.com/vagov/lighthouse526/config"
	"github.com/vagov/lighthouse526/worker/api"
)

// monitorRoot is where asynqmon is served; / redirects there.
const monitorRoot = "/monitor"

func monitorCmd(ctx context.Context, args []string, stdout, _ io.Writer) error {
	fs := flag.NewFlagSet("monitor", flag.ContinueOnError)
	if err := parseFlags(fs, args, stdout, "monitor\n\nServes the asynqmon UI on MONITOR_ADDR behind authentication; settings from the environment.", 0); err != nil {
		return err
	}
	cfg, err := loadConfig()
	if err != nil {
		return err
	}
	if err := cfg.RequireMonitor(); err != nil {
		return &exitError{code: 2, err: err}
	}
	logger := newLogger(cfg)
	connOpt, err := redisConnOpt(cfg)
	if err != nil {
		return err
	}
	mon := asynqmon.New(asynqmon.Options{
		RootPath:          monitorRoot,
		RedisConnOpt:      connOpt,
		ReadOnly:          cfg.MonitorReadOnly,
		PrometheusAddress: cfg.MonitorPrometheusAddr,
	})
	defer mon.Close()
	hashes, err := api.InlineScriptHashes(mon, monitorRoot+"/")
	if err != nil {
		return err
	}
	log := logger.With("component", "monitor")
	guarded := api.MonitorGuard{
		Root: monitorRoot, Addr: cfg.MonitorAddr, CheckHost: cfg.MonitorAuth == "none",
		ScriptHashes: hashes, Logger: log,
	}.Wrap(mon)
	rdb, err := newRedis(cfg)
	if err != nil {
		return err
	}
	defer rdb.Close()
	protected, err := api.MonitorAuth{
		Username: cfg.MonitorUsername, Password: cfg.MonitorPassword,
		Token: cfg.MonitorToken, None: cfg.MonitorAuth == "none",
		Throttle: &api.LoginThrottle{Redis: rdb, KeyPrefix: cfg.RedisKeyPrefix, FailuresPerMinute: cfg.MonitorLoginFailuresPerMinute},
		Logger:   log,
	}.Wrap(guarded)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	mux := http.NewServeMux()
	mux.Handle(monitorRoot+"/", protected)
	mux.Handle("GET /{$}", http.RedirectHandler(monitorRoot+"/", http.StatusFound))
	mux.HandleFunc("GET "+config.HealthzPath, func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") })

	logger.Info("monitor started", "monitor_addr", cfg.MonitorAddr, "read_only", cfg.MonitorReadOnly, "auth_none", cfg.MonitorAuth == "none")
	fmt.Fprintf(stdout, "asynqmon on http://%s%s/ (read-only: %t)\n", cfg.MonitorAddr, monitorRoot, cfg.MonitorReadOnly)
	return serveUntilDone(ctx, newHTTPServer(cfg, cfg.MonitorAddr, mux, logger))
}

// redisConnOpt is the configured Redis as asynq describes it (asynqmon opens
// its own connections): Sentinel when REDIS_SENTINEL_ADDRS is set, else
// REDIS_URL, with the same credentials, database and TLS as newRedis.
func redisConnOpt(cfg *config.Config) (asynq.RedisConnOpt, error) {
	opts, err := redis.ParseURL(cfg.RedisURL)
	if err != nil {
		return nil, fmt.Errorf("REDIS_URL: not a redis:// or rediss:// URL")
	}
	if len(cfg.RedisSentinelAddrs) > 0 {
		return asynq.RedisFailoverClientOpt{
			MasterName:    cfg.RedisSentinelMaster,
			SentinelAddrs: cfg.RedisSentinelAddrs,
			Username:      opts.Username,
			Password:      opts.Password,
			DB:            opts.DB,
			TLSConfig:     opts.TLSConfig,
		}, nil
	}
	return asynq.RedisClientOpt{
		Addr:      opts.Addr,
		Username:  opts.Username,
		Password:  opts.Password,
		DB:        opts.DB,
		TLSConfig: opts.TLSConfig,
	}, nil
}
