package main

import (
	"context"
	"io"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"
	"gorm.io/gorm"

	"github.com/vagov/lighthouse526/config"
)

// readyTimeout bounds each dependency's ping of a /readyz request.
const readyTimeout = 2 * time.Second

// readyCheck is one dependency /readyz pings: its name and how.
type readyCheck struct {
	name string
	ping func(context.Context) error
}

// redisReady pings Redis.
func redisReady(rdb redis.UniversalClient) readyCheck {
	return readyCheck{"redis", func(ctx context.Context) error { return rdb.Ping(ctx).Err() }}
}

// postgresReady pings Postgres.
func postgresReady(gdb *gorm.DB) readyCheck {
	return readyCheck{"postgres", func(ctx context.Context) error {
		sqlDB, err := gdb.DB()
		if err != nil {
			return err
		}
		return sqlDB.PingContext(ctx)
	}}
}

// opsMux is the ops server of every long-running subcommand (run, api,
// monitor): /metrics of reg, /healthz (the process serves) and /readyz
// (every dependency of checks answers within readyTimeout; 503 naming those
// that do not).
func opsMux(reg *prometheus.Registry, checks ...readyCheck) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("GET "+config.MetricsPath, promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("GET "+config.HealthzPath, func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET "+config.ReadyzPath, func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
		defer cancel()
		var problems []string
		for _, c := range checks {
			if c.ping(ctx) != nil {
				problems = append(problems, c.name+": unreachable")
			}
		}
		if len(problems) > 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			for _, p := range problems {
				_, _ = io.WriteString(w, p+"\n")
			}
			return
		}
		_, _ = io.WriteString(w, "ready\n")
	})
	return mux
}
