package models_test

import (
	"context"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/vagov/lighthouse526/config"
	"github.com/vagov/lighthouse526/models"
	"github.com/vagov/lighthouse526/polling"
)

func withCreatedAt(t time.Time) func(*models.Lighthouse526DocumentUpload) {
	return func(u *models.Lighthouse526DocumentUpload) { u.CreatedAt = t }
}

// scheduleAt gives an upload a next poll time, as a poll's write would.
func scheduleAt(id int64, next time.Time) {
	GinkgoHelper()
	Expect(gdb.Exec(`INSERT INTO lighthouse526_upload_poll_states (upload_id, next_poll_at, created_at, updated_at)
		VALUES (?, ?, ?, ?) ON CONFLICT (upload_id) DO UPDATE SET next_poll_at = EXCLUDED.next_poll_at`,
		id, next.UTC(), now, now).Error).To(Succeed())
}

func claimedIDs(cs []models.ClaimedUpload) []int64 {
	out := make([]int64, 0, len(cs))
	for _, c := range cs {
		out = append(out, c.ID)
	}
	return out
}

var _ = Describe("ClaimDue", func() {
	var (
		ctx   context.Context
		lease time.Time
	)

	BeforeEach(func() {
		ctx = context.Background()
		lease = now.Add(5 * time.Minute)
	})

	Context("when uploads fall due at various times", func() {
		var newest, scheduledEarly, scheduledLate, notYet, createdEarly *models.Lighthouse526DocumentUpload

		BeforeEach(func() {
			// Due at created_at (never scheduled) or next_poll_at.
			newest = createUpload(withCreatedAt(now.Add(-time.Minute)))
			scheduledLate = createUpload(withCreatedAt(now.Add(-48 * time.Hour)))
			scheduleAt(scheduledLate.ID, now.Add(-30*time.Second))
			scheduledEarly = createUpload(withCreatedAt(now.Add(-time.Hour)))
			scheduleAt(scheduledEarly.ID, now.Add(-20*time.Minute))
			notYet = createUpload(withCreatedAt(now.Add(-72 * time.Hour)))
			scheduleAt(notYet.ID, now.Add(time.Minute))
			createdEarly = createUpload(withCreatedAt(now.Add(-10 * time.Minute)))
		})

		It("returns those due, the most overdue first, with when each fell due", func() {
			got, err := models.ClaimDue(ctx, gdb, now, lease, 0, 10)

			Expect(err).NotTo(HaveOccurred())
			Expect(claimedIDs(got)).To(Equal([]int64{scheduledEarly.ID, createdEarly.ID, newest.ID, scheduledLate.ID}))
			Expect(got[0].DueAt).To(BeTemporally("==", now.Add(-20*time.Minute)))
			Expect(got[1].DueAt).To(BeTemporally("~", now.Add(-10*time.Minute), time.Millisecond))
			Expect(got[0].LighthouseDocumentRequestID).To(Equal(scheduledEarly.LighthouseDocumentRequestID))
		})

		It("takes at most limit, and leaves the rest due, in order, for the next claim", func() {
			first, err := models.ClaimDue(ctx, gdb, now, lease, 0, 2)
			Expect(err).NotTo(HaveOccurred())
			Expect(claimedIDs(first)).To(Equal([]int64{scheduledEarly.ID, createdEarly.ID}))

			rest, err := models.ClaimDue(ctx, gdb, now, lease, 0, 10)
			Expect(err).NotTo(HaveOccurred())
			Expect(claimedIDs(rest)).To(Equal([]int64{newest.ID, scheduledLate.ID}))
		})

		It("leases what it claims until leaseUntil, and it falls due again then", func() {
			_, err := models.ClaimDue(ctx, gdb, now, lease, 0, 10)
			Expect(err).NotTo(HaveOccurred())
			Expect(pollState(newest.ID).NextPollAt).To(HaveValue(BeTemporally("==", lease)))
			Expect(pollState(scheduledEarly.ID).NextPollAt).To(HaveValue(BeTemporally("==", lease)))
			Expect(pollState(notYet.ID).NextPollAt).To(HaveValue(BeTemporally("==", now.Add(time.Minute))), "not claimed, not touched")

			again, err := models.ClaimDue(ctx, gdb, now.Add(4*time.Minute), lease.Add(4*time.Minute), 0, 10)
			Expect(err).NotTo(HaveOccurred())
			Expect(claimedIDs(again)).To(Equal([]int64{notYet.ID}), "within the lease only the upload that fell due since")

			after, err := models.ClaimDue(ctx, gdb, lease, lease.Add(5*time.Minute), 0, 10)
			Expect(err).NotTo(HaveOccurred())
			Expect(claimedIDs(after)).To(ConsistOf(scheduledEarly.ID, createdEarly.ID, newest.ID, scheduledLate.ID))
		})
	})

	It("leaves out quarantined uploads and uploads no longer pending, and writes them nothing", func() {
		due := createUpload(withCreatedAt(now.Add(-time.Hour)))
		quarantined := createUpload(withCreatedAt(now.Add(-time.Hour)))
		quarantineUpload(quarantined.ID)
		scheduledQuarantined := createUpload(withCreatedAt(now.Add(-time.Hour)))
		scheduleAt(scheduledQuarantined.ID, now.Add(-time.Minute))
		quarantineUpload(scheduledQuarantined.ID)
		completed := createUpload(withCreatedAt(now.Add(-time.Hour)))
		setState(completed.ID, models.StateCompleted)

		got, err := models.ClaimDue(ctx, gdb, now, lease, 0, 10)

		Expect(err).NotTo(HaveOccurred())
		Expect(claimedIDs(got)).To(Equal([]int64{due.ID}))
		Expect(pollState(quarantined.ID).NextPollAt).To(BeNil())
		Expect(pollState(scheduledQuarantined.ID).NextPollAt).To(HaveValue(BeTemporally("==", now.Add(-time.Minute))))
		Expect(pollState(completed.ID)).To(BeNil())
	})

	It("claims an upload whose state has no next poll time yet (an unknown-poll count) at its creation", func() {
		u := createUpload(withCreatedAt(now.Add(-time.Hour)))
		Expect(gdb.Exec(`INSERT INTO lighthouse526_upload_poll_states (upload_id, unknown_poll_count, created_at, updated_at)
			VALUES (?, 2, ?, ?)`, u.ID, now, now).Error).To(Succeed())

		got, err := models.ClaimDue(ctx, gdb, now, lease, 0, 10)

		Expect(err).NotTo(HaveOccurred())
		Expect(claimedIDs(got)).To(Equal([]int64{u.ID}))
		st := pollState(u.ID)
		Expect(st.NextPollAt).To(HaveValue(BeTemporally("==", lease)))
		Expect(st.UnknownPollCount).To(Equal(2), "the rest of its state is kept")
	})

	Context("when cycles claim at the same time", func() {
		It("never hands one upload to two of them within the lease", func() {
			const uploads, claimers, limit = 120, 6, 15
			for i := range uploads {
				u := createUpload(withCreatedAt(now.Add(-time.Duration(i+1) * time.Minute)))
				if i%2 == 0 {
					scheduleAt(u.ID, now.Add(-time.Duration(i)*time.Second))
				}
			}
			var (
				mu  sync.Mutex
				all []int64
				wg  sync.WaitGroup
			)
			for range claimers {
				wg.Add(1)
				go func() {
					defer GinkgoRecover()
					defer wg.Done()
					for {
						got, err := models.ClaimDue(ctx, gdb, now, lease, 0, limit)
						Expect(err).NotTo(HaveOccurred())
						if len(got) == 0 {
							return
						}
						mu.Lock()
						all = append(all, claimedIDs(got)...)
						mu.Unlock()
					}
				}()
			}
			wg.Wait()

			Expect(all).To(HaveLen(uploads), "every due upload claimed")
			seen := map[int64]bool{}
			for _, id := range all {
				Expect(seen).NotTo(HaveKey(id), "upload %d claimed twice", id)
				seen[id] = true
			}
		})
	})
})

