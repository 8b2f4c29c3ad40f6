//go:build dev

package main

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/vagov/lighthouse526/config"
)

// inProcessWorker is `worker bench --workers 0`: the same app and asynq
// server as `worker run --no-scheduler`, in the bench's own process (so that
// --cpuprofile sees it). Its logs go to logPath, or are encoded and dropped.
func inProcessWorker(logPath string) func(ctx context.Context, environ []string) (func(), error) {
	return func(ctx context.Context, environ []string) (func(), error) {
		cfg, err := config.Load(environ)
		if err != nil {
			return nil, err
		}
		out := io.Discard
		var logFile *os.File
		if logPath != "" {
			if logFile, err = os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600); err != nil {
				return nil, err
			}
			out = logFile
		}
		logger := buildLogger(cfg, out)

		a, err := newApp(ctx, cfg, logger, "bench-worker")
		if err != nil {
			return nil, err
		}
		srv := a.newServer()
		if err := srv.Start(a.mux()); err != nil {
			a.close()
			return nil, err
		}
		ln, err := net.Listen("tcp", cfg.MetricsAddr)
		if err != nil {
			srv.Shutdown()
			a.close()
			return nil, err
		}
		httpSrv := &http.Server{Handler: a.opsHandler(), ReadHeaderTimeout: 5 * time.Second}
		go func() {
			if err := httpSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				logger.Error("bench worker metrics server", "error", err.Error())
			}
		}()
		return func() {
			srv.Shutdown()
			_ = httpSrv.Close()
			a.close()
			if logFile != nil {
				_ = logFile.Close()
			}
		}, nil
	}
}
