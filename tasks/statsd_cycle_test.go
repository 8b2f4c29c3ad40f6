package tasks_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vagov/lighthouse526/db/dbtest"
	"github.com/vagov/lighthouse526/lighthouse"
	"github.com/vagov/lighthouse526/lighthouse/fake"
	"github.com/vagov/lighthouse526/models"
	"github.com/vagov/lighthouse526/polling"
	"github.com/vagov/lighthouse526/runner"
	"github.com/vagov/lighthouse526/tasks"
	"github.com/vagov/lighthouse526/vagov/statsd/statsdtest"
)

// The cycle gauges: documents due at the cycle's start, sent when it starts,
// before its first call to Lighthouse (original-system.md, "Metrics"), and
// what its batches marked completed and failed, sent once when its last
// batch finishes.
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

		It("sends the due count at the start, and the others once, when the last batch finishes, with that cycle's figures", func(ctx SpecContext) {
			batches := fanOut(ctx)
			Expect(batches).To(HaveLen(3))
			Eventually(gaugeLines(agent, o)).Should(ConsistOf(gaugeLine("polled", 5)))

			for _, b := range batches[:2] {
				Expect(handler.ProcessTask(ctx, b)).To(Succeed())
				Consistently(gaugeLines(agent, o)).WithTimeout(300 * time.Millisecond).Should(ConsistOf(gaugeLine("polled", 5)))
			}
			Expect(handler.ProcessTask(ctx, batches[2])).To(Succeed())

			expectGauges(agent, []*observed{o}, 5, 3, 1)
			Expect(agent.Lines()).To(ContainElements(
				sdDoc+"veteran_upload.complete:1|c"+sdTags,
				sdDoc+"veteran_upload.failed.claims_evidence:1|c"+sdTags,
			))

			By("a retried fan-out or batch of the finished cycle sends nothing more")
			Expect(fanOut(ctx)).To(BeEmpty())
			Expect(handler.ProcessTask(ctx, batches[2])).To(Succeed())
			expectGauges(agent, []*observed{o}, 5, 3, 1)
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

			expectGauges(agent, []*observed{o}, 3, 1, 2)
		})
	})

	Context("when the cycle starts", func() {
		It("sends pending_documents_polled before Lighthouse sees its first call", func(ctx SpecContext) {
			seedOutcomes(ctx, fake.StatusSuccess, fake.StatusFailed, fake.StatusInProgress)
			// Lighthouse as the worker reaches it, through a front that notes
			// what the agent had received when the first status call came.
			polledKey := sdGauges + "polled"
			var atFirstCall []string
			var once sync.Once
			front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == fake.APIPrefix+"/uploads/status" {
					once.Do(func() {
						// The gauge was sent before the call: let the agent's
						// socket read it (a Gomega of its own: not the spec's
						// goroutine).
						g := NewGomega(func(string, ...int) {})
						g.Eventually(func() []string { return agent.LinesWithPrefix(polledKey) }).Should(Not(BeEmpty()))
						atFirstCall = agent.LinesWithPrefix(polledKey)
					})
				}
				lh.Fake.ServeHTTP(w, r)
			}))
			DeferCleanup(front.Close)
			cfg := lh.Config
			cfg.BaseURL, cfg.TokenURL = front.URL+fake.APIPrefix, front.URL+fake.TokenPath
			fronted, err := lighthouse.NewClient(cfg, rdb)
			Expect(err).NotTo(HaveOccurred())
			handler.Poller.Lighthouse = fronted

			_, err = cycle.Run(ctx, o.Logger, id, tick, func(ctx context.Context, b polling.Batch) error {
				_, err := handler.Poller.Poll(ctx, o.Logger, id, b.RequestIDs, true)
				return err
			})
			Expect(err).NotTo(HaveOccurred())

			Expect(lh.StatusCalls()).To(BeNumerically(">", 0))
			Expect(atFirstCall).To(ConsistOf(gaugeLine("polled", 3)))
			expectGauges(agent, []*observed{o}, 3, 1, 1)
		})
	})

	Context("when nothing is due", func() {
		It("sends zeros, as the original did", func(ctx SpecContext) {
			Expect(fanOut(ctx)).To(BeEmpty())

			expectGauges(agent, []*observed{o}, 0, 0, 0)
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
			Consistently(gaugeLines(agent, o)).WithTimeout(300 * time.Millisecond).Should(BeEmpty())
		})
	})
})

