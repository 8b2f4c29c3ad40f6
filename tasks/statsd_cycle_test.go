package tasks_test

import (
	"context"
	"time"

	"github.com/hibiken/asynq"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/vagov/lighthouse526/db/dbtest"
	"github.com/vagov/lighthouse526/lighthouse/fake"
	"github.com/vagov/lighthouse526/models"
	"github.com/vagov/lighthouse526/polling"
	"github.com/vagov/lighthouse526/runner"
	"github.com/vagov/lighthouse526/tasks"
	"github.com/vagov/lighthouse526/vagov/statsd/statsdtest"
)

// The cycle gauges: documents due at the cycle's start, and what its batches
// marked completed and failed, sent once when its last batch finishes.
var _ = Describe("StatsD gauges of a cycle", func() {
	var (
		o       *observed
		agent   *statsdtest.Listener
		lh      *lighthouseEnv
		cycle   *polling.Cycle
		handler *tasks.StatusBatchHandler
		tick    time.Time
		id      string
	)

	BeforeEach(func(ctx SpecContext) {
		o = newObserved()
		agent = listenStatsD()
		sendStatsDTo(o, agent)
		lh = startLighthouse(fake.Options{})
		handler = &tasks.StatusBatchHandler{Poller: &polling.BatchPoller{Lighthouse: lh.Client, Updater: newUpdater(o)}, Metrics: o.Types, Logger: o.Logger}
		cycle = &polling.Cycle{
			DB: gdb, Metrics: o.Metrics,
			Now: func() time.Time { return time.Now().UTC() }, BatchSize: 2,
			Window: time.Hour, Grace: 5 * time.Minute, StaleAfter: 30 * time.Minute,
		}
		tick = time.Now().UTC().Truncate(time.Hour).Add(-3 * time.Hour)
		id = polling.CronCycleID(tick)
	})

	// seedOutcomes seeds one due upload per outcome, in id order.
	seedOutcomes := func(ctx context.Context, outcomes ...string) {
		for _, outcome := range outcomes {
			seedUpload(ctx, lh.Fake.AddDocument(fake.Document{Outcome: outcome}), models.DocumentTypeVeteranUpload)
		}
	}

	// fanOut runs the cycle's fan-out and returns its batches as tasks,
	// without running them.
	fanOut := func(ctx context.Context) []*asynq.Task {
		var out []*asynq.Task
		_, err := cycle.Run(ctx, o.Logger, id, tick, func(_ context.Context, b polling.Batch) error {
			t, err := tasks.NewStatusBatchTask("tasks-test", id, b.Seq, b.RequestIDs)
			out = append(out, t)
			return err
		})
		Expect(err).NotTo(HaveOccurred())
		return out
	}

	Context("when a cycle of three batches runs its batches after the fan-out", func() {
		BeforeEach(func(ctx SpecContext) {
			seedOutcomes(ctx, fake.StatusSuccess, fake.StatusFailed, fake.StatusSuccess,
				fake.StatusInProgress, fake.StatusSuccess)
		})

		It("sends them once, when the last batch finishes, with that cycle's figures", func(ctx SpecContext) {
			batches := fanOut(ctx)
			Expect(batches).To(HaveLen(3))

			for _, b := range batches[:2] {
				Expect(handler.ProcessTask(ctx, b)).To(Succeed())
				Expect(o.Metrics.StatsD.Flush()).To(Succeed())
				Consistently(gaugeLines(agent)).WithTimeout(300 * time.Millisecond).Should(BeEmpty())
			}
			Expect(handler.ProcessTask(ctx, batches[2])).To(Succeed())
			Expect(o.Metrics.StatsD.Flush()).To(Succeed())

			expectGauges(agent, 5, 3, 1)
			Expect(agent.Lines()).To(ContainElements(
				sdDoc+"veteran_upload.complete:1|c"+sdTags,
				sdDoc+"veteran_upload.failed.claims_evidence:1|c"+sdTags,
			))

			By("a retried fan-out or batch of the finished cycle sends nothing more")
			Expect(fanOut(ctx)).To(BeEmpty())
			Expect(handler.ProcessTask(ctx, batches[2])).To(Succeed())
			Expect(o.Metrics.StatsD.Flush()).To(Succeed())
			expectGauges(agent, 5, 3, 1)
			var sentAt *time.Time
			Expect(gdb.Raw(`SELECT gauges_sent_at FROM lighthouse526_polling_cycles WHERE id = ?`, id).Scan(&sentAt).Error).To(Succeed())
			Expect(sentAt).NotTo(BeNil())
		})
	})

	Context("when every batch finishes before the fan-out does (worker poll --now)", func() {
		It("the fan-out sends them", func(ctx SpecContext) {
			seedOutcomes(ctx, fake.StatusFailed, fake.StatusFailed, fake.StatusSuccess)
			_, err := cycle.Run(ctx, o.Logger, id, tick, func(ctx context.Context, b polling.Batch) error {
				_, err := handler.Poller.Poll(ctx, o.Logger, id, b.RequestIDs, true)
				return err
			})
			Expect(err).NotTo(HaveOccurred())
			Expect(o.Metrics.StatsD.Flush()).To(Succeed())

			expectGauges(agent, 3, 1, 2)
		})
	})

	Context("when nothing is due", func() {
		It("sends zeros, as the original did", func(ctx SpecContext) {
			Expect(fanOut(ctx)).To(BeEmpty())
			Expect(o.Metrics.StatsD.Flush()).To(Succeed())

			expectGauges(agent, 0, 0, 0)
		})
	})

	Context("when the batch is a poll-now task's", func() {
		It("sends the documents' counters but no gauges", func(ctx SpecContext) {
			seedOutcomes(ctx, fake.StatusSuccess)
			adhoc := polling.AdHocCycleID("spec")
			row, err := models.StartCycle(ctx, gdb, adhoc, testNow, testNow, testNow)
			Expect(err).NotTo(HaveOccurred())
			Expect(models.AdvanceCycle(ctx, gdb, row, 0, 1, 1, testNow)).To(Succeed())
			Expect(models.FinishFanOut(ctx, gdb, row, testNow)).To(Succeed())

			t, err := tasks.NewStatusBatchTask("tasks-test", adhoc, 0, []string{"1"})
			Expect(err).NotTo(HaveOccurred())
			Expect(handler.ProcessTask(ctx, t)).To(Succeed())

			Eventually(flushedLines(o, agent)).Should(ConsistOf(sdDoc + "veteran_upload.complete:1|c" + sdTags))
			Consistently(gaugeLines(agent)).WithTimeout(300 * time.Millisecond).Should(BeEmpty())
		})
	})
})

