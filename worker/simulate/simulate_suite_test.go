package simulate_test

import (
	"context"
	"fmt"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"gorm.io/gorm"

	"github.com/vagov/lighthouse526/db"
	"github.com/vagov/lighthouse526/db/dbtest"
)

func TestSimulate(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Simulate")
}

// Each parallel process has its own migrated database for --fit-from-db,
// emptied before every spec.
var gdb *gorm.DB

var _ = BeforeSuite(func() {
	ctx := context.Background()
	var (
		dbURL string
		err   error
	)
	gdb, dbURL, err = dbtest.MigratedDatabase(ctx, fmt.Sprintf("simulate_%d", GinkgoParallelProcess()))
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(dbtest.DropDatabase, ctx, dbURL)
	DeferCleanup(db.Close, gdb)
})

var _ = BeforeEach(func() {
	Expect(dbtest.Truncate(gdb)).To(Succeed())
})
