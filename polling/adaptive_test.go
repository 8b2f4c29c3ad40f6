package polling_test

import (
	"context"
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vagov/lighthouse526/config"
	"github.com/vagov/lighthouse526/lighthouse"
	"github.com/vagov/lighthouse526/models"
	"github.com/vagov/lighthouse526/polling"
)

// specSchedule is specLadder with a daily floor.
func specSchedule() polling.Schedule {
	l, err := config.ParseLadder(specLadder)
	Expect(err).NotTo(HaveOccurred())
	return polling.Schedule{Ladder: l, Floor: 24 * time.Hour}
}

// pollStateOf reads an upload's own state; nil when it has none.
func pollStateOf(ctx context.Context, id int64) *models.UploadPollState {
	GinkgoHelper()
	var states []models.UploadPollState
	Expect(gdb.WithContext(ctx).Where("upload_id = ?", id).Find(&states).Error).To(Succeed())
	if len(states) == 0 {
		return nil
	}
	return &states[0]
}

// Cycle.Run with POLL_STRATEGY=adaptive against the real database and
// queue: the claim, the budget cap and the rest left for the next cycle.
var _ = Describe("Cycle.Run under the adaptive strategy", func() {
	var (
		o      *observed
		cycle  *polling.Cycle
		clock  time.Time
		tick   time.Time
		polled func(id string, at time.Time) ([]string, polling.CycleResult)
	)

	BeforeEach(func(ctx SpecContext) {
		o = newObserved()
		// Every upload seeded is due: a new upload's first poll is the first
		// rung's grid point after its creation, at most one rung from now
		// (plus a minute, for uploads created as a grid point passes).
		clock = time.Now().UTC().Add(specSchedule().Interval(0) + time.Minute)
		cycle = &polling.Cycle{
			DB: gdb, Metrics: o.Metrics, Now: func() time.Time { return clock }, BatchSize: 2,
			StaleAfter: 30 * time.Minute, KeepCycles: 7 * 24 * time.Hour,
			Adaptive: &polling.Adaptive{
				Schedule: specSchedule(), BudgetPerMinute: 2, Lease: 5 * time.Minute,
				Period: func(time.Time) time.Duration { return time.Minute },
			},
		}
		tick = clock.Truncate(time.Minute)
		// Seven due uploads, request ids "1".."7", created in that order.
		seedManyUploads(ctx, 7)
		// polled runs the cron cycle of tick at and returns the request ids
		// it handed on, in order; its batches stay in flight.
		polled = func(id string, at time.Time) ([]string, polling.CycleResult) {
			GinkgoHelper()
			var ids []string
			res, err := cycle.Run(context.Background(), o.Logger, id, at, func(_ context.Context, b polling.Batch) error {
				Expect(len(b.RequestIDs)).To(BeNumerically("<=", 2))
				ids = append(ids, b.RequestIDs...)
				return nil
			})
			Expect(err).NotTo(HaveOccurred())
			return ids, res
		}
	})

	It("hands on its share of the budget, the most overdue first, and leaves the rest due for the next cycle", func() {
		ids, res := polled(polling.CronCycleID(tick), tick)
		Expect(ids).To(Equal([]string{"1", "2", "3", "4"}))
		Expect(res.Batches).To(Equal(polling.CallsPerCycle(2, time.Minute)))
		Expect(res.Capped).To(BeTrue())
		Expect(testutil.ToFloat64(o.Metrics.DocumentsDeferred)).To(Equal(3.0))
		Expect(testutil.ToFloat64(o.Metrics.OldestOverdue)).To(BeNumerically(">", 0))

		// The previous cycle's batches are still in flight: not skipped.
		clock = clock.Add(time.Minute)
		ids, res = polled(polling.CronCycleID(tick.Add(time.Minute)), tick.Add(time.Minute))
		Expect(res.Skipped).To(BeFalse())
		Expect(ids).To(Equal([]string{"5", "6", "7"}))
		Expect(testutil.ToFloat64(o.Metrics.DocumentsDeferred)).To(BeZero())
		Expect(testutil.ToFloat64(o.Metrics.CyclesSkipped)).To(BeZero())

		clock = clock.Add(time.Minute)
		ids, _ = polled(polling.CronCycleID(tick.Add(2*time.Minute)), tick.Add(2*time.Minute))
		Expect(ids).To(BeEmpty(), "every upload is leased to a batch in flight")

		clock = clock.Add(5 * time.Minute) // the first leases ended: those batches never wrote
		ids, _ = polled(polling.CronCycleID(tick.Add(7*time.Minute)), tick.Add(7*time.Minute))
		Expect(ids).To(Equal([]string{"1", "2", "3", "4"}))
	})

	It("hands on everything due in a manual run, within no cap", func() {
		ids, res := polled("manual:spec", tick)
		Expect(ids).To(HaveLen(7))
		Expect(res.Capped).To(BeFalse())
		Expect(res.Batches).To(Equal(4))
	})

	It("quarantines a claimed upload no batch may carry and hands on the rest of its page", func(ctx SpecContext) {
		bad := seedUpload(ctx, "not-a-number", models.DocumentTypeBDDInstructions)
		cycle.Adaptive.BudgetPerMinute = 60

		ids, res := polled(polling.CronCycleID(tick), tick)

		Expect(res.Quarantined).To(Equal(1))
		Expect(ids).To(Equal([]string{"1", "2", "3", "4", "5", "6", "7"}))
		Expect(pollStateOf(ctx, bad.ID).QuarantinedAt).NotTo(BeNil())
	})

	It("deletes cron cycles older than KeepCycles", func(ctx SpecContext) {
		old := tick.Add(-8 * 24 * time.Hour)
		_, err := models.StartCycle(ctx, gdb, polling.CronCycleID(old), old, old, old)
		Expect(err).NotTo(HaveOccurred())

		polled(polling.CronCycleID(tick), tick)

		var n int64
		Expect(gdb.Model(&models.PollingCycle{}).Where("id = ?", polling.CronCycleID(old)).Count(&n).Error).To(Succeed())
		Expect(n).To(BeZero())
	})

	It("walks what a cycle would claim in a dry run, claiming nothing", func(ctx SpecContext) {
		var asked []string
		res, err := cycle.DryRun(ctx, clock, func(_ context.Context, ids []string) error {
			asked = append(asked, ids...)
			return nil
		})
		Expect(err).NotTo(HaveOccurred())
		Expect(res.DocumentsDue).To(Equal(7))
		Expect(asked).To(HaveLen(7))
		var states int64
		Expect(gdb.Model(&models.UploadPollState{}).Count(&states).Error).To(Succeed())
		Expect(states).To(BeZero())
	})
})

