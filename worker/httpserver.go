package main

import (
	"log/slog"
	"net/http"

	"github.com/vagov/lighthouse526/config"
)

// newHTTPServer is every HTTP server of the worker (enqueue API, monitor,
// metrics) with the configured timeouts: a client that trickles its headers
// or body is cut off at HTTP_READ_HEADER_TIMEOUT / HTTP_READ_TIMEOUT instead
// of holding a connection (and a goroutine) for as long as it likes, a client
// that never reads its answer at HTTP_WRITE_TIMEOUT, and an idle keep-alive
// connection after HTTP_IDLE_TIMEOUT. The server's own errors (TLS handshakes,
// accept failures) go to the structured log.
func newHTTPServer(cfg *config.Config, addr string, h http.Handler, logger *slog.Logger) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: cfg.HTTPReadHeaderTimeout,
		ReadTimeout:       cfg.HTTPReadTimeout,
		WriteTimeout:      cfg.HTTPWriteTimeout,
		IdleTimeout:       cfg.HTTPIdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
}
