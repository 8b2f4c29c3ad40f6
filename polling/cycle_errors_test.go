package polling_test

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	"github.com/vagov/lighthouse526/polling"
)

// Issue 23: an adaptive cycle failing on every run (POLL_FLOOR=999ns) was
// retried by asynq and logged nothing at any level.
var _ = Describe("A cron cycle that fails", func() {
	It("logs the error at error level and counts it in form526_document_upload_cycle_errors_total", func(ctx SpecContext) {
		o := newObserved()
		// A pool that is closed: every statement of the cycle fails.
		closed, err := gorm.Open(postgres.Open(gdbURL), &gorm.Config{Logger: logger.Discard})
		Expect(err).NotTo(HaveOccurred())
		sqlDB, err := closed.DB()
		Expect(err).NotTo(HaveOccurred())
		Expect(sqlDB.Close()).To(Succeed())
		cycle := &polling.Cycle{DB: closed, Metrics: o.Metrics, Now: time.Now, BatchSize: 100, Window: time.Hour}
		tick := time.Now().UTC().Truncate(time.Hour)

		_, err = cycle.Run(ctx, o.Logger, polling.CronCycleID(tick), tick, func(context.Context, polling.Batch) error { return nil })

		Expect(err).To(HaveOccurred())
		Expect(testutil.ToFloat64(o.Metrics.CycleErrors)).To(Equal(1.0))
		Expect(o.Logs.WithMessage("a polling cycle failed; its task is retried")).To(ConsistOf(SatisfyAll(
			HaveKeyWithValue("level", "error"),
			HaveKeyWithValue("cycle_id", polling.CronCycleID(tick)),
			HaveKeyWithValue("exception", HaveKeyWithValue("message", ContainSubstring("database is closed"))),
		)))
	})

	It("counts nothing when the run is cut short by its context", func(ctx SpecContext) {
		o := newObserved()
		cycle := &polling.Cycle{DB: gdb, Metrics: o.Metrics, Now: time.Now, BatchSize: 100, Window: time.Hour}
		cut, cancel := context.WithCancel(ctx)
		cancel()
		tick := time.Now().UTC().Truncate(time.Hour)

		_, err := cycle.Run(cut, o.Logger, polling.CronCycleID(tick), tick, func(context.Context, polling.Batch) error { return nil })

		Expect(err).To(HaveOccurred())
		Expect(testutil.ToFloat64(o.Metrics.CycleErrors)).To(BeZero())
		Expect(o.Logs.WithMessage("a polling cycle failed; its task is retried")).To(BeEmpty())
	})
})
