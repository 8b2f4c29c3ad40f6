package db_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"gorm.io/gorm"

	"github.com/vagov/lighthouse526/db"
	"github.com/vagov/lighthouse526/db/dbtest"
)

func TestDB(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "DB")
}

// migrationVersions lists the versions of the migration files, read from the
// source tree beside the package (the same files the binary embeds).
func migrationVersions() []int64 {
	GinkgoHelper()
	files, err := filepath.Glob("migrations/*.sql")
	Expect(err).NotTo(HaveOccurred())
	Expect(files).NotTo(BeEmpty())
	versions := make([]int64, 0, len(files))
	for _, f := range files {
		prefix, _, ok := strings.Cut(filepath.Base(f), "_")
		Expect(ok).To(BeTrue(), "migration %s has no version prefix", f)
		v, err := strconv.ParseInt(prefix, 10, 64)
		Expect(err).NotTo(HaveOccurred())
		versions = append(versions, v)
	}
	// 00001 and 00002 are Go migrations (reference_migrations.go).
	versions = append(versions, 1, 2)
	sort.Slice(versions, func(i, j int) bool { return versions[i] < versions[j] })
	return versions
}

// emptyDatabase creates a fresh, unmigrated database for one spec, named
// after the parallel process, and opens it. Both are undone after the spec.
func emptyDatabase(ctx context.Context) (*gorm.DB, string) {
	GinkgoHelper()
	url, err := dbtest.CreateDatabase(ctx, fmt.Sprintf("db_%d", GinkgoParallelProcess()))
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(dbtest.DropDatabase, context.WithoutCancel(ctx), url)

	gdb, err := db.Open(ctx, db.Options{URL: url, MaxOpenConns: 5, MaxIdleConns: 5, StatementTimeout: time.Minute})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(db.Close, gdb)
	return gdb, url
}

func newMigrator(gdb *gorm.DB) *db.Migrator {
	GinkgoHelper()
	m, err := db.NewMigrator(gdb)
	Expect(err).NotTo(HaveOccurred())
	return m
}

func versionsOf(rs []db.MigrationResult) []int64 {
	out := make([]int64, 0, len(rs))
	for _, r := range rs {
		out = append(out, r.Version)
	}
	return out
}
