// Package monitor serves asynqmon, the queues' web UI, for `worker monitor`:
// behind authentication (Auth, with a login throttle shared by every replica
// through Redis) and a guard against a browser that another site drives
// (Guard: security headers, Host check, XSRF token, cross-origin refusal).
package monitor

import (
	"io"
	"log/slog"
	"net/http"

	"github.com/hibiken/asynq"
	"github.com/hibiken/asynqmon"
	"github.com/redis/go-redis/v9"

	"github.com/vagov/lighthouse526/config"
)

// Root is where asynqmon is served; / redirects there.
const Root = "/monitor"

// Server is the monitor's http.Handler: asynqmon under Root behind Guard and
// Auth, the redirect from /, and the health check.
type Server struct {
	mon *asynqmon.HTTPHandler
	mux *http.ServeMux
}

// SettingsError is an error of the monitor's settings, which the caller
// reports as such (exit code 2).
type SettingsError struct{ Err error }

func (e *SettingsError) Error() string { return e.Err.Error() }
func (e *SettingsError) Unwrap() error { return e.Err }

// New builds the monitor configured by cfg. asynqmon opens connections of
// its own, as redisConn says; rdb keeps the login throttle. log gets every
// refused request, failed login and changing call.
func New(cfg *config.Config, redisConn asynq.RedisConnOpt, rdb redis.UniversalClient, log *slog.Logger) (*Server, error) {
	mon := asynqmon.New(asynqmon.Options{
		RootPath:          Root,
		RedisConnOpt:      redisConn,
		ReadOnly:          cfg.MonitorReadOnly,
		PrometheusAddress: cfg.MonitorPrometheusAddr,
	})
	hashes, err := InlineScriptHashes(mon, Root+"/")
	if err != nil {
		mon.Close()
		return nil, err
	}
	guarded := Guard{
		Root: Root, Addr: cfg.MonitorAddr, CheckHost: cfg.MonitorAuth == "none",
		ScriptHashes: hashes, Logger: log,
	}.Wrap(mon)
	protected, err := Auth{
		Username: cfg.MonitorUsername, Password: cfg.MonitorPassword,
		Token: cfg.MonitorToken, None: cfg.MonitorAuth == "none",
		Throttle: &LoginThrottle{Redis: rdb, KeyPrefix: cfg.RedisKeyPrefix, FailuresPerMinute: cfg.MonitorLoginFailuresPerMinute},
		Logger:   log,
	}.Wrap(guarded)
	if err != nil {
		mon.Close()
		return nil, &SettingsError{Err: err}
	}
	mux := http.NewServeMux()
	mux.Handle(Root+"/", protected)
	mux.Handle("GET /{$}", http.RedirectHandler(Root+"/", http.StatusFound))
	mux.HandleFunc("GET "+config.HealthzPath, func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	return &Server{mon: mon, mux: mux}, nil
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Close closes asynqmon's connections.
func (s *Server) Close() error { return s.mon.Close() }
