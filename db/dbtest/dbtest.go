// Package dbtest gives each test process its own real, migrated Postgres
// database and its own Redis database index. It is used only by tests.
//
// TEST_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres) is
// the maintenance database used to create the per-process databases;
// TEST_REDIS_ADDR (default 127.0.0.1:6379) is the Redis server. A missing
// service is an error, never a skip.
package dbtest

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/vagov/lighthouse526/db"
)

// AdminURL is the maintenance database URL.
func AdminURL() string {
	if u := os.Getenv("TEST_DATABASE_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

var unsafeName = regexp.MustCompile(`[^a-z0-9_]`)

// DatabaseURL is the URL of the test database called name.
func DatabaseURL(name string) string {
	u, err := url.Parse(AdminURL())
	if err != nil {
		panic(err)
	}
	u.Path = "/" + name
	return u.String()
}

// CreateDatabase drops and creates an empty database (name is sanitised to
// [a-z0-9_]) and returns its URL.
func CreateDatabase(ctx context.Context, name string) (string, error) {
	name = "lh526_test_" + unsafeName.ReplaceAllString(strings.ToLower(name), "_")
	admin, err := db.Open(ctx, db.Options{URL: AdminURL(), MaxOpenConns: 1})
	if err != nil {
		return "", fmt.Errorf("dbtest: Postgres is required for the tests: %w", err)
	}
	defer db.Close(admin)
	if err := admin.Exec(`DROP DATABASE IF EXISTS "` + name + `" WITH (FORCE)`).Error; err != nil {
		return "", fmt.Errorf("dbtest: drop %s: %w", name, err)
	}
	if err := admin.Exec(`CREATE DATABASE "` + name + `"`).Error; err != nil {
		return "", fmt.Errorf("dbtest: create %s: %w", name, err)
	}
	return DatabaseURL(name), nil
}

// DropDatabase removes a database made by CreateDatabase.
func DropDatabase(ctx context.Context, dbURL string) error {
	u, err := url.Parse(dbURL)
	if err != nil {
		return err
	}
	admin, err := db.Open(ctx, db.Options{URL: AdminURL(), MaxOpenConns: 1})
	if err != nil {
		return err
	}
	defer db.Close(admin)
	return admin.Exec(`DROP DATABASE IF EXISTS "` + strings.TrimPrefix(u.Path, "/") + `" WITH (FORCE)`).Error
}

// MigratedDatabase creates a fresh database, applies every migration and
// returns it open.
func MigratedDatabase(ctx context.Context, name string) (*gorm.DB, string, error) {
	dbURL, err := CreateDatabase(ctx, name)
	if err != nil {
		return nil, "", err
	}
	gdb, err := db.Open(ctx, db.Options{URL: dbURL, MaxOpenConns: 20, MaxIdleConns: 20, StatementTimeout: time.Minute})
	if err != nil {
		return nil, "", err
	}
	m, err := db.NewMigrator(gdb)
	if err != nil {
		return nil, "", err
	}
	if _, err := m.Up(ctx); err != nil {
		return nil, "", fmt.Errorf("dbtest: migrate: %w", err)
	}
	return gdb, dbURL, nil
}

// Truncate empties the worker's tables between specs.
func Truncate(gdb *gorm.DB) error {
	return gdb.Exec(`TRUNCATE lighthouse526_notification_outbox, lighthouse526_polling_cycles, lighthouse526_upload_poll_states,
		lighthouse526_document_uploads, form_attachments, form526_submissions RESTART IDENTITY CASCADE`).Error
}

// RedisAddr is the Redis server of the tests.
func RedisAddr() string {
	if a := os.Getenv("TEST_REDIS_ADDR"); a != "" {
		return a
	}
	return "127.0.0.1:6379"
}

// Redis database indexes per suite, so parallel packages never share one.
// Each suite but the Lighthouse client's (whose keys carry a per-spec prefix)
// adds its Ginkgo parallel process number less one, modulo 2, to its base:
// the sixteen databases of a default Redis, index 0 left to the product's
// local runs.
const (
	RedisDBLighthouse = 1
	RedisDBTasks      = 2
	RedisDBWorker     = 4
	RedisDBSpec       = 6
	RedisDBShared     = 8
	RedisDBSidekiq    = 10
	// The Sidekiq application's own Redis database in the end-to-end specs
	// (SIDEKIQ_REDIS_URL), beside the worker's RedisDBSpec.
	RedisDBSidekiqSpec = 12
	RedisDBImage       = 14
	// The reference manifests' containers (deploy/kubernetes), which run
	// with the manifests' own queue and key prefix: beside the Lighthouse
	// client's suite, whose keys all carry a per-spec prefix, never asynq's
	// or lighthouse526:.
	RedisDBManifests = RedisDBLighthouse
)
