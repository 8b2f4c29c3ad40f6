package flipper

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Limits of Config.MaxAge: shorter would query Flipper's tables for nearly
// every batch; longer would leave emails going out long after an operator
// turned them off.
const (
	MinMaxAge     = time.Second
	MaxMaxAge     = 10 * time.Minute
	DefaultMaxAge = time.Minute
)

// Config describes a Flag.
type Config struct {
	// DB is VA.gov's database, where Flipper's tables are (found through
	// the connection's search_path, as the worker's other queries find
	// VA.gov's tables).
	DB *sql.DB
	// Feature is the flag's key (FailureEmailsFeature).
	Feature string
	// MaxAge is how old the gates a check uses may be: a Flag queries
	// Flipper's tables at most once per MaxAge, whatever the number of
	// checks (DefaultMaxAge when zero).
	MaxAge time.Duration
	// Logger hears of the flag's state when it is first read and whenever
	// it changes, and of failed reads.
	Logger *slog.Logger
	// Registerer takes the flag's metrics (none when nil).
	Registerer prometheus.Registerer
	// Now and Draw are the clock and the [0, 1) draw of a percentage_of_time
	// check (time.Now and math/rand/v2's Float64 when nil).
	Now  func() time.Time
	Draw func() float64
}

// Flag is one Flipper feature as the worker's processes check it: its
// gates read at most MaxAge ago, then evaluated per check as Flipper does
// with no actor. Safe for concurrent use.
type Flag struct {
	cfg Config

	mu     sync.Mutex
	gates  Gates
	readAt time.Time // when the gates were last read, or a read last failed
	read   bool      // the gates were read at least once
	said   string    // the state last logged

	share      prometheus.Gauge
	readErrors *prometheus.CounterVec
}

// Reasons of form526_document_upload_failure_email_flag_errors_total.
const (
	errorReadFailed = "read_failed"
	errorUnreadable = "unreadable_gate"
)

// New builds a Flag; nothing is read until the first check (or Read).
func New(cfg Config) *Flag {
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = DefaultMaxAge
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Draw == nil {
		cfg.Draw = rand.Float64
	}
	reg := cfg.Registerer
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	f := &Flag{cfg: cfg}
	f.share = promauto.With(reg).NewGauge(prometheus.GaugeOpts{
		Name: "form526_document_upload_failure_emails_share",
		Help: "Share of failed uploads whose veteran is emailed, as Flipper's flag was last read (1: boolean gate on; N/100: percentage_of_time N; 0: off or absent).",
	})
	f.readErrors = promauto.With(reg).NewCounterVec(prometheus.CounterOpts{
		Name: "form526_document_upload_failure_email_flag_errors_total",
		Help: "Reads of Flipper's flag that failed (read_failed: the last gates read stay in force) or found a gate value Flipper would not read (unreadable_gate: that gate stays closed).",
	}, []string{"reason"})
	for _, r := range []string{errorReadFailed, errorUnreadable} {
		f.readErrors.WithLabelValues(r)
	}
	return f
}

// Enabled is one check of the flag, as the original's
// Flipper.enabled?(feature) with no actor: true when the boolean gate is
// on, or with the percentage_of_time gate's chance. The gates are read
// again when the last read is MaxAge old; a read that fails is logged and
// counted, and the gates last read decide (all closed if none was ever read).
func (f *Flag) Enabled(ctx context.Context) bool {
	g, _ := f.Read(ctx)
	return g.Enabled(f.cfg.Draw())
}

// Read returns the feature's gates, reading Flipper's tables only when the
// last read (or failed read) is MaxAge old or older: at most one query per
// MaxAge per Flag, whatever the number of checks. On a failed read it
// returns the gates last read with the error.
func (f *Flag) Read(ctx context.Context) (Gates, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.cfg.Now()
	if f.read && now.Sub(f.readAt) < f.cfg.MaxAge {
		return f.gates, nil
	}
	// Set before the query: a failed read is not retried for MaxAge either,
	// so a database that is down is not asked at every check.
	f.readAt = now
	g, err := f.query(ctx)
	if err != nil {
		f.readErrors.WithLabelValues(errorReadFailed).Inc()
		f.cfg.Logger.ErrorContext(ctx, "cannot read Flipper's flag of the failure emails; the gates last read stay in force",
			"flag", f.cfg.Feature, "error", err.Error(), "retry_in", f.cfg.MaxAge.String())
		return f.gates, err
	}
	f.gates, f.read = g, true
	f.share.Set(g.Share())
	if len(g.Unreadable) > 0 {
		f.readErrors.WithLabelValues(errorUnreadable).Inc()
	}
	f.report(ctx, g)
	return g, nil
}

// report logs the flag's state the first time it is read and whenever it
// changes: tables or flag absent (emails off) as a warning, once.
func (f *Flag) report(ctx context.Context, g Gates) {
	state, reason := g.Emails()
	said := state + "|" + reason + "|" + fmt.Sprint(g.Unreadable)
	if said == f.said {
		return
	}
	f.said = said
	level := slog.LevelInfo
	if !g.TablesExist || !g.Known || len(g.Unreadable) > 0 {
		level = slog.LevelWarn
	}
	attrs := []any{"flag", f.cfg.Feature, "emails", state, "reason", reason}
	if len(g.Unreadable) > 0 {
		attrs = append(attrs, "unreadable_gates", slices.Clone(g.Unreadable))
	}
	f.cfg.Logger.Log(ctx, level, LogFlagState, attrs...)
}

// LogFlagState is the message of the flag's state, logged when it is first
// read and whenever it changes.
const LogFlagState = "failure emails follow Flipper's flag"

// query reads the feature's row and gates in one statement. A database
// without Flipper's tables is no error: its gates are all closed.
func (f *Flag) query(ctx context.Context) (Gates, error) {
	rows, err := f.cfg.DB.QueryContext(ctx, `
SELECT 'feature', key, '' FROM flipper_features WHERE key = $1
UNION ALL
SELECT 'gate', key, coalesce(value, '') FROM (SELECT key, value, id FROM flipper_gates WHERE feature_key = $1 ORDER BY id) g`,
		f.cfg.Feature)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42P01" { // undefined_table
		return Gates{}, nil
	}
	if err != nil {
		return Gates{}, fmt.Errorf("flipper: read %s: %w", f.cfg.Feature, err)
	}
	defer rows.Close()
	var (
		known bool
		gates []gateRow
	)
	for rows.Next() {
		var kind, key, value string
		if err := rows.Scan(&kind, &key, &value); err != nil {
			return Gates{}, fmt.Errorf("flipper: read %s: %w", f.cfg.Feature, err)
		}
		if kind == "feature" {
			known = true
			continue
		}
		gates = append(gates, gateRow{key: key, value: value})
	}
	if err := rows.Err(); err != nil {
		return Gates{}, fmt.Errorf("flipper: read %s: %w", f.cfg.Feature, err)
	}
	return gatesOf(known, gates), nil
}
