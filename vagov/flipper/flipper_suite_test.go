package flipper_test

import (
	"context"
	"database/sql"
	"fmt"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"gorm.io/gorm"

	"github.com/vagov/lighthouse526/db"
	"github.com/vagov/lighthouse526/db/dbtest"
)

func TestFlipper(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Flipper flags")
}

// Per-process: a database where ActiveRecord made VA.gov's tables,
// Flipper's included (vagov/rails/schema.rb), and its URL for the Ruby side.
var (
	gdb   *gorm.DB
	sqlDB *sql.DB
	dbURL string
)

var _ = BeforeSuite(func(ctx SpecContext) {
	var err error
	gdb, dbURL, err = dbtest.VAGovDatabase(ctx, fmt.Sprintf("flipper_%d", GinkgoParallelProcess()))
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(func(ctx context.Context) {
		Expect(db.Close(gdb)).To(Succeed())
		Expect(dbtest.DropDatabase(ctx, dbURL)).To(Succeed())
	})
	sqlDB, err = gdb.DB()
	Expect(err).NotTo(HaveOccurred())
})

// Every spec starts with no flag set.
var _ = BeforeEach(func() {
	Expect(gdb.Exec(`TRUNCATE flipper_features, flipper_gates`).Error).To(Succeed())
})
