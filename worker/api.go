package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/vagov/lighthouse526/config"
	"github.com/vagov/lighthouse526/tasks"
	"github.com/vagov/lighthouse526/worker/api"
)

func apiCmd(ctx context.Context, args []string, stdout, _ io.Writer) error {
	fs := flag.NewFlagSet("api", flag.ContinueOnError)
	if err := parseFlags(fs, args, stdout, "api\n\nServes the HTTP enqueue API on API_ADDR (and /metrics on METRICS_ADDR); settings from the environment.", 0); err != nil {
		return err
	}
	cfg, err := loadConfig()
	if err != nil {
		return err
	}
	if err := cfg.RequireAPI(); err != nil {
		return &exitError{code: 2, err: err}
	}
	logger := newLogger(cfg)
	rdb, err := newRedis(cfg)
	if err != nil {
		return err
	}
	client := asynq.NewClientFromRedisClient(rdb)
	defer client.Close()
	reg := newRegistry()
	srv, err := newAPIServer(cfg, client, rdb, logger, reg)
	if err != nil {
		return err
	}
	servers := []*http.Server{newHTTPServer(cfg, cfg.APIAddr, srv, logger)}
	if cfg.MetricsAddr != "" {
		// /readyz: the API enqueues into Redis and keeps its poll caps there.
		servers = append(servers, newHTTPServer(cfg, cfg.MetricsAddr, opsMux(reg, redisReady(rdb)), logger))
	}
	logger.Info("enqueue API started", "api_addr", cfg.APIAddr, "queue", cfg.QueueName)
	fmt.Fprintf(stdout, "enqueue API on http://%s/v1/ (queue %s)\n", cfg.APIAddr, cfg.QueueName)
	return serveUntilDone(ctx, servers...)
}

// newAPIServer builds the enqueue API from the configuration.
func newAPIServer(cfg *config.Config, client tasks.Enqueuer, rdb redis.UniversalClient, logger *slog.Logger, reg prometheus.Registerer) (*api.Server, error) {
	if err := cfg.RequireAPI(); err != nil {
		return nil, &exitError{code: 2, err: err}
	}
	auth, err := api.NewAuthenticator(api.AuthConfig{
		RSAPublicKey:  cfg.APIPublicKey,
		HS256Secret:   []byte(cfg.APIJWTHS256Secret),
		Issuer:        cfg.APIJWTIssuer,
		Audience:      cfg.APIJWTAudience,
		RequiredScope: cfg.APIJWTRequiredScope,
		MaxLifetime:   cfg.APIJWTMaxLifetime,
	})
	if err != nil {
		return nil, err
	}
	return api.New(api.Options{
		Client: client, Queue: cfg.QueueName, Auth: auth,
		Logger: logger.With("component", "api"), Registerer: reg,
		PollCap: &api.PollCap{Redis: rdb, KeyPrefix: cfg.RedisKeyPrefix, PerMinute: cfg.APIPollsPerMinute, BatchSize: cfg.PollBatchSize},
	})
}

// serveUntilDone serves every server until ctx ends or one fails, then shuts
// them all down (5s at most).
func serveUntilDone(ctx context.Context, servers ...*http.Server) error {
	errc := make(chan error, len(servers))
	for _, s := range servers {
		go func() { errc <- s.ListenAndServe() }()
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
		err = fmt.Errorf("http server: %w", err)
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	for _, s := range servers {
		_ = s.Shutdown(shutdownCtx)
	}
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}
