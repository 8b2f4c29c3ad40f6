package runner_test

import (
	"context"
	"time"

	"github.com/hibiken/asynq"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/robfig/cron/v3"

	"github.com/vagov/lighthouse526/config"
	"github.com/vagov/lighthouse526/polling"
	"github.com/vagov/lighthouse526/runner"
	"github.com/vagov/lighthouse526/tasks"
)

var _ = Describe("Scheduler", func() {
	Describe("PreviousTick", func() {
		var hourly cron.Schedule

		BeforeEach(func() {
			var err error
			hourly, err = config.ParseSchedule("15 * * * *", false, time.Now())
			Expect(err).NotTo(HaveOccurred())
		})

		It("is the latest tick at or before now", func() {
			at := func(h, m int) time.Time { return time.Date(2026, 3, 2, h, m, 0, 0, time.UTC) }
			Expect(runner.PreviousTick(hourly, at(10, 20))).To(Equal(at(10, 15)))
			Expect(runner.PreviousTick(hourly, at(10, 15))).To(Equal(at(10, 15)))
			Expect(runner.PreviousTick(hourly, at(10, 14))).To(Equal(at(9, 15)))
		})

		It("is zero when no tick falls within eight days", func() {
			// config.ParseSchedule refuses it (a gap over a day): the scheduler's
			// safeguard is tested on the bare schedule.
			yearly, err := cron.ParseStandard("CRON_TZ=UTC 0 0 1 1 *")
			Expect(err).NotTo(HaveOccurred())
			Expect(runner.PreviousTick(yearly, time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC))).To(BeZero())
		})

		It("is zero, at once, for a schedule that never fires", func() {
			never, err := cron.ParseStandard("0 0 30 2 *")
			Expect(err).NotTo(HaveOccurred())
			Expect(runner.PreviousTick(never, time.Now())).To(BeZero())
		})
	})

	Context("when its schedule never fires", func() {
		It("stops with an error instead of spinning", func(ctx SpecContext) {
			o := newObserved()
			never, err := cron.ParseStandard("0 0 30 2 *")
			Expect(err).NotTo(HaveOccurred())
			s := &runner.Scheduler{Client: newAsynqClient(), Queue: "unused", Schedule: never, Logger: o.Logger, Now: time.Now}

			Expect(s.Run(ctx)).To(MatchError(runner.ErrScheduleNeverFires))
			Expect(o.Logs.WithMessage("the scheduler stops: its schedule has no next tick")).To(HaveLen(1))
		}, NodeTimeout(10*time.Second))
	})

	Context("when a tick's cycle is enqueued twice", func() {
		It("is refused the second time", func(ctx SpecContext) {
			insp := newInspector()
			client := newAsynqClient()
			queue := newQueue(insp)
			tick := time.Date(2026, 3, 2, 10, 15, 0, 0, time.UTC)
			for i, want := range []error{nil, asynq.ErrTaskIDConflict} {
				task, err := tasks.NewPollingTask(queue, tick)
				Expect(err).NotTo(HaveOccurred())
				_, err = client.EnqueueContext(ctx, task)
				if want == nil {
					Expect(err).NotTo(HaveOccurred(), "enqueue #%d", i+1)
				} else {
					Expect(err).To(MatchError(want), "enqueue #%d", i+1)
				}
			}
		})
	})

	Context("when three replicas start their schedulers together", func() {
		var (
			o        *observed
			queue    string
			insp     *asynq.Inspector
			client   *asynq.Client
			schedule cron.Schedule
		)

		BeforeEach(func() {
			o = newObserved()
			insp = newInspector()
			client = newAsynqClient()
			queue = newQueue(insp)
			var err error
			// Daily, so that no tick but the catch-up falls within the spec.
			schedule, err = config.ParseSchedule("17 3 * * *", false, time.Now())
			Expect(err).NotTo(HaveOccurred())
		})

		It("enqueues the previous tick's cycle once", func(ctx SpecContext) {
			runCtx, stop := context.WithCancel(ctx)
			done := make(chan error, 3)
			for range 3 {
				s := &runner.Scheduler{Client: client, Queue: queue, Schedule: schedule, Logger: o.Logger, Now: time.Now}
				go func() { done <- s.Run(runCtx) }()
			}
			DeferCleanup(func() {
				stop()
				for range 3 {
					Eventually(done).Should(Receive(BeNil()))
				}
			})

			By("waiting until every replica has tried its catch-up")
			enqueued := func() int { return len(o.Logs.WithMessage("enqueued a polling cycle")) }
			conflicts := func() int {
				return len(o.Logs.WithMessage("polling cycle already enqueued by another replica"))
			}
			Eventually(func() int { return enqueued() + conflicts() }).Should(Equal(3))
			Expect(enqueued()).To(Equal(1))

			want := tasks.PollingTaskID(polling.CronCycleID(runner.PreviousTick(schedule, time.Now())))
			Expect(insp.ListPendingTasks(queue)).To(ConsistOf(HaveField("ID", want)))
		})
	})
})
