package models_test

import (
	"context"
	"errors"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/vagov/lighthouse526/models"
)

// Rows whose times lie far in the future (a clock set wrong, a hand-made
// row) were never due and never listed: every due scan treats a time more
// than models.FutureSkew ahead as due now, and `uploads stuck` lists it.
var _ = Describe("Times in the future", func() {
	var (
		ctx                     context.Context
		farAhead, slightlyAhead time.Time
	)

	BeforeEach(func() {
		ctx = context.Background()
		farAhead = now.AddDate(100, 0, 0)
		slightlyAhead = now.Add(models.FutureSkew / 2)
	})

	Context("under the fixed strategy, status_last_polled_at", func() {
		It("makes an upload polled a century ahead due, and one polled within the skew not", func() {
			ahead := createUpload(withPolledAt(farAhead))
			skewed := createUpload(withPolledAt(slightlyAhead))
			due, err := models.NextDueBatch(ctx, gdb, 0, now.Add(-time.Hour), now, 100)
			Expect(err).NotTo(HaveOccurred())
			Expect(idsOf(due)).To(ContainElement(ahead.ID))
			Expect(idsOf(due)).NotTo(ContainElement(skewed.ID))
		})
	})

	Context("under the adaptive strategy, created_at", func() {
		It("makes an upload created a century ahead due now, counting from now, and one created within the skew not yet", func() {
			ahead := createUpload(withCreatedAt(farAhead))
			skewed := createUpload(withCreatedAt(slightlyAhead))
			for _, firstPoll := range []time.Duration{0, 10 * time.Minute} {
				due, err := models.NextDueAdaptive(ctx, gdb, 0, now, firstPoll, 100)
				Expect(err).NotTo(HaveOccurred())
				Expect(idsOf(due)).To(ContainElement(ahead.ID), "first poll %s", firstPoll)
				Expect(idsOf(due)).NotTo(ContainElement(skewed.ID), "first poll %s", firstPoll)
			}
			n, err := models.CountDue(ctx, gdb, now, 10*time.Minute, 1000)
			Expect(err).NotTo(HaveOccurred())
			Expect(n).To(BeNumerically(">=", 1))

			claimed, err := models.ClaimDue(ctx, gdb, now, now.Add(5*time.Minute), 10*time.Minute, 100)
			Expect(err).NotTo(HaveOccurred())
			var got *models.ClaimedUpload
			for i := range claimed {
				if claimed[i].ID == ahead.ID {
					got = &claimed[i]
				}
			}
			Expect(got).NotTo(BeNil(), "claimed")
			Expect(got.DueAt).To(BeTemporally("==", now), "due now, not in a century")
		})
	})

	It("lists such uploads in worker uploads stuck as time_in_future", func() {
		created := createUpload(withCreatedAt(farAhead))
		polled := createUpload(withPolledAt(farAhead), withCreatedAt(now.Add(-time.Minute)))
		fine := createUpload(withCreatedAt(now.Add(-time.Minute)), withPolledAt(slightlyAhead))
		stuck, err := models.StuckUploads(ctx, gdb, now, now.Add(-24*time.Hour), 3, 1000)
		Expect(err).NotTo(HaveOccurred())
		reasons := map[int64]string{}
		for _, s := range stuck {
			reasons[s.ID] = s.Reason
		}
		Expect(reasons).To(HaveKeyWithValue(created.ID, "time_in_future"))
		Expect(reasons).To(HaveKeyWithValue(polled.ID, "time_in_future"))
		Expect(reasons).NotTo(HaveKey(fine.ID))
	})
})

var _ = Describe("An outbox row sent after a failed attempt", func() {
	It("no longer carries the old attempt's error", func(ctx SpecContext) {
		entries := createOutboxEntries(1)
		_, failed, err := models.RelayOutbox(ctx, gdb, 10, now, func(context.Context, models.OutboxEntry) error {
			return errors.New("sidekiq: connection refused")
		})
		Expect(err).NotTo(HaveOccurred())
		Expect(failed).To(Equal(1))
		var row models.OutboxEntry
		Expect(gdb.Take(&row, entries[0].ID).Error).To(Succeed())
		Expect(row.LastError).To(HaveValue(ContainSubstring("connection refused")))

		sent, _, err := models.RelayOutbox(ctx, gdb, 10, now.Add(time.Minute), func(context.Context, models.OutboxEntry) error { return nil })
		Expect(err).NotTo(HaveOccurred())
		Expect(sent).To(Equal(1))
		Expect(gdb.Take(&row, entries[0].ID).Error).To(Succeed())
		Expect(row.EnqueuedAt).NotTo(BeNil())
		Expect(row.LastError).To(BeNil())
		Expect(row.Attempts).To(Equal(2))
	})
})
