// Package db opens the Postgres connection pool and owns the schema
// migrations, embedded in the binary and applied by `worker migrate`.
package db

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// Options configure the pool.
type Options struct {
	URL              string
	MaxOpenConns     int
	MaxIdleConns     int
	ConnMaxLifetime  time.Duration
	StatementTimeout time.Duration
	Logger           *slog.Logger
	ApplicationName  string
	// Schema, when set, is the schema of the worker's own tables: every
	// connection's search_path is "<Schema>, public", so the worker's
	// unqualified table names find its tables there and VA.gov's in public,
	// and the tables `worker migrate` creates go there. It must be an
	// unquoted identifier (config checks DATABASE_SCHEMA).
	Schema string
	// WrapConn, when set, wraps the network connection of each new
	// connection (the tests count the statements sent on it).
	WrapConn func(net.Conn) net.Conn
}

// Open connects to Postgres with GORM, sets the pool limits, pins the session
// time zone to UTC (the tables hold UTC timestamps without zone) and checks
// the connection. Errors never carry the URL's password.
func Open(ctx context.Context, o Options) (*gorm.DB, error) {
	pgcfg, err := pgx.ParseConfig(o.URL)
	if err != nil {
		return nil, fmt.Errorf("db: parse DATABASE_URL: invalid connection string")
	}
	if pgcfg.RuntimeParams == nil {
		pgcfg.RuntimeParams = map[string]string{}
	}
	pgcfg.RuntimeParams["timezone"] = "UTC"
	if o.StatementTimeout > 0 {
		pgcfg.RuntimeParams["statement_timeout"] = fmt.Sprint(o.StatementTimeout.Milliseconds())
	}
	if o.Schema != "" {
		pgcfg.RuntimeParams["search_path"] = o.Schema + ", public"
	}
	if o.ApplicationName != "" {
		pgcfg.RuntimeParams["application_name"] = o.ApplicationName
	}
	if o.WrapConn != nil {
		pgcfg.AfterNetConnect = func(_ context.Context, _ *pgconn.Config, c net.Conn) (net.Conn, error) {
			return o.WrapConn(c), nil
		}
	}
	sqlDB := stdlib.OpenDB(*pgcfg)
	if o.MaxOpenConns > 0 {
		sqlDB.SetMaxOpenConns(o.MaxOpenConns)
	}
	sqlDB.SetMaxIdleConns(o.MaxIdleConns)
	if o.ConnMaxLifetime > 0 {
		sqlDB.SetConnMaxLifetime(o.ConnMaxLifetime)
	}

	gdb, err := gorm.Open(postgres.New(postgres.Config{Conn: sqlDB}), &gorm.Config{
		Logger:                 logger.Discard,
		SkipDefaultTransaction: true,
		NowFunc:                func() time.Time { return time.Now().UTC() },
	})
	if err != nil {
		// The dialector connects to read the server version: this is where an
		// unreachable server usually fails, so scrub and locate it as below.
		sqlDB.Close()
		return nil, fmt.Errorf("db: connect to %s:%d/%s: %w", pgcfg.Host, pgcfg.Port, pgcfg.Database, scrub(err, pgcfg.Password))
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := sqlDB.PingContext(pingCtx); err != nil {
		sqlDB.Close()
		return nil, fmt.Errorf("db: connect to %s:%d/%s: %w", pgcfg.Host, pgcfg.Port, pgcfg.Database, scrub(err, pgcfg.Password))
	}
	return gdb, nil
}

// Close closes the pool under a GORM handle.
func Close(gdb *gorm.DB) error {
	sqlDB, err := gdb.DB()
	if err != nil {
		return err
	}
	return sqlDB.Close()
}