// Two replicas, each an asynq server with its own StatsD client, run one
// cycle's batches at once: whichever finishes the cycle sends its gauges,
// and only one does.
var _ = Describe("StatsD on replicas", func() {
	var (
		agent  *statsdtest.Listener
		lh     *lighthouseEnv
		queue  string
		client *asynq.Client
		tick   time.Time
		id     string
	)

	// replica starts an asynq server on the spec's queue running the real
	// batch handler and exhaustion handler, with metrics of its own.
	replica := func() *observed {
		o := newObserved()
		sendStatsDTo(o, agent)
		prefix := "tasks-test:" + randomHex(6) + ":"
		DeferCleanup(deleteKeys, prefix)
		now := func() time.Time { return time.Now().UTC() }
		updater := newUpdater(o)
		updater.Now = now
		ex := &runner.Exhaustion{Redis: rdb, KeyPrefix: prefix, DB: gdb, Metrics: o.Tasks, Polling: o.Metrics, Logger: o.Logger, Now: now}
		mux := asynq.NewServeMux()
		mux.Handle(tasks.TypeStatusBatch, &tasks.StatusBatchHandler{Poller: &polling.BatchPoller{Lighthouse: lh.Client, Updater: updater}, Metrics: o.Types, Logger: o.Logger})
		srv := asynq.NewServer(asynq.RedisClientOpt{Addr: dbtest.RedisAddr(), DB: rdb.Options().DB}, asynq.Config{
			Concurrency:    2,
			Queues:         map[string]int{queue: 1},
			IsFailure:      runner.IsFailure,
			RetryDelayFunc: runner.RetryDelay,
			ErrorHandler:   asynq.ErrorHandlerFunc(ex.HandleError),
			Logger:         runner.AsynqLogger(o.Logger),
			LogLevel:       asynq.FatalLevel,
		})
		Expect(srv.Start(mux)).To(Succeed())
		DeferCleanup(srv.Shutdown)
		return o
	}

	BeforeEach(func() {
		agent = listenStatsD()
		lh = startLighthouse(fake.Options{})
		insp := newInspector()
		client = newAsynqClient()
		queue = newQueue(insp)
		tick = time.Now().UTC().Truncate(time.Hour).Add(-3 * time.Hour)
		id = polling.CronCycleID(tick)
	})

	// runCycle fans a cron cycle out into batch tasks of size batchSize.
	runCycle := func(ctx context.Context, o *observed, batchSize int) {
		cycle := &polling.Cycle{
			DB: gdb, Metrics: o.Metrics,
			Now: func() time.Time { return time.Now().UTC() }, BatchSize: batchSize,
			Window: time.Hour, Grace: 5 * time.Minute, StaleAfter: 30 * time.Minute,
		}
		_, err := cycle.Run(ctx, o.Logger, id, tick, tasks.EnqueueBatches(client, queue, id))
		Expect(err).NotTo(HaveOccurred())
	}

	cycleDone := func(ctx context.Context) func() bool {
		return func() bool {
			var c models.PollingCycle
			Expect(gdb.WithContext(ctx).Take(&c, "id = ?", id).Error).To(Succeed())
			return c.FanOutDoneAt != nil && c.BatchesDone >= c.BatchesEnqueued
		}
	}

	Context("when ten single-upload batches run on two replicas at once", func() {
		It("sends the cycle's gauges once", func(ctx SpecContext) {
			outcomes := []string{
				fake.StatusSuccess, fake.StatusSuccess, fake.StatusFailed, fake.StatusSuccess, fake.StatusInProgress,
				fake.StatusSuccess, fake.StatusFailed, fake.StatusSuccess, fake.StatusSuccess, fake.StatusFailed,
			}
			for _, outcome := range outcomes {
				seedUpload(ctx, lh.Fake.AddDocument(fake.Document{Outcome: outcome}), models.DocumentTypeForm0781)
			}
			a, b := replica(), replica()

			runCycle(ctx, a, 1)
			Eventually(cycleDone(ctx)).WithTimeout(30 * time.Second).Should(BeTrue())
			Expect(a.Metrics.StatsD.Flush()).To(Succeed())
			Expect(b.Metrics.StatsD.Flush()).To(Succeed())

			expectGauges(agent, 10, 6, 3)
		})
	})

	Context("when the cycle's last batch fails for good", func() {
		It("counts the polling error and the exhausted task, and the exhaustion finishes the cycle", func(ctx SpecContext) {
			seedUpload(ctx, lh.Fake.AddDocument(fake.Document{Outcome: fake.StatusSuccess}), models.DocumentTypeVeteranUpload)
			seedUpload(ctx, lh.Fake.AddDocument(fake.Document{Outcome: fake.StatusSuccess}), models.DocumentTypeVeteranUpload)
			// 403 is permanent for the whole call (a 400 would be asked
			// again in parts, to find an id Lighthouse refuses).
			lh.Fake.SetFaults(fake.Faults{Next: []fake.Fault{{Endpoint: "uploads_status", Status: 403, Shape: fake.ShapeGateway}}})
			o := replica()

			runCycle(ctx, o, 10)
			Eventually(cycleDone(ctx)).WithTimeout(30 * time.Second).Should(BeTrue())

			Eventually(flushedLines(o, agent)).Should(ConsistOf(
				sdJob+"polling_error:1|c"+sdTags,
				sdJob+"exhausted:1|c"+sdTags,
				sdGauges+"polled:2|g"+sdTags,
				sdGauges+"marked_completed:0|g"+sdTags,
				sdGauges+"marked_failed:0|g"+sdTags,
			))
		})
	})
})
