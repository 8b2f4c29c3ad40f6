package runner_test

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/hibiken/asynq"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vagov/lighthouse526/db/dbtest"
	"github.com/vagov/lighthouse526/models"
	"github.com/vagov/lighthouse526/runner"
	"github.com/vagov/lighthouse526/tasks"
)

// Exhaustion.HandleError as the server's error handler, on a real asynq
// server: it counts a task once, when its last attempt fails or when it is
// archived without retry, and never for an attempt that will be retried.
var _ = Describe("Exhaustion", func() {
	var (
		o        *observed
		queue    string
		insp     *asynq.Inspector
		client   *asynq.Client
		attempts atomic.Int32
		fail     error
	)

	exhausted := func(taskType string) func() float64 {
		return func() float64 { return testutil.ToFloat64(o.Tasks.PollExhausted.WithLabelValues(taskType)) }
	}

	// serve runs an asynq server whose handlers always fail with fail.
	serve := func(prefix string) {
		ex := &runner.Exhaustion{
			Redis: rdb, KeyPrefix: prefix, DB: gdb, Metrics: o.Tasks, Polling: o.Metrics, Logger: o.Logger,
			Now: func() time.Time { return time.Now().UTC() },
		}
		failing := asynq.HandlerFunc(func(context.Context, *asynq.Task) error {
			attempts.Add(1)
			return fail
		})
		mux := asynq.NewServeMux()
		mux.Handle(tasks.TypeStatusBatch, failing)
		mux.Handle("form526:other", failing)
		srv := asynq.NewServer(asynq.RedisClientOpt{Addr: dbtest.RedisAddr(), DB: rdb.Options().DB}, asynq.Config{
			Concurrency:              1,
			Queues:                   map[string]int{queue: 1},
			RetryDelayFunc:           func(int, error, *asynq.Task) time.Duration { return 0 },
			ErrorHandler:             asynq.ErrorHandlerFunc(ex.HandleError),
			DelayedTaskCheckInterval: 100 * time.Millisecond,
			Logger:                   runner.AsynqLogger(slog.New(slog.DiscardHandler)),
			LogLevel:                 asynq.FatalLevel,
		})
		Expect(srv.Start(mux)).To(Succeed())
		DeferCleanup(srv.Shutdown)
	}

	// enqueueBatch enqueues the first batch of a fresh cycle, with maxRetry.
	enqueueBatch := func(ctx context.Context, maxRetry int) (string, string) {
		cycleID := "spec:" + randomHex(4)
		_, err := models.StartCycle(ctx, gdb, cycleID, time.Now(), time.Now(), time.Now())
		Expect(err).NotTo(HaveOccurred())
		task, err := tasks.NewStatusBatchTask(queue, cycleID, 0, []string{"1", "2"})
		Expect(err).NotTo(HaveOccurred())
		info, err := client.EnqueueContext(ctx, task, asynq.MaxRetry(maxRetry))
		Expect(err).NotTo(HaveOccurred())
		return info.ID, cycleID
	}

	BeforeEach(func() {
		o = newObserved()
		insp = newInspector()
		client = newAsynqClient()
		queue = newQueue(insp)
		attempts.Store(0)
		prefix := "tasks-test:" + randomHex(6) + ":"
		DeferCleanup(deleteKeys, prefix)
		fail = errors.New("lighthouse: uploads_status: 503")
		serve(prefix)
	})

	Context("when a batch fails on every attempt", func() {
		It("counts nothing while retries are left, then counts it once and marks its batch done", func(ctx SpecContext) {
			id, cycleID := enqueueBatch(ctx, 2)
			Eventually(exhausted(tasks.TypeStatusBatch)).WithTimeout(20 * time.Second).Should(Equal(1.0))
			Expect(attempts.Load()).To(Equal(int32(3)))
			Expect(o.Logs.WithMessage(msgRetriesExhausted)).To(ConsistOf(SatisfyAll(
				HaveKeyWithValue("job_id", id),
				HaveKeyWithValue("task_type", tasks.TypeStatusBatch),
				HaveKeyWithValue("error_message", ContainSubstring("503")),
			)))
			Eventually(func() (*asynq.TaskInfo, error) { return insp.GetTaskInfo(queue, id) }).
				Should(HaveField("State", asynq.TaskStateArchived))
			Eventually(func() (models.PollingCycle, error) {
				var c models.PollingCycle
				return c, gdb.WithContext(ctx).Take(&c, "id = ?", cycleID).Error
			}).Should(HaveField("BatchesDone", 1))
		})
	})

	Context("when a batch fails permanently", func() {
		BeforeEach(func() {
			fail = errors.Join(errors.New("lighthouse: uploads_status: 400"), asynq.SkipRetry)
		})

		It("counts the task once at its first attempt, as the worker's own: its cycle's retries did not run out", func(ctx SpecContext) {
			id, _ := enqueueBatch(ctx, 6)
			Eventually(exhausted(tasks.TypeStatusBatch)).WithTimeout(10 * time.Second).Should(Equal(1.0))
			Expect(attempts.Load()).To(Equal(int32(1)))
			Expect(o.Logs.WithMessage(msgTaskFailedPermanently)).To(ConsistOf(HaveKeyWithValue("job_id", id)))
			Expect(o.Logs.WithMessage(msgRetriesExhausted)).To(BeEmpty())
			Consistently(exhausted(tasks.TypeStatusBatch)).WithTimeout(time.Second).Should(Equal(1.0))
		})
	})

	Context("when a task of another product is archived", func() {
		It("counts nothing", func(ctx SpecContext) {
			info, err := client.EnqueueContext(ctx, asynq.NewTask("form526:other", nil), asynq.Queue(queue), asynq.MaxRetry(0))
			Expect(err).NotTo(HaveOccurred())
			Eventually(func() (asynq.TaskState, error) {
				ti, err := insp.GetTaskInfo(queue, info.ID)
				if err != nil {
					return 0, err
				}
				return ti.State, nil
			}).WithTimeout(10 * time.Second).Should(Equal(asynq.TaskStateArchived))
			Expect(exhausted("form526:other")()).To(BeZero())
			Expect(o.Logs.WithMessage(msgRetriesExhausted)).To(BeEmpty())
		})
	})
})