var _ = Describe("NextDueAdaptive and CountDue", func() {
	It("read what a claim would take, in id order, and claim nothing", func() {
		ctx := context.Background()
		a := createUpload(withCreatedAt(now.Add(-time.Minute)))
		b := createUpload(withCreatedAt(now.Add(-time.Hour)))
		scheduleAt(b.ID, now.Add(-time.Second))
		c := createUpload(withCreatedAt(now.Add(-time.Hour)))
		scheduleAt(c.ID, now.Add(time.Second))
		d := createUpload(withCreatedAt(now.Add(-time.Hour)))
		quarantineUpload(d.ID)

		page, err := models.NextDueAdaptive(ctx, gdb, 0, now, 0, 10)
		Expect(err).NotTo(HaveOccurred())
		Expect(idsOf(page)).To(Equal([]int64{a.ID, b.ID}))
		page, err = models.NextDueAdaptive(ctx, gdb, a.ID, now, 0, 10)
		Expect(err).NotTo(HaveOccurred())
		Expect(idsOf(page)).To(Equal([]int64{b.ID}))
		n, err := models.CountDue(ctx, gdb, now, 0, 100)
		Expect(err).NotTo(HaveOccurred())
		Expect(n).To(Equal(2))

		Expect(pollState(a.ID)).To(BeNil(), "nothing claimed")
		Expect(pollState(b.ID).NextPollAt).To(HaveValue(BeTemporally("==", now.Add(-time.Second))))
	})
})

