package db

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	"gorm.io/gorm"
)

//go:embed migrations/*.sql
var embedded embed.FS

// EnsureSchema creates the worker's own schema (DATABASE_SCHEMA) when
// missing, before any migration: with search_path "<schema>, public", a
// table created while the schema is missing would land in public. The
// migrations' version table goes there too.
func EnsureSchema(ctx context.Context, gdb *gorm.DB, schema string) error {
	if schema == "" {
		return nil
	}
	// schema is an unquoted identifier (config checks DATABASE_SCHEMA).
	if err := gdb.WithContext(ctx).Exec(`CREATE SCHEMA IF NOT EXISTS ` + schema).Error; err != nil {
		return fmt.Errorf("db: create schema %s: %w", schema, err)
	}
	return nil
}

// MigrationsTable records applied versions. It is this worker's own, so it
// never collides with the application's schema_migrations.
const MigrationsTable = "lighthouse526_schema_migrations"

// Migrator applies the embedded migrations. Several replicas may run it at
// once: a Postgres advisory lock serialises them.
type Migrator struct {
	provider *goose.Provider
}

// NewMigrator builds a Migrator over the pool behind gdb.
func NewMigrator(gdb *gorm.DB) (*Migrator, error) {
	sqlDB, err := gdb.DB()
	if err != nil {
		return nil, err
	}
	return newMigrator(sqlDB)
}

func newMigrator(sqlDB *sql.DB) (*Migrator, error) {
	fsys, err := fs.Sub(embedded, "migrations")
	if err != nil {
		return nil, err
	}
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return nil, err
	}
	p, err := goose.NewProvider(goose.DialectPostgres, sqlDB, fsys,
		goose.WithTableName(MigrationsTable),
		goose.WithSessionLocker(locker),
		goose.WithDisableGlobalRegistry(true),
		goose.WithGoMigrations(goMigrations()...),
	)
	if err != nil {
		return nil, fmt.Errorf("db: migrations: %w", err)
	}
	return &Migrator{provider: p}, nil
}

// MigrationResult is one applied or rolled back migration.
type MigrationResult struct {
	Version   int64
	Name      string
	Direction string
}

// Up applies every pending migration and returns what it applied (nothing when
// the schema is current).
func (m *Migrator) Up(ctx context.Context) ([]MigrationResult, error) {
	rs, err := m.provider.Up(ctx)
	return results(rs), err
}

// Down rolls back the latest applied migration.
func (m *Migrator) Down(ctx context.Context) ([]MigrationResult, error) {
	r, err := m.provider.Down(ctx)
	if r == nil {
		return nil, err
	}
	return results([]*goose.MigrationResult{r}), err
}

// MigrationStatus is one known migration and whether it is applied.
type MigrationStatus struct {
	Version int64
	Name    string
	Applied bool
}

// Status lists every embedded migration.
func (m *Migrator) Status(ctx context.Context) ([]MigrationStatus, error) {
	ss, err := m.provider.Status(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]MigrationStatus, 0, len(ss))
	for _, s := range ss {
		out = append(out, MigrationStatus{Version: s.Source.Version, Name: s.Source.Path, Applied: s.State == goose.StateApplied})
	}
	return out, nil
}

// HasPending reports whether any migration is not applied yet.
func (m *Migrator) HasPending(ctx context.Context) (bool, error) {
	return m.provider.HasPending(ctx)
}

func results(rs []*goose.MigrationResult) []MigrationResult {
	out := make([]MigrationResult, 0, len(rs))
	for _, r := range rs {
		out = append(out, MigrationResult{Version: r.Source.Version, Name: r.Source.Path, Direction: r.Direction})
	}
	return out
}