// inProgressWithSteps is an IN_PROGRESS status of requestID whose two steps
// are at ce and bgs.
func inProgressWithSteps(requestID string, startMs int64, ce, bgs string) string {
	return fmt.Sprintf(`{"requestId":%s,"time":{"startTime":%d,"endTime":null},"status":"IN_PROGRESS","steps":[`+
		`{"name":"CLAIMS_EVIDENCE","nextStepName":"BENEFITS_GATEWAY_SERVICE","description":"d","status":%q},`+
		`{"name":"BENEFITS_GATEWAY_SERVICE","description":"d","status":%q}]}`, requestID, startMs, ce, bgs)
}

var _ = Describe("StatusUpdater under the adaptive strategy", func() {
	var (
		ctx      context.Context
		o        *observed
		updater  *polling.StatusUpdater
		schedule polling.Schedule
		now      time.Time
		created  time.Time
		upload   models.Lighthouse526DocumentUpload
	)

	BeforeEach(func() {
		ctx = context.Background()
		o = newObserved()
		now = testNow
		updater = newUpdater(o)
		updater.Now = func() time.Time { return now }
		schedule = specSchedule()
		updater.Schedule = &schedule
		created = testNow.Add(-3 * time.Hour) // 3 hours old: every 40 minutes
		upload = seedUpload(ctx, "22", models.DocumentTypeBDDInstructions, func(u *models.Lighthouse526DocumentUpload) { u.CreatedAt = created })
	})

	apply := func(body string) {
		GinkgoHelper()
		_, err := applyAnswer(ctx, updater, o.Logger, "", []string{"22"}, decodeStatuses(body))
		Expect(err).NotTo(HaveOccurred())
	}
	start := ms(testNow.Add(-2 * time.Hour))

	It("schedules the next poll by the upload's age, and remembers the status without counting a first poll as a move", func() {
		apply(statusBody([]string{inProgressWithSteps("22", start, "IN_PROGRESS", "NOT_STARTED")}))

		st := pollStateOf(ctx, upload.ID)
		Expect(st).NotTo(BeNil())
		wantNext, _ := schedule.After(now, created, polling.Seen{}, 0)
		Expect(st.NextPollAt).To(HaveValue(BeTemporally("==", wantNext)))
		Expect(wantNext.Sub(now)).To(BeNumerically("<=", 40*time.Minute))
		Expect(st.StatusChangedAt).To(HaveValue(BeTemporally("~", created, time.Millisecond)))
		digest := polling.StatusDigest("IN_PROGRESS", []lighthouse.Step{
			{Name: "CLAIMS_EVIDENCE", Status: "IN_PROGRESS"}, {Name: "BENEFITS_GATEWAY_SERVICE", Status: "NOT_STARTED"}})
		Expect(st.StatusDigest).To(HaveValue(Equal(int64(digest)))) //nolint:gosec // G115: the stored bits
	})

	It("makes the upload young again when a step moves, and not when only the times are sent again", func() {
		apply(statusBody([]string{inProgressWithSteps("22", start, "IN_PROGRESS", "NOT_STARTED")}))

		now = testNow.Add(41 * time.Minute)
		apply(statusBody([]string{inProgressWithSteps("22", start+1000, "IN_PROGRESS", "NOT_STARTED")}))
		Expect(pollStateOf(ctx, upload.ID).StatusChangedAt).To(HaveValue(BeTemporally("~", created, time.Millisecond)))

		now = testNow.Add(83 * time.Minute)
		apply(statusBody([]string{inProgressWithSteps("22", start, "SUCCESS", "IN_PROGRESS")}))
		st := pollStateOf(ctx, upload.ID)
		Expect(st.StatusChangedAt).To(HaveValue(BeTemporally("==", now)))
		Expect(st.NextPollAt).To(HaveValue(BeTemporally("==", now.Truncate(2*time.Minute).Add(2*time.Minute))))
	})

	It("schedules an upload Lighthouse does not know, and writes none for one that completed", func() {
		done := seedUpload(ctx, "23", models.DocumentTypeBDDInstructions)
		_, err := applyAnswer(ctx, updater, o.Logger, "", []string{"22", "23"},
			decodeStatuses(statusBody([]string{successEntry("23", start, ms(testNow.Add(-time.Hour)))}, "22")))
		Expect(err).NotTo(HaveOccurred())

		st := pollStateOf(ctx, upload.ID)
		Expect(st.UnknownPollCount).To(Equal(1))
		Expect(st.NextPollAt).NotTo(BeNil())
		Expect(st.StatusDigest).To(HaveValue(Equal(int64(polling.StatusDigest("NOT_FOUND", nil))))) //nolint:gosec // G115: likewise
		Expect(reloadUpload(ctx, done.ID).AasmState).To(Equal(models.StateCompleted))
		Expect(pollStateOf(ctx, done.ID)).To(BeNil())
	})

	It("writes no schedule under the fixed strategy", func() {
		updater.Schedule = nil
		apply(statusBody([]string{inProgressWithSteps("22", start, "IN_PROGRESS", "NOT_STARTED")}))
		Expect(pollStateOf(ctx, upload.ID)).To(BeNil())
	})
})