// Two replicas, each an asynq server with its own StatsD client, run one
// cycle's batches at once: whichever finishes the cycle sends its gauges,
// and only one does; a cycle whose retries ran out is counted once.
var _ = Describe("StatsD on replicas", func() {
	var (
		agent  *statsdtest.Listener
		lh     *lighthouseEnv
		queue  string
		client *asynq.Client
		tick   time.Time
		id     string
		// prefix is the replicas' shared Redis key prefix (one REDIS_KEY_PREFIX
		// setting in production), where the exhaustion markers live.
		prefix string
	)

	// replica starts an asynq server on the spec's queue running the real
	// batch handler and exhaustion handler, with metrics of its own.
	replica := func() *observed {
		o := newObserved()
		sendStatsDTo(o, agent)
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
		prefix = "tasks-test:" + randomHex(6) + ":"
		DeferCleanup(deleteKeys, prefix)
	})

	// runCycleWith fans a cron cycle out into batch tasks of size
	// batchSize, handed on by dispatch.
	runCycleWith := func(ctx context.Context, o *observed, batchSize int, dispatch polling.Dispatch) {
		cycle := &polling.Cycle{
			DB: gdb, Metrics: o.Metrics,
			Now: func() time.Time { return time.Now().UTC() }, BatchSize: batchSize,
			Window: time.Hour, Grace: 5 * time.Minute, StaleAfter: 30 * time.Minute,
		}
		_, err := cycle.Run(ctx, o.Logger, id, tick, dispatch)
		Expect(err).NotTo(HaveOccurred())
	}

	// runCycle fans a cron cycle out into batch tasks as the worker does.
	runCycle := func(ctx context.Context, o *observed, batchSize int) {
		runCycleWith(ctx, o, batchSize, tasks.EnqueueBatches(client, queue, id))
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

			expectGauges(agent, []*observed{a, b}, 10, 6, 3)
		})
	})

	Context("when every batch of a cycle runs out of retries on two replicas", func() {
		It("counts exhausted once for the cycle, and logs the original's line once", func(ctx SpecContext) {
			for range 4 {
				seedUpload(ctx, lh.Fake.AddDocument(fake.Document{Outcome: fake.StatusSuccess}), models.DocumentTypeVeteranUpload)
			}
			lh.Fake.SetFaults(fake.Faults{ErrorRate: 1, StatusCodes: []int{503}, ErrorShapes: []string{fake.ShapeGateway}})
			a, b := replica(), replica()

			// Batches of one upload, with no retry left: each 503 exhausts
			// its task at once.
			runCycleWith(ctx, a, 1, func(ctx context.Context, batch polling.Batch) error {
				t, err := tasks.NewStatusBatchTask(queue, id, batch.Seq, batch.RequestIDs)
				if err != nil {
					return err
				}
				_, err = client.EnqueueContext(ctx, t, asynq.MaxRetry(0))
				return err
			})
			Eventually(cycleDone(ctx)).WithTimeout(30 * time.Second).Should(BeTrue())
			perTask := func() float64 {
				return testutil.ToFloat64(a.Tasks.PollExhausted.WithLabelValues(tasks.TypeStatusBatch)) +
					testutil.ToFloat64(b.Tasks.PollExhausted.WithLabelValues(tasks.TypeStatusBatch))
			}
			Eventually(perTask).Should(Equal(4.0))

			flushBoth := func() {
				Expect(a.Metrics.StatsD.Flush()).To(Succeed())
				Expect(b.Metrics.StatsD.Flush()).To(Succeed())
			}
			Eventually(func() int { flushBoth(); return sumOf(agent, sdJob+"exhausted") }).Should(Equal(1))
			Consistently(func() int { flushBoth(); return sumOf(agent, sdJob+"exhausted") }).WithTimeout(500 * time.Millisecond).Should(Equal(1))
			Expect(sumOf(agent, sdJob+"polling_error")).To(BeZero())
			Expect(sumOf(agent, sdRequestFailed)).To(Equal(4))

			logs := func(msg string) []map[string]any {
				return append(a.Logs.WithMessage(msg), b.Logs.WithMessage(msg)...)
			}
			Expect(logs(msgRetriesExhausted)).To(ConsistOf(HaveKeyWithValue("cycle_id", id)))
			Expect(logs(msgTaskExhaustedAgain)).To(HaveLen(3))
		})
	})

	Context("when the cycle's last batch fails for good", func() {
		It("counts the polling error, no exhausted cycle (its retries did not run out), and the archive finishes the cycle", func(ctx SpecContext) {
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
				gaugeLine("polled", 2),
				gaugeLine("marked_completed", 0),
				gaugeLine("marked_failed", 0),
			))
			Expect(o.Logs.WithMessage(msgTaskFailedPermanently)).To(HaveLen(1))
			Expect(o.Logs.WithMessage(msgRetriesExhausted)).To(BeEmpty())
		})
	})
})
