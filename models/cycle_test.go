package models_test

import (
	"context"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/vagov/lighthouse526/models"
)

func storedCycle(id string) models.PollingCycle {
	GinkgoHelper()
	var c models.PollingCycle
	Expect(gdb.Take(&c, "id = ?", id).Error).To(Succeed())
	return c
}

var _ = Describe("Polling cycles", func() {
	const cycleID = "cron:2026-03-02T10:15:00Z"
	var (
		ctx       context.Context
		dueBefore time.Time
	)

	BeforeEach(func() {
		ctx = context.Background()
		dueBefore = now.Add(-time.Hour)
	})

	Describe("StartCycle", func() {
		It("creates the cycle with nothing done", func() {
			c, err := models.StartCycle(ctx, gdb, cycleID, now, dueBefore, now)
			Expect(err).NotTo(HaveOccurred())

			Expect(c.ID).To(Equal(cycleID))
			Expect(c.ScheduledAt).To(BeTemporally("==", now))
			Expect(c.DueBefore).To(BeTemporally("==", dueBefore))
			Expect(c.CursorUploadID).To(BeZero())
			Expect(c.BatchesEnqueued).To(BeZero())
			Expect(c.FanOutDoneAt).To(BeNil())
		})

		Context("when a retry starts the same cycle again", func() {
			It("returns the existing cycle, with its progress, unchanged", func() {
				first, err := models.StartCycle(ctx, gdb, cycleID, now, dueBefore, now)
				Expect(err).NotTo(HaveOccurred())
				Expect(models.AdvanceCycle(ctx, gdb, first, 42, 1, 100, now)).To(Succeed())

				again, err := models.StartCycle(ctx, gdb, cycleID, now.Add(time.Minute), dueBefore.Add(time.Minute), now.Add(time.Minute))
				Expect(err).NotTo(HaveOccurred())

				Expect(again.CursorUploadID).To(Equal(int64(42)))
				Expect(again.BatchesEnqueued).To(Equal(1))
				Expect(again.ScheduledAt).To(BeTemporally("==", now))
				Expect(again.DueBefore).To(BeTemporally("==", dueBefore))
				var n int64
				Expect(gdb.Model(&models.PollingCycle{}).Count(&n).Error).To(Succeed())
				Expect(n).To(Equal(int64(1)))
			})
		})
	})

	Describe("AdvanceCycle", func() {
		var cycle *models.PollingCycle

		BeforeEach(func() {
			var err error
			cycle, err = models.StartCycle(ctx, gdb, cycleID, now, dueBefore, now)
			Expect(err).NotTo(HaveOccurred())
		})

		It("moves the cursor past the batch and counts it", func() {
			Expect(models.AdvanceCycle(ctx, gdb, cycle, 100, 1, 100, now.Add(time.Second))).To(Succeed())
			Expect(models.AdvanceCycle(ctx, gdb, cycle, 180, 1, 37, now.Add(2*time.Second))).To(Succeed())

			Expect(cycle.CursorUploadID).To(Equal(int64(180)))
			stored := storedCycle(cycleID)
			Expect(stored.CursorUploadID).To(Equal(int64(180)))
			Expect(stored.BatchesEnqueued).To(Equal(2))
			Expect(stored.DocumentsDue).To(Equal(137))
			Expect(stored.UpdatedAt).To(BeTemporally("==", now.Add(2*time.Second)))
		})

		It("records a page of several batches in one step", func() {
			Expect(models.AdvanceCycle(ctx, gdb, cycle, 1000, 10, 1000, now)).To(Succeed())

			Expect(cycle.BatchesEnqueued).To(Equal(10))
			stored := storedCycle(cycleID)
			Expect(stored.BatchesEnqueued).To(Equal(10))
			Expect(stored.DocumentsDue).To(Equal(1000))
			Expect(stored.CursorUploadID).To(Equal(int64(1000)))
		})

		Context("when another process advanced it first", func() {
			It("refuses with ErrConcurrentCycle and changes nothing", func() {
				stale := *cycle
				Expect(models.AdvanceCycle(ctx, gdb, cycle, 100, 1, 100, now)).To(Succeed())

				err := models.AdvanceCycle(ctx, gdb, &stale, 250, 1, 100, now)

				Expect(err).To(MatchError(models.ErrConcurrentCycle))
				stored := storedCycle(cycleID)
				Expect(stored.CursorUploadID).To(Equal(int64(100)))
				Expect(stored.BatchesEnqueued).To(Equal(1))
			})
		})
	})

	Describe("FinishFanOut and MarkBatchDone", func() {
		It("record the end of the fan-out and each batch done", func() {
			cycle, err := models.StartCycle(ctx, gdb, cycleID, now, dueBefore, now)
			Expect(err).NotTo(HaveOccurred())
			Expect(models.AdvanceCycle(ctx, gdb, cycle, 10, 1, 10, now)).To(Succeed())

			Expect(models.FinishFanOut(ctx, gdb, cycle, now.Add(time.Second))).To(Succeed())
			Expect(models.MarkBatchDone(ctx, gdb, cycleID, now.Add(2*time.Second))).To(Succeed())

			stored := storedCycle(cycleID)
			Expect(stored.FanOutDoneAt).To(HaveValue(BeTemporally("==", now.Add(time.Second))))
			Expect(stored.BatchesDone).To(Equal(1))
		})
	})

	// One "cycle done" rule: Done (worker poll, the bench) and the gauges'
	// claim in SQL agree on every shape of a cycle.
	DescribeTable("Done agrees with the gauges' claim",
		func(fanOutDone bool, enqueued, done int, want bool) {
			cycle, err := models.StartCycle(ctx, gdb, cycleID, now, dueBefore, now)
			Expect(err).NotTo(HaveOccurred())
			if enqueued > 0 {
				Expect(models.AdvanceCycle(ctx, gdb, cycle, 10, enqueued, enqueued, now)).To(Succeed())
			}
			if fanOutDone {
				Expect(models.FinishFanOut(ctx, gdb, cycle, now)).To(Succeed())
			}
			for range done {
				Expect(models.MarkBatchDone(ctx, gdb, cycleID, now)).To(Succeed())
			}
			stored := storedCycle(cycleID)
			Expect(stored.Done()).To(Equal(want))
			g, err := models.ClaimCycleGauges(ctx, gdb, cycleID, now)
			Expect(err).NotTo(HaveOccurred())
			Expect(g != nil).To(Equal(want))
		},
		Entry("fanning out, nothing done", false, 2, 0, false),
		Entry("fanning out, every batch so far done", false, 2, 2, false),
		Entry("fanned out, a batch still running", true, 2, 1, false),
		Entry("fanned out, every batch done", true, 2, 2, true),
		Entry("fanned out with no batch", true, 0, 0, true),
	)

	Describe("PreviousCycle", func() {
		BeforeEach(func() {
			for _, c := range []struct {
				id string
				at time.Time
			}{
				{"cron:08:15", now.Add(-2 * time.Hour)},
				{"cron:09:15", now.Add(-time.Hour)},
				{"adhoc:09:45", now.Add(-30 * time.Minute)},
				{"cron:10:15", now},
			} {
				_, err := models.StartCycle(ctx, gdb, c.id, c.at, c.at.Add(-time.Hour), c.at)
				Expect(err).NotTo(HaveOccurred())
			}
		})

		It("returns the latest cycle of the prefix scheduled before the time", func() {
			prev, err := models.PreviousCycle(ctx, gdb, "cron:", now)

			Expect(err).NotTo(HaveOccurred())
			Expect(prev).NotTo(BeNil())
			Expect(prev.ID).To(Equal("cron:09:15"))
		})

		It("skips a skipped cycle", func() {
			skipped := storedCycle("cron:09:15")
			Expect(models.SkipCycle(ctx, gdb, &skipped, now)).To(Succeed())

			prev, err := models.PreviousCycle(ctx, gdb, "cron:", now)

			Expect(err).NotTo(HaveOccurred())
			Expect(prev.ID).To(Equal("cron:08:15"))
		})

		It("returns nil when there is none", func() {
			prev, err := models.PreviousCycle(ctx, gdb, "cron:", now.Add(-2*time.Hour))

			Expect(err).NotTo(HaveOccurred())
			Expect(prev).To(BeNil())
		})
	})

	Describe("ClaimCycle", func() {
		var earlier, next *models.PollingCycle

		BeforeEach(func() {
			var err error
			earlier, err = models.StartCycle(ctx, gdb, "cron:09:15", now.Add(-time.Hour), dueBefore.Add(-time.Hour), now.Add(-time.Hour))
			Expect(err).NotTo(HaveOccurred())
			Expect(models.AdvanceCycle(ctx, gdb, earlier, 100, 1, 100, now.Add(-50*time.Minute))).To(Succeed())
			Expect(models.FinishFanOut(ctx, gdb, earlier, now.Add(-50*time.Minute))).To(Succeed())
			next, err = models.StartCycle(ctx, gdb, "cron:10:15", now, dueBefore, now)
			Expect(err).NotTo(HaveOccurred())
		})

		It("skips a cycle while an earlier one still has batches in flight", func() {
			running, err := models.ClaimCycle(ctx, gdb, next, "cron:", now, 2*time.Hour)
			Expect(err).NotTo(HaveOccurred())
			Expect(running).NotTo(BeNil())
			Expect(running.ID).To(Equal("cron:09:15"))
			Expect(storedCycle("cron:10:15").Skipped).To(BeTrue())
		})

		It("lets it run when the earlier one made no progress for longer than stale", func() {
			running, err := models.ClaimCycle(ctx, gdb, next, "cron:", now, 30*time.Minute)
			Expect(err).NotTo(HaveOccurred())
			Expect(running).To(BeNil(), "taken as dead")
			Expect(storedCycle("cron:10:15").Skipped).To(BeFalse())
		})

		It("lets it run once every batch of the earlier one is done", func() {
			Expect(models.MarkBatchDone(ctx, gdb, earlier.ID, now.Add(-40*time.Minute))).To(Succeed())
			running, err := models.ClaimCycle(ctx, gdb, next, "cron:", now, 2*time.Hour)
			Expect(err).NotTo(HaveOccurred())
			Expect(running).To(BeNil())
		})

		It("lets exactly one of two cycles that start together fan out", func() {
			Expect(models.MarkBatchDone(ctx, gdb, earlier.ID, now.Add(-40*time.Minute))).To(Succeed())
			other, err := models.StartCycle(ctx, gdb, "cron:11:15", now.Add(time.Hour), dueBefore.Add(time.Hour), now)
			Expect(err).NotTo(HaveOccurred())

			first, err := models.ClaimCycle(ctx, gdb, other, "cron:", now, 2*time.Hour)
			Expect(err).NotTo(HaveOccurred())
			second, err := models.ClaimCycle(ctx, gdb, next, "cron:", now, 2*time.Hour)
			Expect(err).NotTo(HaveOccurred())

			Expect(first).NotTo(BeNil(), "the later cycle sees the earlier one's fresh row and yields")
			Expect(second).To(BeNil(), "the earlier one then sees only a skipped cycle")
			Expect(storedCycle("cron:11:15").Skipped).To(BeTrue())
			Expect(storedCycle("cron:10:15").Skipped).To(BeFalse())
		})
	})
})
