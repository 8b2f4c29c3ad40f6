package pgraw_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"gorm.io/gorm"

	"github.com/vagov/lighthouse526/db"
	"github.com/vagov/lighthouse526/db/dbtest"
)

func TestPgraw(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Pgraw")
}

// Each parallel process has its own empty database; the specs need no table.
// The pool has one connection, so a spec knows which connection a statement
// is prepared on.
var gdb *gorm.DB

var _ = BeforeSuite(func() {
	ctx := context.Background()
	url, err := dbtest.CreateDatabase(ctx, fmt.Sprintf("pgraw_%d", GinkgoParallelProcess()))
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(dbtest.DropDatabase, ctx, url)
	gdb, err = db.Open(ctx, db.Options{URL: url, MaxOpenConns: 1, MaxIdleConns: 1, StatementTimeout: time.Minute})
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(db.Close, gdb)
})