var _ = Describe("PruneCycles", func() {
	It("deletes the cycles scheduled before the time given, and no other", func() {
		ctx := context.Background()
		for _, at := range []time.Time{now.Add(-8 * 24 * time.Hour), now.Add(-7*24*time.Hour - time.Minute), now.Add(-time.Hour)} {
			_, err := models.StartCycle(ctx, gdb, "cron:"+at.Format(time.RFC3339), at, at, now)
			Expect(err).NotTo(HaveOccurred())
		}

		n, err := models.PruneCycles(ctx, gdb, now.Add(-7*24*time.Hour))

		Expect(err).NotTo(HaveOccurred())
		Expect(n).To(BeEquivalentTo(2))
		var left []string
		Expect(gdb.Raw(`SELECT id FROM lighthouse526_polling_cycles`).Scan(&left).Error).To(Succeed())
		Expect(left).To(Equal([]string{"cron:" + now.Add(-time.Hour).Format(time.RFC3339)}))
	})
})

var _ = Describe("ClaimDue of uploads never polled, first due on the ladder's grid", func() {
	It("takes each when polling.Schedule.Next says, the first multiple of the first rung after its creation", func(ctx SpecContext) {
		// 7 minutes: its multiples counted from the zero time (as
		// time.Truncate counts) are not those counted from the Unix epoch,
		// so a wrong origin in SQL fails this.
		const first = 7 * time.Minute
		schedule := polling.Schedule{Ladder: config.Ladder{{From: 0, Every: first}}}
		at := now.Truncate(first).Add(first + 3*time.Second)
		var want []models.ClaimedUpload
		for _, age := range []time.Duration{30 * time.Minute, 16 * time.Minute, 9 * time.Minute, 5 * time.Minute, time.Minute, 2 * time.Second} {
			created := at.Add(-age).Truncate(time.Microsecond)
			u := createUpload(withCreatedAt(created))
			if due := schedule.Next(created, created); !due.After(at) {
				want = append(want, models.ClaimedUpload{DueUpload: models.DueUpload{ID: u.ID, LighthouseDocumentRequestID: u.LighthouseDocumentRequestID}, DueAt: due})
			}
		}
		Expect(len(want)).To(BeNumerically(">=", 3), "some uploads due, some not yet")
		Expect(len(want)).To(BeNumerically("<", 6))

		n, err := models.CountDue(ctx, gdb, at, first, 100)
		Expect(err).NotTo(HaveOccurred())
		Expect(n).To(Equal(len(want)))
		n, err = models.CountDue(ctx, gdb, at, first, 2)
		Expect(err).NotTo(HaveOccurred())
		Expect(n).To(Equal(2), "counted no further than the limit")
		got, err := models.ClaimDue(ctx, gdb, at, at.Add(5*time.Minute), first, 10)
		Expect(err).NotTo(HaveOccurred())
		Expect(got).To(HaveLen(len(want)))
		for i := range want {
			Expect(got[i].ID).To(Equal(want[i].ID))
			Expect(got[i].DueAt).To(BeTemporally("==", want[i].DueAt), "upload %d", i)
		}
	})
})

var _ = Describe("an upload a batch settles", func() {
	It("leaves the schedule: its lease is cleared, so the due index holds pending uploads only", func(ctx SpecContext) {
		settled := createUpload(withCreatedAt(now.Add(-time.Hour)))
		pending := createUpload(withCreatedAt(now.Add(-time.Hour)))
		claimed, err := models.ClaimDue(ctx, gdb, now, now.Add(5*time.Minute), 0, 10)
		Expect(err).NotTo(HaveOccurred())
		Expect(claimedIDs(claimed)).To(ConsistOf(settled.ID, pending.ID))

		start, end := now.Add(-50*time.Minute), now.Add(-time.Minute)
		next := now.Add(10 * time.Minute)
		schedule := &models.PollSchedule{NextPollAt: next, StatusDigest: 1, StatusChangedAt: now.Add(-time.Hour)}
		_, err = models.WriteBatch(ctx, gdb, models.BatchWrite{Results: []models.PollResult{
			{ID: settled.ID, NewState: models.StateCompleted, SaveStatus: true, StartedAt: &start, EndedAt: &end, Schedule: schedule},
			{ID: pending.ID, NewState: models.StatePending, Schedule: schedule},
		}}, now)
		Expect(err).NotTo(HaveOccurred())

		var rows []models.UploadPollState
		Expect(gdb.WithContext(ctx).Order("upload_id").Find(&rows, []int64{settled.ID, pending.ID}).Error).To(Succeed())
		Expect(rows).To(HaveLen(2))
		Expect(rows[0].UploadID).To(Equal(settled.ID))
		Expect(rows[0].NextPollAt).To(BeNil())
		Expect(rows[1].NextPollAt).NotTo(BeNil())
		Expect(*rows[1].NextPollAt).To(BeTemporally("==", next))
		var indexed int64
		Expect(gdb.WithContext(ctx).Raw(`SELECT count(*) FROM lighthouse526_upload_poll_states
			WHERE quarantined_at IS NULL AND next_poll_at IS NOT NULL AND upload_id IN (?, ?)`, settled.ID, pending.ID).
			Scan(&indexed).Error).To(Succeed())
		Expect(indexed).To(Equal(int64(1)))
	})
})
