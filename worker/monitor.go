package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"

	"github.com/vagov/lighthouse526/worker/monitor"
)

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
	rdb, err := newRedis(cfg)
	if err != nil {
		return err
	}
	defer rdb.Close()
	redisConn, err := redisConnOpt(cfg)
	if err != nil {
		return err
	}
	srv, err := monitor.New(cfg, redisConn, rdb, logger.With("component", "monitor"))
	if settings := (*monitor.SettingsError)(nil); errors.As(err, &settings) {
		return &exitError{code: 2, err: err}
	}
	if err != nil {
		return err
	}
	defer srv.Close()

	servers := []*http.Server{newHTTPServer(cfg, cfg.MonitorAddr, srv, logger)}
	if cfg.MonitorOpsAddr != "" {
		// Probes and scrapers reach this one when the UI listens on
		// loopback only; asynqmon reads Redis, so /readyz pings it.
		servers = append(servers, newHTTPServer(cfg, cfg.MonitorOpsAddr, opsMux(newRegistry(), redisReady(rdb)), logger))
	}
	logger.Info("monitor started", "monitor_addr", cfg.MonitorAddr, "monitor_ops_addr", cfg.MonitorOpsAddr, "read_only", cfg.MonitorReadOnly, "auth_none", cfg.MonitorAuth == "none")
	fmt.Fprintf(stdout, "asynqmon on http://%s%s/ (read-only: %t)\n", cfg.MonitorAddr, monitor.Root, cfg.MonitorReadOnly)
	return serveUntilDone(ctx, servers...)
}
